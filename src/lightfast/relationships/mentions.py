"""Mentions of other documents in a document's text: GitHub issues, pull requests and commits, Linear
issues, Sentry issues, Zendesk tickets, Vercel deployments and Notion pages, each with the kind of edge
its sentence gives it ("fixes", "blocked by", ...; ``mentions`` otherwise).

Every pattern is a single pass with bounded repetitions and no nested quantifiers, so each runs in time
linear in the text; the text examined and the mentions kept are bounded as well (``MAX_TEXT_CHARS``,
``MAX_MENTIONS``). Patterns run from the most specific (a URL) to the least (a bare sha), and a span one
pattern took is not looked at again: the commit inside a GitHub URL is not a second, bare mention.

Choices about ambiguous text (the benchmark in bench/relationships.py measures them):

* ``#123`` is a GitHub issue only when the document has a repository (a GitHub document, a deployment
  of a repository) and is a Zendesk ticket only when a word before it says ticket; otherwise nothing.
* A bare commit sha must be lowercase hex with a digit and a letter in it; a 40-hex one counts anywhere,
  a shorter one only after a word that speaks of commits (commit, sha, revision, release, deploy, fixed
  in, reverts, pushed, ...) or in a range (``abc1234..def5678``). Never inside a UUID or a longer run
  of letters and digits, never after ``#`` (a colour), never after a checksum's name (``sha512-``,
  ``integrity``, ``md5``), never of length 32 or 64 (md5 and sha256 digests), and never in a lockfile.
* ``ABC-123`` is a Linear issue unless its key is a well-known non-issue prefix (UTF-8, SHA-256,
  ISO-8601, RFC-7231, CVE-...). A suffix mixing letters and digits (``PROJ-1A2B``) is a Sentry short id;
  an all-digit one is Sentry's only right after the word Sentry (a Sentry document names Linear issues
  too), an all-letter one (``WEB-K``) after that word or in a Sentry document.
* ``#123456`` on a line of colours, after a colour word or before a CSS ``;`` is a colour, not an issue.
* Tickets: ``#7890`` after a ticket word (ticket, case, request but not pull request, Zendesk) and
  ``zen:ticket:7890``, the subject of Zendesk's own events.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator
from dataclasses import dataclass

from lightfast.relationships.model import (
    BLOCKED_BY,
    BLOCKS,
    DEPENDS_ON,
    DUPLICATES,
    FIXED_BY,
    FIXES,
    GITHUB,
    GITHUB_COMMIT,
    LINEAR,
    MAX_EVIDENCE,
    MENTIONS,
    NOTION,
    RELATES_TO,
    SENTRY,
    VERCEL,
    ZENDESK,
    Edge,
    Target,
)

MAX_TEXT_CHARS = 200_000  # the start of a longer document is read; what links is nearly always there
MAX_MENTIONS = 200  # per document, after duplicates are merged
# Occurrences looked at, repeats included: a text repeating one key a hundred thousand times costs no more
# than this many.
MAX_RAW_MENTIONS = 5_000
_WINDOW = 48  # characters before a mention where the words giving its kind are looked for

LOCKFILE_NAMES = frozenset(
    {
        "package-lock.json",
        "npm-shrinkwrap.json",
        "yarn.lock",
        "pnpm-lock.yaml",
        "poetry.lock",
        "pipfile.lock",
        "uv.lock",
        "cargo.lock",
        "go.sum",
        "gemfile.lock",
        "composer.lock",
        "pubspec.lock",
        "flake.lock",
    }
)


@dataclass(frozen=True)
class Context:
    """What the text alone does not say: the repository ``#123`` refers to, the source of the document
    (a Sentry document's ``PROJ-123`` is a Sentry id), its path (lockfiles have no commits to speak of)."""

    repo: str | None = None  # "owner/repo"
    source_type: str | None = None
    path: str | None = None

    @property
    def is_lockfile(self) -> bool:
        return bool(self.path) and self.path.rsplit("/", 1)[-1].lower() in LOCKFILE_NAMES  # type: ignore[union-attr]


@dataclass(frozen=True)
class Mention:
    target: Target
    start: int
    end: int


# -- patterns --------------------------------------------------------------------------------------

_OWNER = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})"
_REPO = r"[A-Za-z0-9._-]{1,100}"
_GITHUB_URL = re.compile(
    rf"https?://(?:www\.)?github\.com/({_OWNER})/({_REPO})/"
    r"(?:(?:issues|pull)/(\d{1,9})(?:/commits/([0-9a-fA-F]{7,40}))?|commits?/([0-9a-fA-F]{7,40}))"
)
_GITHUB_REF = re.compile(rf"(?<![\w/.@-])({_OWNER})/({_REPO})#(\d{{1,9}})\b")
_LINEAR_URL = re.compile(
    r"https?://linear\.app/[A-Za-z0-9_-]{1,64}/issue/([A-Za-z][A-Za-z0-9]{0,9}-\d{1,7})\b"
)
_SENTRY_URL = re.compile(
    r"https?://(?:[a-z0-9-]{1,64}\.)?sentry\.io/(?:organizations/[a-z0-9_-]{1,64}/)?issues/(\d{1,20})\b"
)
_ZENDESK_EVENT = re.compile(r"\bzen:ticket:(\d{1,12})\b")  # the subject of Zendesk's own event deliveries
_ZENDESK_URL = re.compile(r"https?://[a-z0-9-]{1,63}\.zendesk\.com/agent/tickets/(\d{1,12})\b")
_VERCEL_URL = re.compile(
    r"https?://((?:[a-z0-9](?:[a-z0-9-]{0,62})\.)?[a-z0-9][a-z0-9-]{0,62}\.vercel\.app)\b"
)
_VERCEL_ID = re.compile(r"(?<![\w-])(dpl_[A-Za-z0-9]{8,40})\b")
_NOTION_URL = re.compile(
    r"https?://(?:www\.)?(?:[a-z0-9-]{1,64}\.)?notion\.(?:so|site)/[^\s)\]>\"']{0,300}?"
    r"([0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})(?![0-9a-f])"
)
# An issue key: a team key (a letter, then letters or digits) and a number, or for Sentry a project slug
# (with dashes) and a base-32 suffix. Not inside a longer word or a dashed chain (CVE-2024-1234).
_ISSUE_KEY = re.compile(
    r"(?<![\w-])([A-Z][A-Z0-9]{1,9}(?:-[A-Z][A-Z0-9]{0,19}){0,3})-([0-9A-Z]{1,8})(?![\w-])"
)
_HASH_NUMBER = re.compile(r"(?<![\w&/#])#(\d{1,9})\b")
_SHA = re.compile(r"(?<![\w#-])([0-9a-f]{7,40})(?![\w-])")

