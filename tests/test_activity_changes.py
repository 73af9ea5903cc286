"""Changes on the timeline as the services that make them record them: who (a key, a console user, the
CLI) created or revoked a key, made or renamed a workspace or store, cancelled a job; each row with its
status and a summary that the text filter searches. And the pure wording, for any details at all."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st

from lightfast.api.app import create_app
from lightfast.app.container import Services
from lightfast.db.activities import ActivityFilters
from lightfast.insights.activity import MAX_SUMMARY, STATUSES, describe

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=400),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)


@given(st.text(max_size=80), st.dictionaries(st.text(max_size=20), JSON, max_size=8))
def test_any_action_and_details_get_a_status_and_one_bounded_printable_line(
    action: str, details: dict[str, Any]
) -> None:
    described = describe(action, details)
    assert described.status in STATUSES
    assert len(described.summary) <= MAX_SUMMARY
    assert described.summary.isprintable()


@given(st.sampled_from(["failed", "refused", "cancelled", "queued", "started", "completed"]))
def test_a_jobs_status_follows_its_action(last: str) -> None:
    expected = {"started": "running", "completed": "ok"}.get(last, last)
    assert describe(f"job.{last}", {"name": "Sync docs"}).status == expected


def test_summaries_say_what_happened() -> None:
    finished = describe(
        "job.completed",
        {
            "name": "Sync acme/api",
            "duration_ms": 3200,
            "impact": {"documents_added": 12, "documents_removed": 0},
        },
    )
    assert finished.summary == "Sync acme/api: completed (12 documents added, 3.2 s)"
    refused = describe("webhook.refused", {"type": "linear", "reason": "bad_signature"})
    assert (refused.status, refused.summary) == ("refused", "linear delivery refused: bad signature")
    stale = describe("webhook.delivery", {"type": "github", "event": "push", "result": "duplicate"})
    assert (stale.status, stale.summary) == ("ignored", "github push delivery duplicate")
    assert describe("api_key.revoked", {"name": "ci"}).summary == "API key ci revoked"
    assert describe("search", {"status": 500}).status == "failed"
    assert describe("health.changed", {"to": "down"}).status == "failed"


def rows(services: Services, workspace: str, **filters: Any) -> list[Any]:
    return services.activity.page(workspace, ActivityFilters(**filters), limit=200).items


def test_changes_made_through_the_api_name_the_key_and_what_changed(services: Services) -> None:
    workspace = services.workspaces.ensure_workspace_id()
    created = services.api_keys.create(workspace, "admin")
    with TestClient(create_app(services)) as client:
        auth = {"Authorization": f"Bearer {created.secret}"}
        key = client.post("/v1/api-keys", json={"name": "ci"}, headers=auth).json()
        assert client.delete(f"/v1/api-keys/{key['id']}", headers=auth).status_code == 200
        assert client.delete(f"/v1/api-keys/{key['id']}", headers=auth).status_code == 200  # again
        other = client.post("/v1/workspaces", json={"name": "research"}, headers=auth).json()
        assert (
            client.patch(f"/v1/workspaces/{workspace}", json={"name": "home"}, headers=auth).status_code
            == 200
        )
        store = client.post("/v1/stores", json={"name": "notes"}, headers=auth).json()

    keys = rows(services, workspace, category="api_key")
    assert [(a.action, a.actor_type, a.actor_id, a.entity_id) for a in reversed(keys)] == [
        ("api_key.created", "system", None, created.key.id),  # made in-process, by no one in particular
        ("api_key.created", "api_key", created.key.id, key["id"]),
        ("api_key.revoked", "api_key", created.key.id, key["id"]),  # once: the second revoke changed nothing
    ]
    assert keys[0].summary == "API key ci revoked"
    assert "secret" not in str(keys[0].details).lower()

    (renamed,) = rows(services, workspace, category="workspace")
    assert (renamed.action, renamed.details["to"], renamed.actor_id) == (
        "workspace.renamed",
        "home",
        created.key.id,
    )
    (made,) = rows(services, other["id"], category="workspace")
    assert (made.action, made.actor_id) == ("workspace.created", created.key.id)
    (store_made,) = rows(services, workspace, category="store")
    assert (store_made.action, store_made.entity_id) == ("store.created", store["id"])

    # The text filter reads the summary people see.
    assert [a.id for a in rows(services, workspace, text="ci revoked")] == [keys[0].id]


def test_who_cancelled_a_job_is_its_actor(services: Services, tmp_path: Any) -> None:
    workspace = services.workspaces.ensure_workspace_id()
    root = tmp_path / "docs"
    root.mkdir()
    (root / "lightfast.yml").write_text("version: 1\nstore: docs\ninclude:\n  - '**/*.md'\n")
    connected = services.sources.connect_local(workspace, root)
    services.jobs.cancel(workspace, connected.job_id, cancelled_by="user:usr_42")
    (cancelled,) = rows(services, workspace, text="job.cancelled")
    assert (cancelled.actor_type, cancelled.actor_id, cancelled.status) == ("user", "usr_42", "cancelled")
    assert cancelled.source_id == connected.source.id
    (queued,) = rows(services, workspace, text="job.queued")
    assert queued.actor_type == "system"  # queued by the connection, cancelled by the user
