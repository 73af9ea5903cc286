"""Entity snapshots kept newest-first, on SQLite and PostgreSQL: a removal the vendor reported at a version
stays removed at that version, while an entity a reconciliation only inferred gone (a listing did not
return it) comes back when it is seen again at the version it had."""

from __future__ import annotations

from datetime import timedelta

from lightfast.app.container import Services
from lightfast.db import vendor_entities as repo
from lightfast.db.types import utcnow

V1 = "2026-01-01T00:00:00.000000Z"
V2 = "2026-01-02T00:00:00.000000Z"


def connection(services: Services) -> str:
    workspace = services.workspaces.ensure_workspace_id()
    return services.vendors.connections.connect(workspace, "linear", name="acme").source.id


def apply(services: Services, source: str, version: str, *, deleted: bool = False) -> str:
    with services.sessions.begin() as session:
        return repo.apply_snapshot(
            session,
            source_id=source,
            entity_id="issue-1",
            kind="issue",
            version=version,
            payload={"title": "Checkout fails"},
            deleted=deleted,
        )


def live(services: Services, source: str) -> list[tuple[str, str]]:
    with services.sessions() as session:
        return repo.live_entities(session, source)


def test_an_entity_a_listing_missed_comes_back_at_its_version(services: Services) -> None:
    source = connection(services)
    assert apply(services, source, V1) == "applied"
    with services.sessions.begin() as session:  # a complete listing, started after it, did not return it
        gone = repo.mark_unseen_deleted(session, source, ("issue",), utcnow() + timedelta(seconds=5))
    assert gone == ["issue-1"]
    assert live(services, source) == []
    assert apply(services, source, V1) == "applied"  # the next listing returns it, unchanged
    assert live(services, source) == [("issue", "issue-1")]
    with services.sessions() as session:
        row = repo.find_entity(session, source, "issue-1")
        assert row is not None
        assert repo.UNLISTED not in row.payload  # restored with the listing's payload
    assert apply(services, source, V1) == "current"  # and a redelivery of it is one again


def test_a_removal_the_vendor_reported_stays_at_its_version(services: Services) -> None:
    source = connection(services)
    apply(services, source, V1)
    assert apply(services, source, V1, deleted=True) == "applied"  # a remove delivery carries the entity
    assert apply(services, source, V1) == "stale"  # the create delivery, late: stays removed
    assert live(services, source) == []
    assert apply(services, source, V2) == "applied"  # a newer version (an undelete) restores it
    assert live(services, source) == [("issue", "issue-1")]
