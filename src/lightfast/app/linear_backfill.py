"""Linear backfill and reconciliation: list every project, issue and comment through the GraphQL API
into the entity snapshots, then mark deleted whatever the listing did not see (deleted upstream while no
webhook came). It runs as the listing step of a full sync of a connection with an API token, so the
sync then indexes what changed and removes the documents of what is gone.

Checkpointed: each page's snapshots and the cursor after it are written in one transaction (the cursor
in the connection's metadata, ``backfill``), so a crash or a cancel resumes at the next page; a listing
resumed this way still reconciles correctly, because every row it saw was stamped when it saw it and
the reconciliation only deletes rows older than the listing's start."""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from datetime import datetime
from typing import Any

import httpx
from sqlalchemy.orm import Session, sessionmaker

from lightfast.app.credentials import TOKEN, CredentialService
from lightfast.db import sources as sources_repo
from lightfast.db import vendor_entities as entities_repo
from lightfast.db.models import ConnectedSource
from lightfast.db.types import iso, utcnow
from lightfast.settings import Settings
from lightfast.sources.linear.client import CONNECTIONS, LinearClient
from lightfast.sources.linear.documents import KINDS
from lightfast.sources.snapshots import Backfill, canonical_version

log = logging.getLogger("lightfast.linear")
# Projects first, then issues, then comments: a comment's issue is listed before it.
ORDER = ("projects", "issues", "comments")
CHECKPOINT = "backfill"


class LinearBackfill:
    def __init__(
        self,
        settings: Settings,
        sessions: sessionmaker[Session],
        credentials: CredentialService,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] | None = None,
        page_size: int = 50,
    ) -> None:
        self.settings, self.sessions, self.credentials = settings, sessions, credentials
        self.transport, self.sleep, self.page_size = transport, sleep, page_size

    def for_connection(self, connection: ConnectedSource) -> Backfill | None:
        """The backfill of a connection with a token; None for a webhook-only one."""
        token = self.credentials.read(connection.id, TOKEN)
        if token is None:
            return None
        source_id = connection.id

        def backfill(should_stop: Callable[[], bool]) -> None:
            self.run(source_id, token, should_stop)

        return backfill

    def register_webhook(self, token: str, url: str, secret: str) -> str:
        """Create the connection's webhook at Linear (``webhookCreate``); its id."""
        client = self.client(token)
        try:
            return client.create_webhook(url, secret)
        finally:
            client.close()

    def client(self, token: str) -> LinearClient:
        extra: dict[str, Any] = {"sleep": self.sleep} if self.sleep is not None else {}
        return LinearClient(
            token, self.settings.linear_api_url, transport=self.transport, page_size=self.page_size, **extra
        )

    def run(
        self, source_id: str, token: str, should_stop: Callable[[], bool] = lambda: False
    ) -> dict[str, int]:
        """List everything, resuming from the checkpoint; returns counts (``changed``, ``deleted``). Once
        ``should_stop`` (a cancel), it stops between pages: the checkpoint stays for the next run and
        nothing is reconciled from an incomplete listing."""
        checkpoint = load_checkpoint(self.sessions, source_id)
        changed = int(checkpoint.get("changed", 0))
        client = self.client(token)
        try:
            for connection in ORDER:
                if connection in checkpoint["done"]:
                    continue
                entity_type = CONNECTIONS[connection][0]
                for page in client.pages(connection, checkpoint["cursors"].get(connection)):
                    if should_stop():
                        return {"changed": changed, "deleted": 0}
                    with self.sessions.begin() as session:
                        changed += self._apply(session, source_id, entity_type, page.nodes)
                        checkpoint["cursors"][connection] = page.end_cursor
                        checkpoint["changed"] = changed
                        if not page.has_next:
                            checkpoint["done"].append(connection)
                        save_checkpoint(session, source_id, checkpoint)
        finally:
            client.close()
        deleted = finish_listing(self.sessions, source_id, checkpoint, KINDS.values(), client.requests)
        log.info("linear %s: listing changed %d and deleted %d entities", source_id, changed, deleted)
        return {"changed": changed, "deleted": deleted}

    def _apply(self, session: Session, source_id: str, entity_type: str, nodes: list[dict[str, Any]]) -> int:
        changed = 0
        seen: list[str] = []
        for node in nodes:
            updated = node.get("updatedAt")
            if not isinstance(updated, str):
                continue
            try:
                version = canonical_version(updated)
            except ValueError:
                continue
            state = entities_repo.apply_snapshot(
                session,
                source_id=source_id,
                entity_id=node["id"],
                kind=KINDS[entity_type],
                version=version,
                payload={"type": entity_type, "data": node, "url": node.get("url")},
                deleted=bool(node.get("archivedAt") or node.get("trashed")),
            )
            changed += state == "applied"
            seen.append(node["id"])
        entities_repo.touch_entities(session, source_id, seen, utcnow())
        return changed


# -- the listing checkpoint, shared by the vendors' backfills ---------------------------------------------


def load_checkpoint(sessions: sessionmaker[Session], source_id: str) -> dict[str, Any]:
    """The unfinished listing's checkpoint of a connection, or a new one starting now."""
    with sessions.begin() as session:
        source = sources_repo.find_source(session, source_id)
        found = (source.source_metadata or {}).get(CHECKPOINT) if source is not None else None
        if isinstance(found, dict) and isinstance(found.get("started"), str):
            return {
                "started": found["started"],
                "cursors": dict(found.get("cursors") or {}),
                "done": list(found.get("done") or []),
                "changed": int(found.get("changed") or 0),
            }
        checkpoint: dict[str, Any] = {"started": iso(utcnow()), "cursors": {}, "done": [], "changed": 0}
        save_checkpoint(session, source_id, checkpoint)
        return checkpoint


def save_checkpoint(session: Session, source_id: str, checkpoint: dict[str, Any]) -> None:
    source = sources_repo.find_source(session, source_id)
    if source is not None:
        saved = {**checkpoint, "cursors": dict(checkpoint["cursors"]), "done": list(checkpoint["done"])}
        source.source_metadata = {**(source.source_metadata or {}), CHECKPOINT: saved}


def finish_listing(
    sessions: sessionmaker[Session],
    source_id: str,
    checkpoint: dict[str, Any],
    kinds: Collection[str],
    requests: int,
) -> int:
    """After a complete listing: mark deleted what it did not see, clear the checkpoint, record what the
    reconciliation repaired (``lastReconciliation``). Returns how many entities were deleted."""
    with sessions.begin() as session:
        started = datetime.fromisoformat(checkpoint["started"])
        deleted = entities_repo.mark_unseen_deleted(session, source_id, kinds, started)
        source = sources_repo.find_source(session, source_id)
        if source is not None:
            metadata = {k: v for k, v in (source.source_metadata or {}).items() if k != CHECKPOINT}
            metadata["lastReconciliation"] = {
                "at": iso(utcnow()),
                "changed": int(checkpoint.get("changed", 0)),
                "deleted": len(deleted),
                "requests": requests,
            }
            source.source_metadata = metadata
    return len(deleted)
