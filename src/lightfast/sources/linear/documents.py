"""Linear entities as documents (pure): an issue, a comment (a child of its issue) or a project, from a
webhook delivery's ``data`` or an API record (both carry the same field names), rendered to Markdown
with typed metadata (seed 004's LinearDocMetadata).

The document's ``source_id`` is Linear's UUID, which survives a team move that changes ``ENG-123`` to
``OPS-7``; the identifier is in the metadata and in the text, so a search for it finds the issue."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from lightfast.sources.metadata import LinearDocMetadata

KINDS = {"Issue": "issue", "Comment": "comment", "Project": "project"}
FOLDERS = {"issue": "issues", "comment": "comments", "project": "projects"}
_IDENTIFIER_IN_URL = re.compile(r"/issue/([A-Za-z0-9]+-\d+)(?:/|#|$)")
MAX_TEXT = 200_000  # characters of a description or comment body kept (Linear caps far below)


@dataclass(frozen=True)
class LinearDocument:
    kind: str
    entity_id: str
    path: str
    title: str
    markdown: str
    url: str | None
    metadata: dict[str, Any]
    parent_id: str | None = None  # a comment's issue (its parent document)
    mentions: list[str] = field(default_factory=list)


def path_for(kind: str, entity_id: str) -> str:
    return f"{FOLDERS[kind]}/{entity_id}.md"


def kind_of_path(path: str) -> tuple[str, str] | None:
    """(kind, entity id) of a document path, or None when it is not one of ours."""
    folder, _, name = path.partition("/")
    kinds = {v: k for k, v in FOLDERS.items()}
    if folder not in kinds or not name.endswith(".md") or "/" in name:
        return None
    return kinds[folder], name[: -len(".md")]


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def identifier_of(data: dict[str, Any], url: str | None = None) -> str | None:
    """``ENG-123``: the record's own ``identifier``, else its team key and number, else from its URL."""
    if _str(data.get("identifier")):
        return str(data["identifier"])
    key = _str(_obj(data.get("team")).get("key"))
    number = data.get("number")
    if key and isinstance(number, int | float) and not isinstance(number, bool):
        return f"{key}-{int(number)}"
    found = _IDENTIFIER_IN_URL.search(url or _str(data.get("url")) or "")
    return found.group(1) if found else None


def _labels(data: dict[str, Any]) -> list[str]:
    labels = data.get("labels")
    if isinstance(labels, dict):  # the API's connection shape: {"nodes": [...]}
        labels = labels.get("nodes")
    if not isinstance(labels, list):
        return []
    return [str(label["name"]) for label in labels if isinstance(label, dict) and _str(label.get("name"))]


_MENTION = re.compile(r"\b([A-Z][A-Z0-9]{0,9}-\d{1,7})\b")


def mentions(text: str, own: str | None = None) -> list[str]:
    """Linear identifiers mentioned in ``text`` (seed 004's relationships.mentions.linear)."""
    return sorted({m for m in _MENTION.findall(text) if m != own})


def render(entity_type: str, data: dict[str, Any], url: str | None = None) -> LinearDocument | None:
    """The document of one entity, or None for entity types that are not indexed."""
    kind = KINDS.get(entity_type)
    if kind is None:
        return None
    entity_id = str(data["id"])
    url = url or _str(data.get("url"))
    updated = _str(data.get("updatedAt")) or ""
    if kind == "issue":
        return _issue(entity_id, data, url, updated)
    if kind == "comment":
        return _comment(entity_id, data, url, updated)
    return _project(entity_id, data, url, updated)


