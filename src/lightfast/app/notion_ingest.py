"""Notion events with an API token: an event names a page (its id only); the page's snapshot records
that it changed (or went), and the sync fetches the page and its blocks when it indexes it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
from sqlalchemy.orm import Session, sessionmaker

from lightfast.app.credentials import TOKEN, CredentialService
from lightfast.app.linear_backfill import finish_listing, load_checkpoint, save_checkpoint
from lightfast.app.vendor_snapshots import DatabaseSnapshots
from lightfast.db import vendor_entities as entities_repo
from lightfast.db.models import ConnectedSource
from lightfast.db.types import utcnow
from lightfast.settings import Settings
from lightfast.sources.base import Source
from lightfast.sources.notion.client import NotionClient
from lightfast.sources.notion.markdown import render_comment, render_page
from lightfast.sources.notion.webhooks import NotionEvent
from lightfast.sources.snapshots import Rendered, Snapshot, SnapshotSource, canonical_version

PAGE_KIND = "page"
COMMENT_KIND = "comment"  # a comment is a child document of its page (parent_doc_id)


def page_path(page_id: str) -> str:
    return f"pages/{page_id}.md"


def comment_path(comment_id: str) -> str:
    return f"comments/{comment_id}.md"


def path_of(kind: str, entity_id: str) -> str:
    return comment_path(entity_id) if kind == COMMENT_KIND else page_path(entity_id)


def event_changes(session: Session, source_id: str, event: NotionEvent, version: str) -> dict[str, str]:
    """The change set an event asks for: its page to index again, or to remove; empty when a newer event
    of that page is recorded already (Notion delivers out of order)."""
    if event.page_id is None:
        return {}
    if event.entity_type == "comment":
        # The comment's own document (content fetched at sync time from its page's comments).
        state = entities_repo.apply_snapshot(
            session,
            source_id=source_id,
            entity_id=event.entity_id,
            kind=COMMENT_KIND,
            version=version,
            payload={"pageId": event.page_id, "commentId": event.entity_id},
            deleted=event.removes,
        )
        if state == "stale":
            return {}
        return {comment_path(event.entity_id): "remove" if event.removes else "upsert"}
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


def page_of_path(path: str) -> str | None:
    """The entity id of a page's or a comment's document path (ids are unique across both)."""
    folder, _, name = path.partition("/")
    if folder in ("pages", "comments") and name.endswith(".md") and "/" not in name:
        return name[: -len(".md")]
    return None


class NotionPages:
    """A Notion connection with a token: the backfill (search every shared page into the snapshots,
    checkpointed, then reconcile) and the renderer (a page, its blocks and comments fetched when the sync
    indexes it: events and listings carry ids and edit times, not content)."""

    def __init__(
        self,
        settings: Settings,
        sessions: sessionmaker[Session],
        credentials: CredentialService,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] | None = None,
        page_size: int = 100,
    ) -> None:
        self.settings, self.sessions, self.credentials = settings, sessions, credentials
        self.transport, self.sleep, self.page_size = transport, sleep, page_size

    def client(self, token: str) -> NotionClient:
        extra: dict[str, Any] = {"sleep": self.sleep} if self.sleep is not None else {}
        return NotionClient(
            token, self.settings.notion_api_url, transport=self.transport, page_size=self.page_size, **extra
        )

    def open(self, connection: ConnectedSource) -> Source:
        token = self.credentials.read(connection.id, TOKEN)
        source_id = connection.id

        def backfill(should_stop: Callable[[], bool]) -> None:
            if token is not None:
                self.backfill(source_id, token, should_stop)

        return SnapshotSource(
            source_type="notion",
            external_key=connection.external_key,
            name=connection.display_name,
            reader=DatabaseSnapshots(self.sessions, connection.id, path_of),
            render=(lambda snapshot: self.render(token, snapshot)) if token else (lambda _snapshot: None),
            entity_of_path=page_of_path,
            backfill=backfill if token else None,
            id_prefix=connection.id,
        )

    def render(self, token: str, snapshot: Snapshot) -> Rendered | None:
        if snapshot.kind == COMMENT_KIND:
            return self._render_comment(token, snapshot)
        client = self.client(token)
        try:
            page = client.page(snapshot.entity_id)
            if page is None or page.get("archived") or page.get("in_trash"):
                return None  # gone since the event: the next reconciliation removes it
            blocks = client.blocks(snapshot.entity_id)
        finally:
            client.close()
        markdown, metadata = render_page(page, blocks)  # its comments are documents of their own
        url = page.get("url") if isinstance(page.get("url"), str) else None
        return Rendered(page_path(snapshot.entity_id), markdown, url, metadata)

    def _render_comment(self, token: str, snapshot: Snapshot) -> Rendered | None:
        page_id = str(snapshot.payload.get("pageId") or "")
        found = snapshot.payload.get("comment")
        if not isinstance(found, dict):  # from an event (ids only): read it among its page's comments
            client = self.client(token)
            try:
                found = next((c for c in client.comments(page_id) if c.get("id") == snapshot.entity_id), None)
            finally:
                client.close()
        if not isinstance(found, dict) or not page_id:
            return None  # gone upstream: the sync removes its document
        markdown, metadata = render_comment(found, page_id)
        return Rendered(comment_path(snapshot.entity_id), markdown, None, metadata, parent_id=page_id)

    def backfill(self, source_id: str, token: str, should_stop: Callable[[], bool] = lambda: False) -> int:
        """Search every shared page into the snapshots, checkpointed; stops between pages on a cancel."""
        checkpoint = load_checkpoint(self.sessions, source_id)
        client = self.client(token)
        try:
            if "pages" not in checkpoint["done"]:
                for listed in client.search_pages(checkpoint["cursors"].get("pages")):
                    if should_stop():
                        return 0
                    # Each page's comments (GET /v1/comments?block_id=), listed before the transaction.
                    comments = {
                        str(p["id"]): client.comments(str(p["id"]))
                        for p in listed.results
                        if isinstance(p.get("id"), str) and not (p.get("archived") or p.get("in_trash"))
                    }
                    with self.sessions.begin() as session:
                        checkpoint["changed"] += self._apply(session, source_id, listed.results)
                        checkpoint["changed"] += self._apply_comments(session, source_id, comments)
                        checkpoint["cursors"]["pages"] = listed.next_cursor
                        if not listed.has_more:
                            checkpoint["done"].append("pages")
                        save_checkpoint(session, source_id, checkpoint)
        finally:
            client.close()
        return finish_listing(
            self.sessions, source_id, checkpoint, (PAGE_KIND, COMMENT_KIND), client.requests
        )

    def _apply(self, session: Session, source_id: str, pages: list[dict[str, Any]]) -> int:
        changed, seen = 0, []
        for page in pages:
            page_id, edited = page.get("id"), page.get("last_edited_time")
            if not isinstance(page_id, str) or not isinstance(edited, str):
                continue
            try:
                version = canonical_version(edited)
            except ValueError:
                continue
            state = entities_repo.apply_snapshot(
                session,
                source_id=source_id,
                entity_id=page_id,
                kind=PAGE_KIND,
                version=version,
                payload={"pageId": page_id},
                deleted=bool(page.get("archived") or page.get("in_trash")),
            )
            changed += state == "applied"
            seen.append(page_id)
        entities_repo.touch_entities(session, source_id, seen, utcnow())
        return changed

    def _apply_comments(
        self, session: Session, source_id: str, comments: dict[str, list[dict[str, Any]]]
    ) -> int:
        """Each listed comment as a snapshot carrying its content (rendering it needs no request)."""
        changed, seen = 0, []
        for page_id, listed in comments.items():
            for comment in listed:
                comment_id, edited = (
                    comment.get("id"),
                    comment.get("last_edited_time") or comment.get("created_time"),
                )
                if not isinstance(comment_id, str) or not isinstance(edited, str):
                    continue
                try:
                    version = canonical_version(edited)
                except ValueError:
                    continue
                state = entities_repo.apply_snapshot(
                    session,
                    source_id=source_id,
                    entity_id=comment_id,
                    kind=COMMENT_KIND,
                    version=version,
                    payload={"pageId": page_id, "commentId": comment_id, "comment": comment},
                    deleted=False,
                )
                changed += state == "applied"
                seen.append(comment_id)
        entities_repo.touch_entities(session, source_id, seen, utcnow())
        return changed
