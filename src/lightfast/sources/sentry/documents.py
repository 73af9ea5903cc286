"""Sentry entities as documents (pure): one per issue (its title, culprit, level, status, counts, seen
times and its latest event's exception with a bounded stack), and its comments as children, with seed
004's ``SentryDocMetadata``.

Entity ids carry their kind (``issue:1170820242``, ``comment:4711``): Sentry numbers issues and comments
on their own, so bare numbers could collide within one connection. Paths are ``issues/<id>.md`` and
``comments/<id>.md``; both are stable per connection."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from lightfast.sources.sentry.metadata import SentryDocMetadata

KINDS = ("issue", "comment")
FOLDERS = {"issue": "issues", "comment": "comments"}
_PREFIX = {folder: kind for kind, folder in FOLDERS.items()}
MAX_MARKDOWN = 200_000
MAX_TAGS_SHOWN = 30
_SHORT_ID = re.compile(r"\b([A-Z][A-Z0-9_-]{0,60}-[0-9A-Z]{1,12})\b")
_SHA = re.compile(r"[0-9a-f]{40}")


@dataclass(frozen=True)
class SentryDocument:
    kind: str
    entity_id: str
    path: str
    title: str
    markdown: str
    url: str | None
    metadata: dict[str, Any]
    parent_id: str | None = None
    relationships: dict[str, Any] | None = None
    mentions: list[str] = field(default_factory=list)


def entity_id(kind: str, number: str) -> str:
    return f"{kind}:{number}"


def path_for(kind: str, entity: str) -> str:
    """The path of an entity (``issue:42`` -> ``issues/42.md``)."""
    return f"{FOLDERS[kind]}/{entity.partition(':')[2]}.md"


def entity_of_path(path: str) -> str | None:
    folder, _, name = path.partition("/")
    number = name[: -len(".md")] if name.endswith(".md") else ""
    if folder not in _PREFIX or not number.isascii() or not number.isdigit() or "/" in name:
        return None
    return f"{_PREFIX[folder]}:{number}"


def issue_url(web_url: str, organization: str, issue_id: str) -> str:
    return f"{web_url.rstrip('/')}/organizations/{organization}/issues/{issue_id}/"


def _one_line(value: Any, limit: int = 300) -> str:
    return " ".join(str(value).split())[:limit]


def _frame_line(frame: dict[str, Any]) -> str:
    where = frame.get("filename") or frame.get("module") or "?"
    at = f"{where}:{frame['lineno']}" if "lineno" in frame else str(where)
    if "colno" in frame and "lineno" in frame:
        at += f":{frame['colno']}"
    function = frame.get("function") or "?"
    line = f"  at {_one_line(function, 200)} ({_one_line(at, 300)})"
    if frame.get("in_app"):
        line += " [in app]"
    if frame.get("context_line"):
        line += f"\n      {_one_line(frame['context_line'])}"
    return line


def exception_text(event: dict[str, Any]) -> str:
    """The event's exceptions as text, innermost frame last (the order Python and Sentry print)."""
    blocks = []
    for exception in event.get("exceptions") or []:
        head = _one_line(exception.get("type") or "Error", 200)
        if exception.get("value"):
            head += f": {_one_line(exception['value'], 2000)}"
        lines = [head]
        if exception.get("mechanism"):
            handled = exception.get("handled")
            lines.append(
                f"  mechanism: {exception['mechanism']}"
                + ("" if handled is None else f" (handled: {'yes' if handled else 'no'})")
            )
        if exception.get("frames_omitted"):
            lines.append(f"  ... {exception['frames_omitted']} outer frames omitted")
        lines += [_frame_line(f) for f in exception.get("frames") or []]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def _status(issue: dict[str, Any]) -> str | None:
    status = issue.get("status")
    if not status:
        return None
    return f"{status} ({issue['substatus']})" if issue.get("substatus") else str(status)


def mentions(text: str, own: str | None = None) -> list[str]:
    """Sentry short ids (``FRONT-END-9``) ``text`` names, other than its own (seed 004's
    relationships.mentions.sentry)."""
    return sorted({m for m in _SHORT_ID.findall(text) if m != own})[:50]