def _issue(entity_id: str, data: dict[str, Any], url: str | None, updated: str) -> LinearDocument:
    identifier = identifier_of(data, url)
    title = _str(data.get("title")) or "(untitled issue)"
    state = _obj(data.get("state"))
    team = _obj(data.get("team"))
    assignee = _obj(data.get("assignee"))
    labels = _labels(data)
    heading = f"{identifier}: {title}" if identifier else title
    facts = [
        ("Identifier", identifier),
        ("State", _str(state.get("name"))),
        ("Team", _str(team.get("key")) or _str(team.get("name"))),
        ("Priority", _str(data.get("priorityLabel"))),
        ("Assignee", _str(assignee.get("name"))),
        ("Labels", ", ".join(labels) or None),
    ]
    description = (_str(data.get("description")) or "")[:MAX_TEXT]
    markdown = _markdown(heading, facts, description)
    priority = data.get("priority")
    metadata = LinearDocMetadata(
        kind="issue",
        id=entity_id,
        url=url,
        created_at=_str(data.get("createdAt")),
        updated_at=updated,
        identifier=identifier,
        title=title,
        team_id=_str(data.get("teamId")) or _str(team.get("id")),
        team_key=_str(team.get("key")),
        project_id=_str(data.get("projectId")) or _str(_obj(data.get("project")).get("id")),
        state=_str(state.get("name")),
        state_type=_str(state.get("type")),
        priority=int(priority)
        if isinstance(priority, int | float) and not isinstance(priority, bool)
        else None,
        labels=labels,
        assignee_id=_str(data.get("assigneeId")) or _str(assignee.get("id")),
    )
    return LinearDocument(
        "issue",
        entity_id,
        path_for("issue", entity_id),
        heading,
        markdown,
        url,
        metadata.wire(),
        mentions=mentions(description, identifier),
    )


def _comment(entity_id: str, data: dict[str, Any], url: str | None, updated: str) -> LinearDocument:
    issue = _obj(data.get("issue"))
    issue_id = _str(data.get("issueId")) or _str(issue.get("id"))
    issue_identifier = identifier_of(issue, url)
    user = _obj(data.get("user"))
    on = issue_identifier or _str(issue.get("title")) or "an issue"
    heading = f"Comment on {on}" + (
        f": {issue['title']}" if issue_identifier and _str(issue.get("title")) else ""
    )
    body = (_str(data.get("body")) or "")[:MAX_TEXT]
    facts = [("Issue", issue_identifier), ("Author", _str(user.get("name")))]
    metadata = LinearDocMetadata(
        kind="comment",
        id=entity_id,
        url=url,
        created_at=_str(data.get("createdAt")),
        updated_at=updated,
        issue_id=issue_id,
        issue_identifier=issue_identifier,
        user_id=_str(data.get("userId")) or _str(user.get("id")),
        user_name=_str(user.get("name")),
    )
    return LinearDocument(
        "comment",
        entity_id,
        path_for("comment", entity_id),
        heading,
        _markdown(heading, facts, body),
        url,
        metadata.wire(),
        parent_id=issue_id,
        mentions=mentions(body, issue_identifier),
    )


def _project(entity_id: str, data: dict[str, Any], url: str | None, updated: str) -> LinearDocument:
    name = _str(data.get("name")) or "(unnamed project)"
    state = data.get("state")
    state_name = _str(state) or _str(_obj(state).get("name"))
    description = (_str(data.get("content")) or _str(data.get("description")) or "")[:MAX_TEXT]
    heading = f"Project: {name}"
    metadata = LinearDocMetadata(
        kind="project",
        id=entity_id,
        url=url,
        created_at=_str(data.get("createdAt")),
        updated_at=updated,
        title=name,
        state=state_name,
    )
    return LinearDocument(
        "project",
        entity_id,
        path_for("project", entity_id),
        heading,
        _markdown(heading, [("State", state_name)], description),
        url,
        metadata.wire(),
        mentions=mentions(description),
    )


def _markdown(heading: str, facts: list[tuple[str, str | None]], body: str) -> str:
    lines = [f"# {heading.strip()}", ""]
    shown = [f"- {name}: {value}" for name, value in facts if value]
    if shown:
        lines += [*shown, ""]
    if body.strip():
        lines.append(body.strip())
    return "\n".join(lines).rstrip() + "\n"
