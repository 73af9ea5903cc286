"""Notifications (seed 003 §8): signed generic POSTs and Slack messages to a local HTTP stand-in, retried
with backoff on a fake clock, each delivery recorded as an activity, nothing lost across a restart of the
service, and target URLs refused where they could reach inside the network."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from lightfast.api.app import create_app
from lightfast.app.container import Services, build_services
from lightfast.app.notification_rules import (
    check_target_url,
    health_of_outcomes,
    retry_delay,
    sign,
    slack_message,
    verify,
)
from lightfast.app.notifications import MAX_ATTEMPTS, NotificationService
from lightfast.db.engine import make_engine
from lightfast.db.models import Activity
from lightfast.db.notification_models import NotificationDelivery
from lightfast.errors import InvalidInput
from lightfast.testing.clock import FakeClock
from tests.conftest import make_settings, write

# -- pure parts --------------------------------------------------------------------------------------


@given(st.text(min_size=1, max_size=64), st.integers(0, 2**40), st.binary(max_size=512))
def test_signature_verifies_and_binds_body_and_timestamp(secret: str, timestamp: int, body: bytes) -> None:
    signature = sign(secret, timestamp, body)
    assert signature.startswith("sha256=")
    assert len(signature) == len("sha256=") + 64
    assert verify(secret, timestamp, body, signature)
    assert not verify(secret, timestamp + 1, body, signature)
    assert not verify(secret, timestamp, body + b"x", signature)
    assert not verify(secret + "x", timestamp, body, signature)


@given(st.integers(1, 200), st.floats(0.0, 1.0))
def test_retry_delay_grows_is_capped_and_jittered_within_half(attempt: int, jitter: float) -> None:
    delay = retry_delay(attempt, base=5.0, cap=1800.0, jitter=jitter)
    ceiling = min(1800.0, 5.0 * 2 ** (attempt - 1))
    assert ceiling / 2 <= delay <= ceiling
    assert retry_delay(attempt + 1, jitter=0.0) >= retry_delay(attempt, jitter=0.0)


def test_slack_message_has_text_and_blocks_and_escapes_markup() -> None:
    message = slack_message(
        {
            "event": "job.failed",
            "workspaceId": "ws_1",
            "job": {"id": "job_1", "name": "Sync a/b", "error": "<!channel> & <http://x|y>"},
        }
    )
    assert set(message) == {"text", "blocks"}
    assert "Sync a/b" in message["text"]
    assert "<!channel>" not in json.dumps(message)  # no mention or link injected by an error message
    assert "&lt;!channel&gt; &amp;" in message["text"]
    section, context = message["blocks"]
    assert section["type"] == "section"
    assert section["text"]["type"] == "mrkdwn"
    assert context["type"] == "context"
    assert "job_1" in context["elements"][0]["text"]


@pytest.mark.parametrize(
    ("counts", "status"),
    [
        ({}, "unknown"),
        ({"cancelled": 3}, "unknown"),
        ({"completed": 19, "failed": 1}, "healthy"),
        ({"completed": 17, "completed_with_errors": 1, "failed": 2}, "degraded"),
        ({"completed": 1, "failed": 4}, "down"),
    ],
)
def test_health_rule(counts: dict[str, int], status: str) -> None:
    assert health_of_outcomes(counts)[0] == status


def resolver(addresses: dict[str, list[str]]) -> Any:
    return lambda host: addresses[host]


@pytest.mark.parametrize(
    "url", ["ftp://example.com/x", "file:///etc/passwd", "http://", "javascript:alert(1)"]
)
def test_only_http_urls(url: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        check_target_url(url, production=False)
    assert refused.value.field == "url"


@pytest.mark.parametrize(
    "address", ["127.0.0.1", "10.1.2.3", "192.168.0.1", "169.254.169.254", "::1", "fd00::1", "0.0.0.0"]
)
def test_production_refuses_internal_addresses(address: str) -> None:
    with pytest.raises(InvalidInput, match="private, loopback or reserved"):
        check_target_url(
            "https://hooks.example/x", production=True, resolve=resolver({"hooks.example": [address]})
        )
    # In development a local receiver is allowed (and is how these tests run).
    assert check_target_url("http://hooks.example/x", production=False, resolve=resolver({}))


def test_production_refuses_a_name_with_any_internal_address() -> None:
    both = resolver({"hooks.example": ["93.184.216.34", "10.0.0.5"]})
    with pytest.raises(InvalidInput):
        check_target_url("https://hooks.example/x", production=True, resolve=both)
    public = resolver({"hooks.example": ["93.184.216.34"]})
    assert check_target_url("https://hooks.example/x", production=True, resolve=public)


# -- against a local receiver ------------------------------------------------------------------------


@dataclass
class Receiver:
    url: str
    statuses: list[int]  # answered in order; 200 once they run out
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver("", [])

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            state.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(state.statuses.pop(0) if state.statuses else 200)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def services(tmp_path: Path, clock: FakeClock) -> Iterator[Services]:
    settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'lf.db'}")
    built = build_services(settings, engine=make_engine(settings.resolved_database_url), clock=clock)
    yield built
    built.close()


def fail_a_job(services: Services, tmp_path: Path) -> str:
    workspace_id = services.workspaces.ensure_workspace_id()
    root = write(tmp_path / "repo", {"a.md": "# A\n"})
    job_id = services.sources.connect_local(workspace_id, root).job_id
    services.runner.fail(job_id, "the repository is gone")
    return job_id


def deliveries(services: Services) -> list[NotificationDelivery]:
    with services.sessions() as session:
        return list(session.scalars(select(NotificationDelivery)))


def notification_activities(services: Services) -> list[Activity]:
    with services.sessions() as session:
        return list(session.scalars(select(Activity).where(Activity.category == "notification")))


def test_job_failure_is_signed_retried_with_backoff_and_recorded(
    services: Services, receiver: Receiver, clock: FakeClock, tmp_path: Path
) -> None:
    workspace_id = services.workspaces.ensure_workspace_id()
    created = services.notifications.create_target(workspace_id, kind="generic", url=receiver.url)
    assert created.secret
    assert services.notifications.list_targets(workspace_id)[0].has_secret
    receiver.statuses[:] = [503, 500]
    job_id = fail_a_job(services, tmp_path)
    clock.advance(60)  # past the real time the failure was written at

    assert services.notifications.deliver_due() == 1  # 503: retried later
    assert services.notifications.deliver_due() == 0  # not due again yet: the backoff holds it
    (pending,) = deliveries(services)
    assert pending.status == "pending"
    assert pending.attempts == 1
    assert pending.last_error == "HTTP 503"
    first_wait = pending.next_attempt_at - clock.now()
    assert timedelta(seconds=2) <= first_wait <= timedelta(seconds=5)

    clock.advance(first_wait + timedelta(seconds=1))
    assert services.notifications.deliver_due() == 1  # 500
    (pending,) = deliveries(services)
    second_wait = pending.next_attempt_at - clock.now()
    assert second_wait >= timedelta(seconds=5)  # the backoff doubled (within its jitter)
    clock.advance(second_wait + timedelta(seconds=1))
    assert services.notifications.deliver_due() == 1  # 200

    (done,) = deliveries(services)
    assert done.status == "delivered"
    assert done.attempts == 3
    headers, body = receiver.received[-1]
    assert verify(
        created.secret, int(headers["x-lightfast-timestamp"]), body, headers["x-lightfast-signature"]
    )
    assert headers["x-lightfast-event"] == "job.failed"
    payload = json.loads(body)
    assert payload["job"]["id"] == job_id
    assert payload["job"]["error"] == "the repository is gone"
    (activity,) = [a for a in notification_activities(services) if a.action == "notification.delivered"]
    assert activity.details["attempts"] == 3
    assert activity.details["event"] == "job.failed"


def test_slack_target_gets_slack_shape_and_no_signature(
    services: Services, receiver: Receiver, clock: FakeClock, tmp_path: Path
) -> None:
    workspace_id = services.workspaces.ensure_workspace_id()
    created = services.notifications.create_target(workspace_id, kind="slack", url=receiver.url)
    assert created.secret is None
    assert "…" in created.target.url  # the webhook URL is a credential: shown redacted
    fail_a_job(services, tmp_path)
    clock.advance(60)  # past the real time the failure was written at
    services.notifications.deliver_due()
    headers, body = receiver.received[-1]
    assert "x-lightfast-signature" not in headers
    message = json.loads(body)
    assert set(message) == {"text", "blocks"}
    assert "the repository is gone" in message["text"]


def test_a_refusal_is_final_and_recorded(
    services: Services, receiver: Receiver, clock: FakeClock, tmp_path: Path
) -> None:
    workspace_id = services.workspaces.ensure_workspace_id()
    services.notifications.create_target(workspace_id, kind="generic", url=receiver.url)
    receiver.statuses[:] = [404]
    fail_a_job(services, tmp_path)
    clock.advance(60)  # past the real time the failure was written at
    services.notifications.deliver_due()
    (failed,) = deliveries(services)
    assert failed.status == "failed"
    assert failed.attempts == 1
    assert [a.action for a in notification_activities(services)][-1] == "notification.failed"


def test_gives_up_after_max_attempts(
    services: Services, receiver: Receiver, clock: FakeClock, tmp_path: Path
) -> None:
    workspace_id = services.workspaces.ensure_workspace_id()
    services.notifications.create_target(workspace_id, kind="generic", url=receiver.url)
    receiver.statuses[:] = [500] * (MAX_ATTEMPTS + 5)
    fail_a_job(services, tmp_path)
    for _ in range(MAX_ATTEMPTS + 2):
        clock.advance(timedelta(hours=2))
        services.notifications.deliver_due()
    (failed,) = deliveries(services)
    assert failed.status == "failed"
    assert failed.attempts == MAX_ATTEMPTS
    assert len(receiver.received) == MAX_ATTEMPTS


def test_nothing_is_lost_on_restart(
    services: Services, receiver: Receiver, clock: FakeClock, tmp_path: Path
) -> None:
    workspace_id = services.workspaces.ensure_workspace_id()
    services.notifications.create_target(workspace_id, kind="generic", url=receiver.url)
    fail_a_job(services, tmp_path)  # queued in the job's own transaction; no delivery attempted yet
    services.notifications.close()
    restarted = NotificationService(services.settings, services.sessions, clock)
    clock.advance(60)  # past the real time the failure was written at
    assert restarted.deliver_due() == 1
    assert deliveries(services)[0].status == "delivered"


def test_a_delivery_claimed_by_one_worker_is_not_sent_by_another(
    services: Services, receiver: Receiver, clock: FakeClock, tmp_path: Path
) -> None:
    workspace_id = services.workspaces.ensure_workspace_id()
    services.notifications.create_target(workspace_id, kind="generic", url=receiver.url)
    fail_a_job(services, tmp_path)
    clock.advance(60)  # past the real time the failure was written at
    other = NotificationService(services.settings, services.sessions, clock)
    assert services.notifications.deliver_due() + other.deliver_due() == 1
    assert len(receiver.received) == 1


def test_health_change_is_recorded_and_notified(
    services: Services, receiver: Receiver, clock: FakeClock
) -> None:
    workspace_id = services.workspaces.ensure_workspace_id()
    reading = {"status": "healthy"}
    service = NotificationService(
        services.settings,
        services.sessions,
        clock,
        health=lambda ws: (reading["status"], "2 of 5 jobs failed"),
    )
    service.create_target(workspace_id, kind="generic", url=receiver.url, events=["health.changed"])
    assert service.check_health() == 0  # the first reading is a baseline
    assert service.check_health() == 0
    reading["status"] = "down"
    assert service.check_health() == 1
    assert service.check_health() == 0  # told once
    with services.sessions() as session:
        changes = list(session.scalars(select(Activity).where(Activity.action == "health.changed")))
    assert [(a.details["previous"], a.details["status"]) for a in changes] == [("healthy", "down")]
    clock.advance(60)  # past the real time the failure was written at
    service.deliver_due()
    payload = json.loads(receiver.received[-1][1])
    assert payload["health"] == {"status": "down", "previous": "healthy", "reason": "2 of 5 jobs failed"}


def test_unsubscribed_events_are_not_sent(services: Services, receiver: Receiver, tmp_path: Path) -> None:
    workspace_id = services.workspaces.ensure_workspace_id()
    services.notifications.create_target(
        workspace_id, kind="generic", url=receiver.url, events=["health.changed"]
    )
    fail_a_job(services, tmp_path)
    assert deliveries(services) == []


def test_production_service_refuses_a_loopback_target(services: Services) -> None:
    production = services.settings.model_copy(update={"environment": "production"})
    service = NotificationService(production, services.sessions, services.clock)
    with pytest.raises(InvalidInput) as refused:
        service.create_target(
            services.workspaces.ensure_workspace_id(), kind="generic", url="http://127.0.0.1:9/x"
        )
    assert refused.value.field == "url"


# -- the API -----------------------------------------------------------------------------------------


def test_api_creates_lists_and_deletes_targets_and_shows_the_secret_once(services: Services) -> None:
    services.workspaces.ensure_workspace_id()
    client = TestClient(create_app(services))
    created = client.post(
        "/v1/notifications/targets", json={"kind": "generic", "url": "http://127.0.0.1:9/h"}
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["secret"].startswith("lfsig_")
    assert body["events"] == ["job.failed", "health.changed"]
    listed = client.get("/v1/notifications/targets").json()["items"]
    assert [t["id"] for t in listed] == [body["id"]]
    assert "secret" not in listed[0]
    assert listed[0]["hasSecret"] is True
    refused = client.post("/v1/notifications/targets", json={"kind": "generic", "url": "gopher://x"})
    assert refused.status_code == 400
    assert "url" in refused.text
    unknown_event = client.post(
        "/v1/notifications/targets", json={"kind": "generic", "url": "http://x/h", "events": ["job.done"]}
    )
    assert unknown_event.status_code == 400
    assert client.delete(f"/v1/notifications/targets/{body['id']}").status_code == 200
    assert client.get("/v1/notifications/targets").json()["items"] == []
    assert client.delete(f"/v1/notifications/targets/{body['id']}").status_code == 404


def test_sdk_adds_lists_and_removes_targets(services: Services) -> None:
    from lightfast.sdk import Lightfast

    key = services.api_keys.create(services.workspaces.ensure_workspace_id(), "sdk").secret
    with TestClient(create_app(services)) as http:
        client = Lightfast(key, base_url=str(http.base_url), http_client=http)
        created = client.create_notification_target("generic", "http://127.0.0.1:9/h", events=["job.failed"])
        assert created.secret
        assert created.events == ["job.failed"]
        listed = client.notification_targets()
        assert [t.id for t in listed] == [created.id]
        assert listed[0].secret is None
        assert listed[0].has_secret
        assert client.delete_notification_target(created.id).id == created.id
        assert client.notification_targets() == []
        with pytest.raises(ValueError, match="kind"):
            client.create_notification_target("email", "http://x/")


def test_signing_secret_is_sealed_at_rest_and_a_wrong_key_fails_the_delivery(
    services: Services, receiver: Receiver, clock: FakeClock, tmp_path: Path
) -> None:
    from lightfast.app.secrets import SecretBox, new_key
    from lightfast.db.notification_models import NotificationTarget

    workspace_id = services.workspaces.ensure_workspace_id()
    created = services.notifications.create_target(workspace_id, kind="generic", url=receiver.url)
    assert created.secret
    with services.sessions() as session:
        stored = session.get(NotificationTarget, created.target.id)
        assert stored is not None
        assert stored.secret is not None
        assert stored.secret.startswith("lf1.")
        assert created.secret not in stored.secret
    fail_a_job(services, tmp_path)
    clock.advance(60)
    elsewhere = NotificationService(services.settings, services.sessions, clock, box=SecretBox(new_key()))
    assert elsewhere.deliver_due() == 1
    (failed,) = deliveries(services)
    assert failed.status == "failed"
    assert failed.last_error is not None
    assert failed.last_error.startswith("the signing secret cannot be read")
    assert receiver.received == []  # nothing unsigned went out
