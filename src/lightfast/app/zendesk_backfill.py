"""Zendesk connections: entity snapshots (tickets, their comments, help-center articles), the backfill
and reconciliation through the REST APIs, and the source the sync opens.

Snapshots (``vendor_entities``): ``ticket:N`` holds the ticket's fields, ``comment:N`` one comment
(kind ``private_comment`` for an internal note, so a connection that leaves notes out simply does not
list that kind), ``article:N`` one article with its section's and category's names.

The backfill lists the incremental ticket export from the beginning (each ticket's comments fetched
with it) and then every help-center article; each page's snapshots and the cursor after it are written
in one transaction, so a crash resumes at the next page (lightfast.app.linear_backfill's checkpoint).
Then whatever the listing did not see is marked deleted: the reconciliation."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import httpx
from sqlalchemy.orm import Session, sessionmaker

from lightfast.app.credentials import TOKEN, CredentialService
from lightfast.app.linear_backfill import finish_listing, load_checkpoint, save_checkpoint
from lightfast.app.vendor_snapshots import DatabaseSnapshots
from lightfast.app.vendor_sources import VendorKind, VendorOption
from lightfast.db import sources as sources_repo
from lightfast.db import vendor_entities as entities_repo
from lightfast.db.models import ConnectedSource
from lightfast.db.types import utcnow
from lightfast.settings import Settings
from lightfast.sources.base import Source
from lightfast.sources.snapshots import Backfill, Rendered, Snapshot, SnapshotSource, canonical_version
from lightfast.sources.zendesk import documents as docs
from lightfast.sources.zendesk.client import ZendeskClient
from lightfast.sources.zendesk.metadata import EMAIL, SUBDOMAIN, connection_metadata
from lightfast.sources.zendesk.webhooks import as_id, comment_fields, ticket_fields

log = logging.getLogger("lightfast.zendesk")
ORDER = ("tickets", "articles")
COMMENT_KINDS = ("comment", "private_comment")
ARTICLES = "/api/v2/help_center/articles.json"
# A delivery's refresh is at most three requests (ticket and comments; or article and section) inside
# Zendesk's 10 s wait for an answer: 2.5 s each, no retry; on any failure the delivery's own data is used.
QUICK_TIMEOUT = httpx.Timeout(2.5, connect=1.5)
MAX_KEPT_IDS = 1000
QUICK_COMMENTS = 100  # a delivery refreshes a ticket's newest comments; a listing reads them all


def version_of(*candidates: Any) -> str | None:
    """The first candidate that is an ISO 8601 time with a zone, canonical (sorts in time order)."""
    for value in candidates:
        if isinstance(value, str) and value:
            try:
                return canonical_version(value)
            except ValueError:
                continue
    return None


def base_url(settings: Settings, subdomain: str) -> str:
    """``LIGHTFAST_ZENDESK_BASE_URL``: a template with ``{subdomain}`` (the default,
    ``https://{subdomain}.zendesk.com``) or one explicit URL (a stand-in, a proxy)."""
    return settings.zendesk_base_url.replace("{subdomain}", subdomain).rstrip("/")


# The signing secret is Zendesk's (shown on the webhook's page), so it is given, never generated.
ZENDESK = VendorKind(
    "zendesk",
    "Zendesk",
    connection_metadata,
    options=(
        VendorOption(
            "subdomain",
            "Zendesk subdomain",
            required=True,
            pattern=SUBDOMAIN.pattern.strip("^$"),
            help="acme for acme.zendesk.com: lower-case letters, digits and dashes",
            max_length=63,
        ),
        VendorOption(
            "email",
            "agent email",
            pattern=EMAIL.pattern.strip("^$"),
            help="the agent the API token belongs to; leave empty for an OAuth token",
            max_length=254,
        ),
        VendorOption(
            "privateComments",
            "index internal notes",
            pattern="true|false",
            help="true (the default) or false",
            max_length=5,
        ),
    ),
)


def _meta(connection: ConnectedSource) -> dict[str, Any]:
    return dict(connection.source_metadata or {})


class ZendeskSources:
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

    # -- clients -------------------------------------------------------------------------------------

    def base_url(self, connection: ConnectedSource) -> str:
        return base_url(self.settings, str(_meta(connection).get("zendeskSubdomain") or "invalid"))

    def client(self, connection: ConnectedSource, *, quick: bool = False) -> ZendeskClient | None:
        """A client for a connection with a token; None for a webhook-only one. ``quick``: for a webhook
        being answered (Zendesk waits 10 s): short timeouts, no retry, no rate-limit wait;
        when it fails the delivery's own fields are indexed instead."""
        token = self.credentials.read(connection.id, TOKEN)
        if token is None:
            return None
        email = _meta(connection).get("email")
        extra: dict[str, Any] = {"sleep": self.sleep} if self.sleep is not None else {}
        if quick:
            extra |= {"max_retries": 0, "max_wait": 0.0, "timeout": QUICK_TIMEOUT}
        return ZendeskClient(
            self.base_url(connection),
            token,
            email if isinstance(email, str) else None,
            transport=self.transport,
            page_size=self.page_size,
            **extra,
        )

    # -- snapshots -----------------------------------------------------------------------------------

    def apply_ticket(
        self,
        session: Session,
        source_id: str,
        ticket: dict[str, Any],
        *,
        version: str,
        removed: bool = False,
        merge: bool = True,
    ) -> dict[str, str]:
        """Store a ticket's version (a partial delivery merged over what is stored; an API record as it
        is); the changes it asks of the index: the ticket, and its comments when it went or came back."""
        entity = docs.entity_id("ticket", int(ticket["id"]))
        stored = entities_repo.find_entity(session, source_id, entity)
        fields = dict(ticket)
        if merge and stored is not None and isinstance((stored.payload or {}).get("ticket"), dict):
            fields = {**stored.payload["ticket"], **ticket}
        removed = removed or fields.get("status") == "deleted"
        was_removed = stored is not None and stored.deleted
        state = entities_repo.apply_snapshot(
            session,
            source_id=source_id,
            entity_id=entity,
            kind="ticket",
            version=version,
            payload={"ticket": fields},
            deleted=removed,
        )
        if state == "stale":
            return {}
        changes = {docs.path_for("ticket", entity): "remove" if removed else "upsert"}
        if state == "applied" and (removed or was_removed):
            # A ticket's comments leave search with it, and come back when it is restored.
            for kind in COMMENT_KINDS:
                for comment in entities_repo.follow_parent(session, source_id, kind, entity, removed=removed):
                    changes[docs.path_for(kind, comment)] = "remove" if removed else "upsert"
        before = (stored.payload or {}).get("ticket") if stored is not None else None
        renamed = isinstance(before, dict) and before.get("subject") != fields.get("subject")
        if state == "applied" and not removed and renamed and isinstance(before, dict):
            # Each comment's heading names its ticket's subject: those the ticket lists are indexed
            # again (the others at the next full sync).
            for comment in fields.get("comment_ids") or before.get("comment_ids") or []:
                row = entities_repo.find_entity(session, source_id, str(comment))
                if row is not None and not row.deleted and self.indexes(row.kind, source_id, session):
                    changes.setdefault(docs.path_for(row.kind, row.entity_id), "upsert")
        return changes

    def apply_comment(
        self,
        session: Session,
        source_id: str,
        comment: dict[str, Any],
        *,
        version: str,
        subject: str | None,
        merge: bool = True,
        seen_at: str | None = None,
    ) -> dict[str, str]:
        """Store a comment. Its version is its ``created_at``, which never moves: when what was read
        (at ``seen_at``, canonical) differs from what is stored in text or visibility (made private,
        redacted), the change is versioned at ``seen_at`` instead, or it would be taken for a replay."""
        entity = docs.entity_id("comment", int(comment["id"]))
        stored = entities_repo.find_entity(session, source_id, entity)
        fields = dict(comment)
        before = (stored.payload or {}).get("comment") if stored is not None else None
        if merge and isinstance(before, dict):
            fields = {**before, **comment}
        if seen_at is not None and isinstance(before, dict) and _said(before) != _said(fields):
            version = max(version, seen_at)
        kind = docs.comment_kind(fields.get("public") is not False)
        parent = docs.entity_id("ticket", int(fields["ticket_id"]))
        state = entities_repo.apply_snapshot(
            session,
            source_id=source_id,
            entity_id=entity,
            kind=kind,
            version=version,
            # ``data.issueId`` is the parent key entities_repo.follow_parent reads for every vendor.
            payload={"data": {"issueId": parent}, "comment": fields, "subject": subject},
            deleted=False,
        )
        if state == "stale":
            return {}
        # An internal note on a connection that leaves notes out: never indexed, or no longer (made
        # private after it was indexed as a public reply).
        return {docs.path_for(kind, entity): "upsert" if self.indexes(kind, source_id, session) else "remove"}

    def apply_article(
        self, session: Session, source_id: str, article: dict[str, Any], *, version: str, removed: bool
    ) -> dict[str, str]:
        entity = docs.entity_id("article", int(article["id"]))
        stored = entities_repo.find_entity(session, source_id, entity)
        fields = dict(article)
        if stored is not None and isinstance((stored.payload or {}).get("article"), dict):
            fields = {**stored.payload["article"], **article}
        removed = removed or fields.get("draft") is True
        state = entities_repo.apply_snapshot(
            session,
            source_id=source_id,
            entity_id=entity,
            kind="article",
            version=version,
            payload={"article": fields},
            deleted=removed,
        )
        if state == "stale":
            return {}
        return {docs.path_for("article", entity): "remove" if removed else "upsert"}

    def indexes(self, kind: str, source_id: str, session: Session) -> bool:
        """Whether documents of ``kind`` are indexed for this connection (internal notes may be off)."""
        if kind != "private_comment":
            return True
        source = sources_repo.find_source(session, source_id)
        return source is None or (source.source_metadata or {}).get("indexPrivateComments", True) is not False

    # -- the backfill --------------------------------------------------------------------------------

    def for_connection(self, connection: ConnectedSource) -> Backfill | None:
        if self.credentials.read(connection.id, TOKEN) is None:
            return None

        def backfill(should_stop: Callable[[], bool]) -> None:
            self.run(connection, should_stop)

        return backfill

    def run(
        self, connection: ConnectedSource, should_stop: Callable[[], bool] = lambda: False
    ) -> dict[str, int]:
        """List everything, resuming from the checkpoint; returns counts (``changed``, ``deleted``). On a
        cancel it stops between pages, the checkpoint kept, nothing reconciled."""
        client = self.client(connection)
        if client is None:
            return {"changed": 0, "deleted": 0}
        source_id = connection.id
        checkpoint = load_checkpoint(self.sessions, source_id)
        changed = int(checkpoint.get("changed", 0))
        try:
            if "tickets" not in checkpoint["done"]:
                cursor = checkpoint["cursors"].get("tickets")
                while True:
                    if should_stop():
                        return {"changed": changed, "deleted": 0}
                    page = client.ticket_export_page(cursor)
                    known = self._unchanged(source_id, page.items)
                    comments: dict[int, list[dict[str, Any]]] = {}
                    for ticket in page.items:
                        if should_stop():  # a page is up to 1000 tickets: a cancel does not wait for it
                            return {"changed": changed, "deleted": 0}
                        number = int(ticket["id"])
                        if ticket.get("status") != "deleted" and number not in known:
                            comments[number] = client.comments(number) or []
                    with self.sessions.begin() as session:
                        changed += self._tickets(session, source_id, page.items, comments, known)
                        checkpoint["cursors"]["tickets"] = page.cursor
                        checkpoint["changed"] = changed
                        if not page.has_more:
                            checkpoint["done"].append("tickets")
                        save_checkpoint(session, source_id, checkpoint)
                    if not page.has_more:
                        break
                    cursor = page.cursor
            if "articles" not in checkpoint["done"]:
                if _meta(connection).get("articles", True) is False:
                    checkpoint["done"].append("articles")  # none wanted: the reconciliation drops any
                else:
                    changed += self._articles(client, source_id, checkpoint, should_stop)
                if "articles" not in checkpoint["done"]:
                    return {"changed": changed, "deleted": 0}  # stopped
        finally:
            client.close()
        deleted = finish_listing(self.sessions, source_id, checkpoint, docs.KINDS, client.requests)
        log.info("zendesk %s: listing changed %d and deleted %d entities", source_id, changed, deleted)
        return {"changed": changed, "deleted": deleted}

    def _tickets(
        self,
        session: Session,
        source_id: str,
        tickets: list[dict[str, Any]],
        comments: dict[int, list[dict[str, Any]]],
        known: dict[int, list[str]],
    ) -> int:
        changed, seen = 0, []
        listed_at = canonical_version(utcnow().isoformat())
        for record in tickets:
            version = version_of(record.get("updated_at"), record.get("created_at"))
            if version is None:
                continue
            number = int(record["id"])
            seen.append(docs.entity_id("ticket", number))
            if number in known:  # unchanged since its comments were listed: they are still there
                seen += known[number]
                continue
            fields = ticket_fields(record, number)
            description = record.get("description") if isinstance(record.get("description"), str) else None
            listed = docs.replies(comments.get(number, []), description)
            if number in comments:
                fields["comment_count"] = len(comments[number])
                ids = [docs.entity_id("comment", int(c["id"])) for c in listed if as_id(c.get("id"))]
                # Kept to skip the next listing's comment request; a very long ticket is read again.
                fields["comment_ids"] = ids if len(ids) <= MAX_KEPT_IDS else None
            found = self.apply_ticket(session, source_id, fields, version=version, merge=False)
            changed += bool(found)
            for given in listed:
                comment = comment_fields(given, int(record["id"]))
                comment_version = version_of(given.get("created_at"))
                if comment is None or comment_version is None:
                    continue
                changed += bool(
                    self.apply_comment(
                        session,
                        source_id,
                        comment,
                        version=comment_version,
                        subject=fields.get("subject"),
                        merge=False,
                        seen_at=listed_at,
                    )
                )
                seen.append(docs.entity_id("comment", int(comment["id"])))
        entities_repo.touch_entities(session, source_id, seen, utcnow())
        return changed

    def _unchanged(self, source_id: str, tickets: list[dict[str, Any]]) -> dict[int, list[str]]:
        """Tickets of an export page stored at the version listed, whose comments were listed with
        them: a new comment or any edit moves a ticket's ``updated_at``, so these need no comment
        request (what keeps a daily reconciliation to about one request per 1000 unchanged tickets).
        Ticket number -> its comments' entity ids."""
        listed = {
            docs.entity_id("ticket", int(t["id"])): version_of(t.get("updated_at"), t.get("created_at"))
            for t in tickets
            if t.get("status") != "deleted"
        }
        with self.sessions() as session:
            rows = entities_repo.live_snapshots(session, source_id, list(listed))
        found: dict[int, list[str]] = {}
        for row in rows:
            ticket = (row.payload or {}).get("ticket")
            ids = ticket.get("comment_ids") if isinstance(ticket, dict) else None
            if row.version == listed.get(row.entity_id) and isinstance(ids, list):
                found[int(row.entity_id.partition(":")[2])] = [i for i in ids if isinstance(i, str)]
        return found

    def _articles(
        self,
        client: ZendeskClient,
        source_id: str,
        checkpoint: dict[str, Any],
        should_stop: Callable[[], bool],
    ) -> int:
        sections = client.names("/api/v2/help_center/sections.json", "sections")
        categories = client.names("/api/v2/help_center/categories.json", "categories")
        changed, before = 0, int(checkpoint.get("changed", 0))
        for page in client.pages(ARTICLES, "articles", checkpoint["cursors"].get("articles")):
            if should_stop():
                return changed
            with self.sessions.begin() as session:
                seen = []
                for article in page.items:
                    version = version_of(article.get("updated_at"), article.get("edited_at"))
                    if version is None:
                        continue
                    named = docs.with_names(article, sections, categories)
                    changed += bool(
                        self.apply_article(session, source_id, named, version=version, removed=False)
                    )
                    seen.append(docs.entity_id("article", int(article["id"])))
                entities_repo.touch_entities(session, source_id, seen, utcnow())
                checkpoint["cursors"]["articles"] = page.cursor
                checkpoint["changed"] = before + changed
                if not page.has_more:
                    checkpoint["done"].append("articles")
                save_checkpoint(session, source_id, checkpoint)
        return changed

    # -- the source the sync opens -------------------------------------------------------------------

    def open(self, connection: ConnectedSource) -> Source:
        url = self.base_url(connection)
        notes = _meta(connection).get("indexPrivateComments", True) is not False
        return SnapshotSource(
            source_type="zendesk",
            external_key=connection.external_key,
            name=connection.display_name,
            reader=ZendeskSnapshots(self.sessions, connection.id, private_comments=notes),
            render=lambda snapshot: render(snapshot, url),
            entity_of_path=docs.entity_of_path,
            backfill=self.for_connection(connection),
        )


def _said(comment: dict[str, Any]) -> tuple[Any, ...]:
    """What a comment's document shows: its text and whether it is public."""
    return (comment.get("body"), comment.get("html_body"), comment.get("public") is not False)


class ZendeskSnapshots(DatabaseSnapshots):
    """A connection's snapshots; internal notes left out when the connection does not index them."""

    def __init__(self, sessions: sessionmaker[Session], source_id: str, *, private_comments: bool) -> None:
        super().__init__(sessions, source_id, lambda kind, entity: docs.path_for(kind, entity))
        self.private_comments = private_comments

    def live_paths(self) -> list[str]:
        with self.sessions() as session:
            return sorted(
                docs.path_for(kind, entity)
                for kind, entity in entities_repo.live_entities(session, self.source_id)
                if kind in docs.FOLDERS and (self.private_comments or kind != "private_comment")
            )

    def read(self, entity_ids: list[str]) -> dict[str, Snapshot]:
        found = super().read(entity_ids)
        if not self.private_comments:
            found = {k: v for k, v in found.items() if v.kind != "private_comment"}
        # A comment is rendered with its ticket's subject as it is now, not as it was when stored.
        parents = {parent_of(v) for v in found.values() if v.kind in COMMENT_KINDS} - {None}
        tickets = super().read(sorted(p for p in parents if p)) if parents else {}
        for key, snapshot in found.items():
            parent = parent_of(snapshot)
            ticket = tickets[parent].payload.get("ticket") if parent in tickets else None
            if snapshot.kind in COMMENT_KINDS and isinstance(ticket, dict) and ticket.get("subject"):
                found[key] = replace(snapshot, payload={**snapshot.payload, "subject": ticket["subject"]})
        return found


def parent_of(snapshot: Snapshot) -> str | None:
    """A comment snapshot's ticket entity id."""
    data = snapshot.payload.get("data")
    parent = data.get("issueId") if isinstance(data, dict) else None
    return parent if isinstance(parent, str) else None


def render(snapshot: Snapshot, url: str) -> Rendered | None:
    payload = snapshot.payload
    document: docs.ZendeskDocument | None = None
    if snapshot.kind == "ticket" and isinstance(payload.get("ticket"), dict):
        document = docs.render_ticket(payload["ticket"], url)
    elif snapshot.kind in COMMENT_KINDS and isinstance(payload.get("comment"), dict):
        subject = payload.get("subject") if isinstance(payload.get("subject"), str) else None
        document = docs.render_comment(payload["comment"], url, subject)
    elif snapshot.kind == "article" and isinstance(payload.get("article"), dict):
        document = docs.render_article(payload["article"], url)
    if document is None:
        return None
    relationships = {"mentions": {"zendesk": document.mentions}} if document.mentions else None
    return Rendered(
        document.path, document.markdown, document.url, document.metadata, document.parent_id, relationships
    )
