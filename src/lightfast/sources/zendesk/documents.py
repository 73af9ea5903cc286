"""Zendesk entities as documents (pure): a ticket, its comments (children of the ticket, internal notes
flagged ``public: false``) and help-center articles (their HTML body as Markdown), with seed 004's
``ZendeskDocMetadata``.

Entity ids carry their kind (``ticket:5158``, ``comment:9012``, ``article:360001``): Zendesk numbers
each kind on its own, so bare numbers could collide within one connection. Paths are
``tickets/5158.md``, ``comments/9012.md``, ``articles/360001.md``; both are stable per connection."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from lightfast.sources.zendesk.html import html_to_markdown
from lightfast.sources.zendesk.metadata import ZendeskDocMetadata
from lightfast.sources.zendesk.webhooks import as_id

KINDS = ("ticket", "comment", "private_comment", "article")
FOLDERS = {"ticket": "tickets", "comment": "comments", "private_comment": "comments", "article": "articles"}
_PREFIX = {"tickets": "ticket", "comments": "comment", "articles": "article"}
MAX_MARKDOWN = 400_000
# "#7890" counts as a Zendesk ticket only where the words around it say ticket (seed 004).
_TICKET_MENTION = re.compile(r"(?i)\b(?:ticket|zendesk|case)\s*(?:no\.?\s*|number\s*)?#(\d{1,12})\b")


@dataclass(frozen=True)
class ZendeskDocument:
    kind: str
    entity_id: str
    path: str
    title: str
    markdown: str
    url: str | None
    metadata: dict[str, Any]
    parent_id: str | None = None
    mentions: list[str] = field(default_factory=list)


def entity_id(kind: str, number: int) -> str:
    return f"{'comment' if kind == 'private_comment' else kind}:{number}"


def path_for(kind: str, entity: str) -> str:
    """The path of an entity (``ticket:5158`` -> ``tickets/5158.md``)."""
    return f"{FOLDERS[kind]}/{entity.partition(':')[2]}.md"


def entity_of_path(path: str) -> str | None:
    folder, _, name = path.partition("/")
    number = name[: -len(".md")] if name.endswith(".md") else ""
    if folder not in _PREFIX or not number.isdigit() or "/" in name:
        return None
    return f"{_PREFIX[folder]}:{number}"


def comment_kind(public: bool) -> str:
    """Internal notes are their own kind, so a connection can leave them out of its listing."""
    return "comment" if public else "private_comment"


def ticket_url(base_url: str, ticket_id: int) -> str:
    return f"{base_url.rstrip('/')}/agent/tickets/{ticket_id}"


def mentions(text: str, own: int | None = None) -> list[str]:
    """Ticket numbers ``text`` names where it says ticket (``#7890`` alone is too often something else)."""
    return sorted({f"#{n}" for n in _TICKET_MENTION.findall(text) if own is None or int(n) != own})


def replies(comments: list[dict[str, Any]], description: str | None) -> list[dict[str, Any]]:
    """A ticket's comments without the opening one when it is the description (Zendesk makes the
    ticket's first comment its description): the ticket's document holds that text already, and a
    second copy would only crowd search results."""
    if comments and description:
        first = comments[0].get("plain_body") or comments[0].get("body")
        if isinstance(first, str) and " ".join(first.split()) == " ".join(description.split()):
            return comments[1:]
    return comments


def with_names(
    article: dict[str, Any], sections: dict[int, dict[str, Any]], categories: dict[int, dict[str, Any]]
) -> dict[str, Any]:
    """An article with its section's and category's names (the API gives ids only)."""
    section = sections.get(as_id(article.get("section_id")) or 0, {})
    category_id = as_id(section.get("category_id"))
    category = categories.get(category_id or 0, {})
    named = dict(article)
    if isinstance(section.get("name"), str):
        named["section_name"] = section["name"][:500]
    if category_id is not None:
        named["category_id"] = category_id
    if isinstance(category.get("name"), str):
        named["category_name"] = category["name"][:500]
    return named


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def render_ticket(ticket: dict[str, Any], base_url: str) -> ZendeskDocument:
    number = int(ticket["id"])
    subject = _str(ticket.get("subject")) or "(no subject)"
    heading = f"Ticket #{number}: {subject}"
    tag_list = [t for t in ticket.get("tags") or [] if isinstance(t, str)]
    facts = [
        ("Status", _str(ticket.get("status"))),
        ("Priority", _str(ticket.get("priority"))),
        ("Type", _str(ticket.get("type"))),
        ("Requester", _str(ticket.get("requester_name"))),
        ("Assignee", _str(ticket.get("assignee_name"))),
        ("Organization", _str(ticket.get("organization_name"))),
        ("Channel", _str(ticket.get("via_channel"))),
        ("Problem ticket", f"#{ticket['problem_id']}" if _int(ticket.get("problem_id")) else None),
        ("External id", _str(ticket.get("external_id"))),
        ("Satisfaction", _str(ticket.get("satisfaction"))),
        ("Tags", ", ".join(tag_list) or None),
    ]
    body = _str(ticket.get("description")) or ""
    latest = _str(ticket.get("latest_comment"))
    if latest and latest.strip() != body.strip():
        body = f"{body}\n\n## Latest comment\n\n{latest}".strip()
    url = ticket_url(base_url, number)
    problem = {f"#{ticket['problem_id']}"} if _int(ticket.get("problem_id")) else set()
    metadata = ZendeskDocMetadata(
        kind="ticket",
        url=url,
        created_at=_str(ticket.get("created_at")),
        updated_at=_str(ticket.get("updated_at")) or "",
        ticket_id=number,
        subject=subject,
        status=_str(ticket.get("status")),
        priority=_str(ticket.get("priority")),
        ticket_type=_str(ticket.get("type")),
        requester_id=_int(ticket.get("requester_id")),
        submitter_id=_int(ticket.get("submitter_id")),
        assignee_id=_int(ticket.get("assignee_id")),
        group_id=_int(ticket.get("group_id")),
        organization_id=_int(ticket.get("organization_id")),
        brand_id=_int(ticket.get("brand_id")),
        problem_id=_int(ticket.get("problem_id")),
        external_id=_str(ticket.get("external_id")),
        tags=tag_list or None,
        satisfaction=_str(ticket.get("satisfaction")),
        via_channel=_str(ticket.get("via_channel")),
        comment_count=_int(ticket.get("comment_count")),  # known when the API listed its comments
    )
    return ZendeskDocument(
        "ticket",
        entity_id("ticket", number),
        path_for("ticket", entity_id("ticket", number)),
        heading,
        _markdown(heading, facts, body),
        url,
        metadata.wire(),
        mentions=sorted(set(mentions(body, number)) | problem),
    )


def render_comment(
    comment: dict[str, Any], base_url: str, ticket_subject: str | None = None
) -> ZendeskDocument:
    number, ticket_id = int(comment["id"]), int(comment["ticket_id"])
    public = comment.get("public") is not False
    on = f"ticket #{ticket_id}" + (f": {ticket_subject}" if ticket_subject else "")
    heading = ("Comment on " if public else "Internal note on ") + on
    body = _str(comment.get("body"))
    if body is None and _str(comment.get("html_body")):
        body = html_to_markdown(str(comment["html_body"]))
    facts = [
        ("Ticket", f"#{ticket_id}"),
        ("Author", _str(comment.get("author_name"))),
        ("Visibility", "public reply" if public else "internal note"),
    ]
    url = f"{ticket_url(base_url, ticket_id)}#comment-{number}"
    metadata = ZendeskDocMetadata(
        kind="comment",
        url=url,
        created_at=_str(comment.get("created_at")),
        updated_at=_str(comment.get("created_at")) or "",
        ticket_id=ticket_id,
        subject=ticket_subject,
        comment_id=number,
        author_id=_int(comment.get("author_id")),
        public=public,
        via_channel=_str(comment.get("via_channel")),
    )
    entity = entity_id("comment", number)
    return ZendeskDocument(
        "comment" if public else "private_comment",
        entity,
        path_for("comment", entity),
        heading,
        _markdown(heading, facts, body or ""),
        url,
        metadata.wire(),
        parent_id=entity_id("ticket", ticket_id),
        mentions=mentions(body or "", ticket_id),
    )


def render_article(article: dict[str, Any], base_url: str) -> ZendeskDocument:
    number = int(article["id"])
    title = _str(article.get("title")) or _str(article.get("name")) or "(untitled article)"
    section = _str(article.get("section_name"))
    category = _str(article.get("category_name"))
    label_names = [t for t in article.get("label_names") or [] if isinstance(t, str)]
    facts = [
        ("Category", category),
        ("Section", section),
        ("Locale", _str(article.get("locale"))),
        ("Labels", ", ".join(label_names) or None),
    ]
    body = html_to_markdown(_str(article.get("body")) or "")
    url = _str(article.get("html_url")) or f"{base_url.rstrip('/')}/hc/articles/{number}"
    vote_sum = article.get("vote_sum")
    metadata = ZendeskDocMetadata(
        kind="article",
        url=url,
        created_at=_str(article.get("created_at")),
        updated_at=_str(article.get("updated_at")) or _str(article.get("edited_at")) or "",
        article_id=number,
        title=title,
        section_id=_int(article.get("section_id")),
        section_name=section,
        category_id=_int(article.get("category_id")),
        category_name=category,
        locale=_str(article.get("locale")),
        labels=label_names or None,
        promoted=article.get("promoted") if isinstance(article.get("promoted"), bool) else None,
        vote_sum=_int(vote_sum),
        draft=article.get("draft") if isinstance(article.get("draft"), bool) else None,
    )
    entity = entity_id("article", number)
    return ZendeskDocument(
        "article",
        entity,
        path_for("article", entity),
        title,
        _markdown(title, facts, body),
        url,
        metadata.wire(),
        mentions=mentions(body),
    )


def _markdown(heading: str, facts: list[tuple[str, str | None]], body: str) -> str:
    lines = [f"# {' '.join(heading.split())}", ""]
    shown = [f"- {name}: {' '.join(value.split())}" for name, value in facts if value]
    if shown:
        lines += [*shown, ""]
    if body.strip():
        lines.append(body.strip())
    return ("\n".join(lines).rstrip() + "\n")[:MAX_MARKDOWN]
