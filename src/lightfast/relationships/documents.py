"""What a whole document contributes to the graph: the keys it IS (its identities, which mentions of it
resolve to), the edges its metadata gives (a deployment's commit, a Sentry issue's releases) and its
text's mentions, and seed 004's ``DocumentRelationships`` JSON summarising them.

Metadata keys are read as seed 004 names them (``commitSha``, ``shortId``, ``releases``, ...) and, for
Vercel, also as Vercel's own deployment ``meta`` names them (``githubCommitSha``, ``githubCommitOrg``,
``githubPrId``, ...), so a source that keeps the vendor's names links as well."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lightfast.relationships.mentions import Context, extract_edges
from lightfast.relationships.model import (
    BLOCKED_BY,
    BLOCKS,
    DEPENDS_ON,
    DEPLOYS,
    DUPLICATES,
    FIXED_BY,
    FIXES,
    GITHUB,
    GITHUB_COMMIT,
    IN_RELEASE,
    LINEAR,
    NOTION,
    RELATES_TO,
    SENTRY,
    VERCEL,
    ZENDESK,
    Edge,
    Target,
)

MAX_RELEASES = 20  # a Sentry issue seen in many releases: the newest ones link
_FULL_SHA = re.compile(r"^[0-9a-f]{7,40}$")
# A release name carrying a commit: "abc1234", "api@abc1234", "1.4.2+abc1234", "web-abc1234def".
_RELEASE_SHA = re.compile(r"(?:^|[@+_/-])([0-9a-f]{7,40})$")
_PR_IN_MESSAGE = re.compile(r"\(#(\d{1,9})\)\s*$|^Merge pull request #(\d{1,9})\b", re.MULTILINE)
_REPO = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9._-]{1,100}$")
_NOTION_ID = re.compile(r"^[0-9a-f]{32}$")
_DEPLOYMENT_HOST = re.compile(r"^(?:https?://)?([a-z0-9.-]{1,253}\.vercel\.app)/?$", re.IGNORECASE)


@dataclass(frozen=True)
class DocumentLinks:
    """Everything one document writes to the graph."""

    identities: tuple[Target, ...]
    edges: tuple[Edge, ...]
    relationships: dict[str, Any] = field(default_factory=dict)


def _text(metadata: Mapping[str, Any], *names: str) -> str | None:
    for name in names:
        value = metadata.get(name)
        if isinstance(value, str) and value.strip():
            return value.strip()
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
    return None


def commit_sha(value: str | None) -> str | None:
    """A commit sha in a metadata value (lowercased), or None when the value is not one."""
    if not value:
        return None
    value = value.strip().lower()
    return value if _FULL_SHA.match(value) and any(c.isalpha() for c in value) else None


def release_commit(release: str) -> str | None:
    """The commit a Sentry release names: the whole name when it is a sha, or a sha after ``@``/``+``/
    ``-`` ("api@abc1234", "1.4.2+abc1234"); None for a release that is a version only ("1.4.2")."""
    match = _RELEASE_SHA.search(release.strip().lower())
    if match is None:
        return None
    sha = match.group(1)
    return sha if any(c.isalpha() for c in sha) and any(c.isdigit() for c in sha) else None


def repository_of(source_type: str, metadata: Mapping[str, Any]) -> str | None:
    """The GitHub repository ("owner/repo") a document belongs to, for ``#123`` and its PR keys."""
    full = _text(metadata, "repoFullName", "repo", "repository")
    if full is None:
        owner = _text(metadata, "githubCommitOrg", "githubOrg", "gitOrg")
        name = _text(metadata, "githubCommitRepo", "githubRepo", "gitRepo")
        full = f"{owner}/{name}" if owner and name else None
    if full is None or not _REPO.match(full):
        return None
    del source_type
    return full.lower()


def _vercel_commit(metadata: Mapping[str, Any]) -> str | None:
    return commit_sha(
        _text(metadata, "commitSha", "githubCommitSha", "gitlabCommitSha", "bitbucketCommitSha")
    )


def identities(source_type: str, source_id: str, metadata: Mapping[str, Any]) -> list[Target]:
    """The keys a document is known by, from its own metadata. (A GitHub file's commits come from the
    pushes that changed it: the application adds those, lightfast.app.relationships.)"""
    kind = _text(metadata, "kind")
    keys: list[Target] = []
    if source_type == LINEAR and kind in (None, "issue"):
        identifier = _text(metadata, "identifier")
        if identifier:
            keys.append(Target(LINEAR, identifier.upper()))
    elif source_type == SENTRY and kind in (None, "issue"):  # a comment names its issue, is not it
        short = _text(metadata, "shortId")
        if short:
            keys.append(Target(SENTRY, short.upper()))
        issue = _text(metadata, "issueId")
        if issue and issue.isdigit():
            keys.append(Target(SENTRY, issue))
    elif source_type == VERCEL:
        deployment = _text(metadata, "deploymentId", "uid")
        if deployment:
            keys.append(Target(VERCEL, deployment))
        host = _DEPLOYMENT_HOST.match(_text(metadata, "deploymentUrl") or "")
        if host:
            keys.append(Target(VERCEL, host.group(1).lower()))
        # A deployment is its commit running: a release or an error naming that commit is about it.
        sha = _vercel_commit(metadata)
        if sha:
            keys.append(Target(GITHUB_COMMIT, sha))
        repo = repository_of(source_type, metadata)
        pull = _text(metadata, "githubPrId", "pullRequestNumber")
        if pull is None:
            found = _PR_IN_MESSAGE.search(_text(metadata, "commitMessage", "githubCommitMessage") or "")
            pull = (found.group(1) or found.group(2)) if found else None
        if repo and pull and pull.isdigit():
            keys.append(Target(GITHUB, f"{repo}#{int(pull)}"))
    elif source_type == ZENDESK and kind in (None, "ticket"):
        ticket = _text(metadata, "ticketId")
        if ticket and ticket.isdigit():
            keys.append(Target(ZENDESK, ticket))
    elif source_type == NOTION and kind != "comment":  # a comment names its page, is not it
        page = (_text(metadata, "pageId") or "").replace("-", "").lower()
        if _NOTION_ID.match(page):
            keys.append(Target(NOTION, page))
    elif source_type == GITHUB:
        number = _text(metadata, "number")
        repo = repository_of(source_type, metadata)
        if number and number.isdigit() and repo and kind in ("issue", "pull", "pull_request"):
            keys.append(Target(GITHUB, f"{repo}#{int(number)}"))
    del source_id
    return list(dict.fromkeys(keys))