# Standards and encodings written like an issue key ("UTF-8", "SHA-256", "RFC-7231"): never Linear issues.
_NOT_ISSUE_KEYS = frozenset(
    (
        "UTF",
        "UTF8",
        "UTF16",
        "SHA",
        "SHA1",
        "SHA2",
        "SHA3",
        "ISO",
        "RFC",
        "CVE",
        "CWE",
        "GHSA",
        "HTTP",
        "HTTPS",
        "TLS",
        "SSL",
        "AES",
        "RSA",
        "ECDSA",
        "MD",
        "MD5",
        "GPT",
        "PEP",
        "ECMA",
        "ES",
        "IPV",
        "IEEE",
        "ANSI",
        "ASCII",
        "COVID",
        "SARS",
        "MP",
        "PCI",
        "SOC",
        "HIPAA",
        "X86",
        "ARM64",
        "AMD64",
        "WIN32",
        "GZIP",
        "BASE64",
        "CRC",
        "SQL",
        "JSON",
        "YAML",
        "HTML",
        "CSS",
        "OAUTH",
        "OAUTH2",
        "H2",
        "HTTP2",
        "HTTP3",
        "TCP",
        "UDP",
        "DNS",
        "ID",
    )
)
# "Sentry API-123", "Sentry issue: WEB-K": the word right before the key, a word or two between at most.
_SENTRY_WORD = re.compile(r"\bsentry(?:\s+[a-z]+){0,2}\s*:?\s*$", re.IGNORECASE)
_TICKET_WORDS = re.compile(
    r"(?:\bticket|\bzendesk|\bzd|\b(?<!pull\s)request|\bcase)s?\s*(?:no\.?|number|nr\.?)?\s*:?\s*"
    r"(?:#\d{1,9}\s*(?:,|and|&)\s*){0,8}$",
    re.IGNORECASE,
)
_COLOUR_WORDS = re.compile(r"(?:colou?r|background|fill|stroke|border|rgb)[\w-]*\s*[:=]?\s*[\"']?$", re.I)
_COMMIT_WORDS = re.compile(
    r"(?:\bcommit(?:s|ted)?|\bsha|\brev(?:ision)?|\brelease[ds]?|\bdeploy(?:s|ed|ing|ment)?|\bbuild|"
    r"\bcherry-pick(?:ed)?|\brevert(?:s|ed)?|\bmerged?|\b(?:fixed|landed|introduced|shipped|broken|"
    r"regressed|seen|first\s+seen)\s+(?:in|by|with|at)|\bhead|\bat|\bref|\bpush(?:ed)?|\bhotfix|"
    r"\bpatch|\btag(?:ged)?)\b[^.\n]{0,24}$",
    re.IGNORECASE,
)
_CHECKSUM_WORDS = re.compile(
    r"(?:sha(?:1|224|256|384|512)|md5|integrity|checksum|digest|hash)[-:= \"']*$", re.I
)


