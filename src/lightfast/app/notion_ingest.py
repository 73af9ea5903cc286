"""Notion events with an API token: an event names a page (its id only); the page's snapshot records
that it changed (or went), and the sync fetches the page and its blocks when it indexes it."""

from __future__ import annotations

from sqlalchemy.orm import Session

from lightfast.db import vendor_entities as entities_repo
from lightfast.sources.notion.webhooks import NotionEvent

PAGE_KIND = "page"


def page_path(page_id: str) -> str:
    return f"pages/{page_id}.md"


def event_changes(session: Session, source_id: str, event: NotionEvent, version: str) -> dict[str, str]:
    """The change set an event asks for: its page to index again, or to remove; empty when a newer event
    of that page is recorded already (Notion delivers out of order)."""
    if event.page_id is None:
        return {}
    removes = event.removes and event.entity_type == "page"
    state = entities_repo.apply_snapshot(
        session,
        source_id=source_id,
        entity_id=event.page_id,
        kind=PAGE_KIND,
        version=version,
        payload={"pageId": event.page_id, "event": event.type},
        deleted=removes,
    )
    if state == "stale":
        return {}
    return {page_path(event.page_id): "remove" if removes else "upsert"}