def metadata_edges(source_type: str, metadata: Mapping[str, Any]) -> list[Edge]:
    """Temporal edges from metadata: a deployment to its commit, a Sentry issue to its releases' commits."""
    edges: list[Edge] = []
    if source_type == VERCEL:
        sha = _vercel_commit(metadata)
        if sha:
            edges.append(Edge(DEPLOYS, Target(GITHUB_COMMIT, sha), f"deployment of commit {sha}"))
    elif source_type == SENTRY:
        releases = metadata.get("releases")
        names = [r for r in releases if isinstance(r, str)] if isinstance(releases, list) else []
        first = _text(metadata, "firstRelease", "release")
        for name in ([first] if first else []) + names[-MAX_RELEASES:]:
            sha = release_commit(name)
            if sha:
                edges.append(Edge(IN_RELEASE, Target(GITHUB_COMMIT, sha), f"seen in release {name[:100]}"))
        # The commit the Sentry source read off the latest event's release, when it names one.
        sha = commit_sha(_text(metadata, "commitSha"))
        if sha:
            edges.append(
                Edge(IN_RELEASE, Target(GITHUB_COMMIT, sha), f"latest event's release: commit {sha}")
            )
    return list({(e.kind, e.target): e for e in edges}.values())


_GRAPH_KEYS = {
    FIXES: "resolves",
    FIXED_BY: "fixedBy",
    BLOCKED_BY: "blockedBy",
    BLOCKS: "blocks",
    DEPENDS_ON: "dependsOn",
    RELATES_TO: "relatedTo",
    DUPLICATES: "duplicates",
}
_MENTION_KEYS = {
    GITHUB: "github",
    LINEAR: "linear",
    NOTION: "notion",
    SENTRY: "sentry",
    VERCEL: "vercel",
    ZENDESK: "zendesk",
    GITHUB_COMMIT: "commits",
}


def relationships_json(
    edges: Iterable[Edge], metadata_edges_: Iterable[Edge], given: Mapping[str, Any] | None
) -> dict[str, Any]:
    """Seed 004's ``DocumentRelationships``: ``mentions`` by source (``#7890`` for Zendesk tickets, as
    the seed writes them; commits under ``commits``), ``graph`` by edge kind and ``temporal`` from
    metadata, merged with what the source itself gave (``given``)."""
    out: dict[str, Any] = {}
    mentions: dict[str, list[str]] = {}
    graph: dict[str, list[str]] = {}
    for edge in edges:
        shown = f"#{edge.target.key}" if edge.target.type == ZENDESK else edge.target.key
        bucket = mentions.setdefault(_MENTION_KEYS[edge.target.type], [])
        if shown not in bucket:
            bucket.append(shown)
        if edge.kind in _GRAPH_KEYS:
            listed = graph.setdefault(_GRAPH_KEYS[edge.kind], [])
            if edge.target.key not in listed:
                listed.append(edge.target.key)
    temporal: dict[str, Any] = {}
    for edge in metadata_edges_:
        temporal.setdefault("commitSha", edge.target.key)
    for name, values in ((given or {}).get("mentions") or {}).items():
        if isinstance(values, list):
            bucket = mentions.setdefault(str(name), [])
            bucket.extend(str(v) for v in values if str(v) not in bucket)
    # What the source said itself (a deployment's id, an issue's commit) stays; the extracted adds to it.
    given_temporal = (given or {}).get("temporal")
    if isinstance(given_temporal, dict):
        temporal = {**{str(k): v for k, v in given_temporal.items()}, **temporal}
    given_graph = (given or {}).get("graph")
    if isinstance(given_graph, dict):
        for name, values in given_graph.items():
            if isinstance(values, list):
                listed = graph.setdefault(str(name), [])
                listed.extend(str(v) for v in values if str(v) not in listed)
    if mentions:
        out["mentions"] = mentions
    if graph:
        out["graph"] = graph
    if temporal:
        out["temporal"] = temporal
    return out


def document_links(
    source_type: str,
    source_id: str,
    path: str,
    text: str,
    metadata: Mapping[str, Any],
    given: Mapping[str, Any] | None = None,
) -> DocumentLinks:
    """Identities, edges (text and metadata) and the relationships JSON of one document. A document's
    mentions of itself (a Linear issue naming its own identifier) are not edges."""
    own = identities(source_type, source_id, metadata)
    context = Context(repo=repository_of(source_type, metadata), source_type=source_type, path=path)
    temporal = metadata_edges(source_type, metadata)
    text_edges = [e for e in extract_edges(text, context) if not any(e.target.same_as(k) for k in own)]
    # A deployment's own commit is an identity and an edge at once: the edge is what links it to files.
    edges = list({(e.kind, e.target): e for e in [*temporal, *text_edges]}.values())
    return DocumentLinks(tuple(own), tuple(edges), relationships_json(text_edges, temporal, given))