def render_issue(
    issue: dict[str, Any], event: dict[str, Any] | None, *, organization: str, web_url: str
) -> SentryDocument:
    issue_id = str(issue["id"])
    short_id = issue.get("short_id")
    title = issue.get("title") or short_id or f"Sentry issue {issue_id}"
    url = issue.get("permalink") or issue_url(web_url, organization, issue_id)
    tags: dict[str, list[str]] = dict((event or {}).get("tags") or {})
    environments = sorted(
        set(tags.get("environment", []))
        | ({event["environment"]} if event and event.get("environment") else set())
    )
    release = (event or {}).get("release")
    releases = sorted(set(issue.get("releases") or []) | ({release} if release else set()))
    lines = [f"# {short_id + ': ' if short_id else ''}{_one_line(title, 500)}", ""]
    facts = [
        ("Project", issue.get("project")),
        ("Level", issue.get("level")),
        ("Status", _status(issue)),
        ("Culprit", issue.get("culprit")),
        ("Events", issue.get("count")),
        ("Users", issue.get("user_count")),
        ("First seen", issue.get("first_seen")),
        ("Last seen", issue.get("last_seen")),
        ("Assigned to", issue.get("assigned_to")),
        ("Environments", ", ".join(environments) if environments else None),
        ("Releases", ", ".join(releases) if releases else None),
    ]
    lines += [f"- {name}: {_one_line(value, 500)}" for name, value in facts if value not in (None, "")]
    if issue.get("type") or issue.get("value"):
        lines += [
            "",
            f"{issue.get('type') or 'Error'}: {_one_line(issue.get('value') or '', 2000)}".rstrip(": "),
        ]
    if event is not None:
        lines += ["", "## Latest event", ""]
        lines.append(f"Event {event['id']}" + (f" at {event['datetime']}" if event.get("datetime") else ""))
        if event.get("message"):
            lines += ["", _one_line(event["message"], 2000)]
        stack = exception_text(event)
        if stack:
            lines += ["", "```", stack.replace("```", "'''"), "```"]
    if tags:
        shown = sorted(tags.items())[:MAX_TAGS_SHOWN]
        lines += ["", "## Tags", ""] + [f"- {k}: {', '.join(v)}" for k, v in shown]
    markdown = "\n".join(lines)[:MAX_MARKDOWN] + "\n"
    commit = release if isinstance(release, str) and _SHA.fullmatch(release) else None
    metadata = SentryDocMetadata(
        kind="issue",
        issue_id=issue_id,
        short_id=short_id,
        project=issue.get("project"),
        platform=issue.get("platform") or (event or {}).get("platform"),
        url=url,
        title=title,
        level=issue.get("level"),
        status=issue.get("status"),
        substatus=issue.get("substatus"),
        culprit=issue.get("culprit"),
        count=issue.get("count"),
        user_count=issue.get("user_count"),
        environments=environments,
        releases=releases,
        tags=tags,
        first_seen=issue.get("first_seen"),
        last_seen=issue.get("last_seen"),
        assigned_to=issue.get("assigned_to"),
        latest_event_id=(event or {}).get("id"),
        release=release,
        commit_sha=commit,
        environment=(event or {}).get("environment"),
    ).wire()
    relationships: dict[str, Any] = {}
    if short_id:
        relationships["mentions"] = {"sentry": [short_id]}
    if commit:  # a release named by its commit (a common Sentry setup): the commit it was built from
        relationships["temporal"] = {"commitSha": commit}
    return SentryDocument(
        "issue",
        entity_id("issue", issue_id),
        path_for("issue", entity_id("issue", issue_id)),
        title,
        markdown,
        url,
        metadata,
        relationships=relationships or None,
        mentions=[short_id] if short_id else [],
    )


def render_comment(
    comment: dict[str, Any], issue: dict[str, Any] | None, *, organization: str, web_url: str
) -> SentryDocument:
    comment_id, issue_id = str(comment["id"]), str(comment["issue_id"])
    issue = issue or {}
    short_id = issue.get("short_id")
    about = short_id or f"issue {issue_id}"
    title = f"Comment on {about}" + (f": {_one_line(issue['title'], 200)}" if issue.get("title") else "")
    body = str(comment.get("body") or "")
    byline = " ".join(
        part
        for part in (
            f"by {comment['author']}" if comment.get("author") else "",
            f"at {comment['created_at']}" if comment.get("created_at") else "",
        )
        if part
    )
    markdown = (f"# {title}\n\n" + (f"_{byline}_\n\n" if byline else "") + body)[:MAX_MARKDOWN] + "\n"
    url = str(issue.get("permalink") or issue_url(web_url, organization, issue_id) + "activity/")
    found = mentions(body, short_id)
    metadata = SentryDocMetadata(
        kind="comment",
        issue_id=issue_id,
        short_id=short_id,
        project=comment.get("project") or issue.get("project"),
        url=url,
        title=title,
        comment_id=comment_id,
        author=comment.get("author"),
        created_at=comment.get("created_at"),
    ).wire()
    parent = entity_id("issue", issue_id)
    return SentryDocument(
        "comment",
        entity_id("comment", comment_id),
        path_for("comment", entity_id("comment", comment_id)),
        title,
        markdown,
        url,
        metadata,
        parent_id=parent,
        relationships={"mentions": {"sentry": found}} if found else None,
        mentions=found,
    )