# -- edge kinds from the words before a mention ------------------------------------------------------

# "Fixed by deployment dpl_...", "blocked by the Sentry issue API-1A2B": what the mention is may be named
# between the verb and it.
_NOUN = (
    r"(?:\s+(?:the|a|this|our)?\s*(?:linear|github|sentry|zendesk|vercel|notion)?\s*"
    r"(?:commit|deployment|deploy|pr|pull\s+request|release|issue|ticket|change|build|page|error))?"
)
_KIND_RULES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern + _NOUN + r"\s*:?\s*$", re.IGNORECASE), kind)
    for pattern, kind in (
        (r"\b(?:fix(?:e[sd])?|close[sd]?|resolve[sd]?)\s+(?:by|in|with|via)", FIXED_BY),
        (r"\b(?:fix(?:es|ed|ing)?|clos(?:es?|ed|ing)|resolv(?:es?|ed|ing))", FIXES),
        (r"\bblocked\s+(?:by|on)", BLOCKED_BY),
        (r"\bblock(?:s|ing)?", BLOCKS),
        (r"\bdepend(?:s|ing|ed)?\s+(?:up)?on|\bdependency(?:\s+on)?|\brequires", DEPENDS_ON),
        (r"\bduplicates?(?:\s+of)?|\bdupe\s+of|\bduplicated\s+by", DUPLICATES),
        (r"\brelat(?:ed|es|ing)\s+to|\brelates|\bsee\s+also|\brelated(?:\s+issues?)?", RELATES_TO),
    )
)
# Between two mentions of one list ("fixes #1, #2 and #3") the kind carries over.
_LIST_GAP = re.compile(r"^\s*(?:,|;|&|/|\+|and|or|,\s*and|,\s*or)?\s*$", re.IGNORECASE)


def edge_kind(before: str) -> str:
    """The kind the words right before a mention give it: ``before`` is the text of its sentence that
    precedes it."""
    # Cut at the end of the previous sentence or line: "Fixed. See ENG-7" does not fix ENG-7.
    cut = max(before.rfind("\n"), before.rfind(". "), before.rfind("! "), before.rfind("? "))
    clause = before[cut + 1 :] if cut >= 0 else before
    clause = re.sub(r"[\[\]()*_`\"'>]+", " ", clause)  # markdown emphasis, a link's brackets, a quote
    for pattern, kind in _KIND_RULES:
        if pattern.search(clause):
            return kind
    return MENTIONS


# -- extraction -------------------------------------------------------------------------------------


class _Spans:
    """Spans already taken by a mention, so a later (less specific) pattern skips them. Taken spans never
    overlap, so sorted starts and a binary search answer in logarithmic time."""

    def __init__(self) -> None:
        self.starts: list[int] = []
        self.ends: list[int] = []

    def free(self, start: int, end: int) -> bool:
        at = bisect.bisect_right(self.starts, start)
        if at > 0 and self.ends[at - 1] > start:  # the span starting before overlaps
            return False
        return at == len(self.starts) or self.starts[at] >= end

    def take(self, start: int, end: int) -> None:
        at = bisect.bisect_right(self.starts, start)
        self.starts.insert(at, start)
        self.ends.insert(at, end)


_HEX_COLOUR = re.compile(r"#[0-9a-fA-F]{3,8}\b")


def _looks_like_colour(text: str, match: re.Match[str], before: str) -> bool:
    """Whether ``#123456`` is a colour rather than an issue: three or six digits after a colour word, before
    a CSS ``;``, or on a line that has a colour with letters in it (``#1a73e8``)."""
    if len(match.group(1)) not in (3, 6, 8):
        return False
    if _COLOUR_WORDS.search(before) or text[match.end() : match.end() + 1] == ";":
        return True
    line_start = text.rfind("\n", 0, match.start()) + 1
    line_end = text.find("\n", match.end())
    line = text[line_start : line_end if line_end >= 0 else len(text)]
    return any(not c.group(0)[1:].isdigit() for c in _HEX_COLOUR.finditer(line[:2000]))


def _is_commit_sha(sha: str) -> bool:
    return any(c.isdigit() for c in sha) and any(c.isalpha() for c in sha) and len(sha) not in (32, 64)


def _issue_key(text: str, match: re.Match[str], context: Context) -> Target | None:
    prefix, suffix = match.group(1), match.group(2)
    key = f"{prefix}-{suffix}"
    # A Sentry document names Linear issues as often as Sentry ones: for an all-digit key, only the word.
    sentry_said_here = bool(_SENTRY_WORD.search(text[max(0, match.start() - _WINDOW) : match.start()]))
    sentry_said = sentry_said_here or context.source_type == SENTRY
    if suffix.isdigit():
        if suffix.startswith("0"):
            return None
        if sentry_said_here:
            return Target(SENTRY, key)
        if "-" in prefix or prefix in _NOT_ISSUE_KEYS:  # a Linear team key has no dash
            return None
        return Target(LINEAR, key)
    # Sentry suffixes are base 32 (digits and capitals): a mix is one, letters alone only when a word
    # before says Sentry ("X-RAY", "PR-READY" are not).
    if suffix.isalpha() and not sentry_said:
        return None
    return Target(SENTRY, key)


def _mentions(text: str, context: Context) -> Iterator[Mention]:
    spans = _Spans()

    def claim(start: int, end: int, target: Target | None) -> Iterator[Mention]:
        if target is not None and len(spans.starts) < MAX_RAW_MENTIONS and spans.free(start, end):
            spans.take(start, end)
            yield Mention(target, start, end)

    for m in _GITHUB_URL.finditer(text):
        repo = f"{m.group(1)}/{m.group(2)}".lower()
        if m.group(3):
            sha = m.group(4)
            yield from claim(
                m.start(),
                m.end(),
                Target(GITHUB_COMMIT, sha.lower()) if sha else Target(GITHUB, f"{repo}#{m.group(3)}"),
            )
        else:
            yield from claim(m.start(), m.end(), Target(GITHUB_COMMIT, m.group(5).lower()))
    for m in _LINEAR_URL.finditer(text):
        yield from claim(m.start(), m.end(), Target(LINEAR, m.group(1).upper()))
    for m in _SENTRY_URL.finditer(text):
        yield from claim(m.start(), m.end(), Target(SENTRY, m.group(1)))
    for m in _ZENDESK_URL.finditer(text):
        yield from claim(m.start(), m.end(), Target(ZENDESK, m.group(1)))
    for m in _NOTION_URL.finditer(text):
        yield from claim(m.start(), m.end(), Target(NOTION, m.group(1).replace("-", "")))
    for m in _ZENDESK_EVENT.finditer(text):
        yield from claim(m.start(), m.end(), Target(ZENDESK, m.group(1)))
    for m in _VERCEL_URL.finditer(text):
        yield from claim(m.start(), m.end(), Target(VERCEL, m.group(1).lower()))
    for m in _VERCEL_ID.finditer(text):
        yield from claim(m.start(), m.end(), Target(VERCEL, m.group(1)))
    for m in _GITHUB_REF.finditer(text):
        yield from claim(
            m.start(), m.end(), Target(GITHUB, f"{m.group(1)}/{m.group(2)}#{m.group(3)}".lower())
        )
    for m in _ISSUE_KEY.finditer(text):
        yield from claim(m.start(), m.end(), _issue_key(text, m, context))
    for m in _HASH_NUMBER.finditer(text):
        before = text[max(0, m.start() - _WINDOW) : m.start()]
        if _TICKET_WORDS.search(before):
            yield from claim(m.start(), m.end(), Target(ZENDESK, m.group(1)))
        elif context.repo and not _looks_like_colour(text, m, before):
            yield from claim(m.start(), m.end(), Target(GITHUB, f"{context.repo.lower()}#{m.group(1)}"))
    if context.is_lockfile:
        return
    for m in _SHA.finditer(text):
        sha = m.group(1)
        if not _is_commit_sha(sha):
            continue
        before = text[max(0, m.start() - _WINDOW) : m.start()]
        if _CHECKSUM_WORDS.search(before):
            continue
        ranged = text[m.end() : m.end() + 2] == ".." or before.endswith("..")  # "abc1234..def5678"
        if len(sha) < 40 and not ranged and not _COMMIT_WORDS.search(before):
            continue
        yield from claim(m.start(), m.end(), Target(GITHUB_COMMIT, sha))


def extract_edges(text: str, context: Context | None = None) -> list[Edge]:
    """The edges a document's text gives, in the order they appear, one per (kind, target): the first
    occurrence's evidence is kept. At most ``MAX_MENTIONS``; only the first ``MAX_TEXT_CHARS`` are read."""
    context = context or Context()
    text = text[:MAX_TEXT_CHARS]
    mentions = sorted(_mentions(text, context), key=lambda m: m.start)
    edges: list[Edge] = []
    seen: set[tuple[str, Target]] = set()
    previous: tuple[int, str] | None = None  # (end, kind) of the mention before
    for mention in mentions:
        if previous is not None and _LIST_GAP.match(text[previous[0] : mention.start]):
            kind = previous[1]
        else:
            kind = edge_kind(text[max(0, mention.start - _WINDOW) : mention.start])
        previous = (mention.end, kind)
        if (kind, mention.target) in seen:
            continue
        seen.add((kind, mention.target))
        edges.append(Edge(kind, mention.target, evidence(text, mention.start, mention.end)))
        if len(edges) >= MAX_MENTIONS:
            break
    return edges


def evidence(text: str, start: int, end: int) -> str:
    """The words around a mention on its line, at most ``MAX_EVIDENCE`` characters, whitespace folded."""
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", end)
    line_end = len(text) if line_end < 0 else line_end
    room = max(0, MAX_EVIDENCE - (end - start)) // 2
    left = max(line_start, start - room)
    right = min(line_end, end + room)
    excerpt = " ".join(text[left:right].split())
    return excerpt[:MAX_EVIDENCE]
