"""The live feed (lightfast.app.live): job progress and state changes and new activities as events, read
from the database (so a worker in another process is seen), one poll loop per workspace however many
subscribers, subscribers dropped when they go, bounded queues; and GET /v1/events over it."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import create_engine

from lightfast.api.app import create_app
from lightfast.app.container import Services
from lightfast.app.live import (
    OVERLAP,
    Changes,
    Cursor,
    LiveEvent,
    LiveFeed,
    event_id,
    resume_moment,
    waiting_reason,
)
from lightfast.db import jobs as jobs_repo
from lightfast.db import live as live_repo
from lightfast.db.activities import record_activity
from lightfast.db.engine import make_session_factory
from lightfast.db.models import Job
from lightfast.db.statuses import JobStatus, JobTrigger
from lightfast.sdk import Event, Lightfast
from lightfast.sdk._events import EventDecoder

NOW = datetime(2026, 1, 1, 12, tzinfo=UTC)


def job(job_id: str, status: str = "running", processed: int = 0, total: int | None = 10) -> dict[str, Any]:
    return {
        "id": job_id,
        "name": f"Sync {job_id}",
        "status": status,
        "progress": {"processed": processed, "total": total},
        "etaSeconds": None,
    }


# -- the cursor (pure) ---------------------------------------------------------------------------------


def test_first_read_learns_then_changes_are_sent_once() -> None:
    cursor = Cursor(since=NOW - OVERLAP)
    assert cursor.advance(Changes([job("a")], [{"id": "act1"}]), NOW) == []  # primed, nothing sent
    later = NOW + timedelta(seconds=1)
    events = cursor.advance(Changes([job("a", processed=3)], [{"id": "act1"}, {"id": "act2"}]), later)
    assert [(e.kind, e.data["id"]) for e in events] == [("job", "a"), ("activity", "act2")]
    assert all(e.id == event_id(later) for e in events)
    # The overlapping window reads the same rows again: nothing new, nothing sent.
    assert cursor.advance(Changes([job("a", processed=3)], [{"id": "act2"}]), later) == []
    assert cursor.since == later - OVERLAP


@given(
    st.lists(st.tuples(st.sampled_from(["queued", "running", "completed"]), st.integers(0, 5)), max_size=30)
)
def test_a_job_is_sent_exactly_when_what_it_shows_changes(states: list[tuple[str, int]]) -> None:
    cursor = Cursor(since=NOW, primed=True)
    sent: list[tuple[str, int]] = []
    previous: tuple[str, int] | None = None
    expected: list[tuple[str, int]] = []
    for step, (status, processed) in enumerate(states):
        for event in cursor.advance(
            Changes([job("a", status, processed)], []), NOW + timedelta(seconds=step)
        ):
            sent.append((event.data["status"], event.data["progress"]["processed"]))
        if (status, processed) != previous:
            expected.append((status, processed))
        previous = (status, processed)
    assert sent == expected


@pytest.mark.parametrize("value", [None, "", "abc", "-5", "1" * 40])
def test_a_last_event_id_that_names_no_moment_replays_nothing(value: str | None) -> None:
    assert resume_moment(value) is None


def test_last_event_id_round_trips() -> None:
    assert resume_moment(event_id(NOW)) == NOW


# -- fan-out and subscribers (a counting reader stands in for the database) -----------------------------


class CountingReader:
    """A database stand-in: jobs set by the test, and every read counted."""

    def __init__(self) -> None:
        self.jobs: dict[str, dict[str, Any]] = {}
        self.reads: dict[str, int] = {}
        self.lock = threading.Lock()

    def __call__(self, workspace_id: str, since: datetime, now: datetime) -> Changes:
        with self.lock:
            self.reads[workspace_id] = self.reads.get(workspace_id, 0) + 1
            return Changes([dict(j) for j in self.jobs.values()], [])


def run(coroutine: Any) -> Any:
    """Run a scenario on its own event loop in its own thread: the thread running the tests may already
    have a loop running (Playwright's sync API keeps one while a browser is open)."""
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = asyncio.run(asyncio.wait_for(coroutine, 20))
        except BaseException as exc:  # handed to the test's thread
            outcome["error"] = exc

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


async def wait_until(predicate: Callable[[], bool], timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


def test_many_subscribers_share_one_poll_loop_and_all_get_each_event() -> None:
    reader = CountingReader()
    feed = LiveFeed(None, interval=0.02, reader=reader)  # type: ignore[arg-type]

    async def scenario() -> None:
        subscribers = [feed.subscribe("ws1") for _ in range(100)]
        assert feed.watched() == {"ws1": 100}
        await wait_until(lambda: feed.polls("ws1") >= 2)  # primed
        reader.jobs["j1"] = job("j1", processed=4)
        received = await asyncio.gather(*(s.next(5) for s in subscribers))
        assert all(
            e is not None and e.kind == "job" and e.data["progress"]["processed"] == 4 for e in received
        )
        polls = feed.polls("ws1")
        # One loop: a read every interval, not one per subscriber.
        assert reader.reads["ws1"] == polls
        assert polls < 100
        for subscriber in subscribers:
            subscriber.close()

    run(scenario())
    assert feed.watched() == {}


def test_the_poller_stops_when_its_last_subscriber_leaves() -> None:
    reader = CountingReader()
    feed = LiveFeed(None, interval=0.01, reader=reader)  # type: ignore[arg-type]

    async def scenario() -> None:
        one, two = feed.subscribe("ws1"), feed.subscribe("ws1")
        await wait_until(lambda: reader.reads.get("ws1", 0) >= 2)
        one.close()
        assert feed.watched() == {"ws1": 1}
        two.close()
        two.close()  # closing twice is harmless
        assert feed.watched() == {}
        await asyncio.sleep(0.05)
        stopped_at = reader.reads["ws1"]
        await asyncio.sleep(0.1)
        assert reader.reads["ws1"] <= stopped_at + 1  # at most the read under way when it stopped

    run(scenario())
    assert not [t for t in threading.enumerate() if t.name == "live-ws1"]


def test_workspaces_are_polled_apart_and_see_only_their_own() -> None:
    readers = {"ws1": CountingReader(), "ws2": CountingReader()}
    feed = LiveFeed(None, interval=0.02, reader=lambda ws, since, now: readers[ws](ws, since, now))  # type: ignore[arg-type]

    async def scenario() -> None:
        first, second = feed.subscribe("ws1"), feed.subscribe("ws2")
        await wait_until(lambda: feed.polls("ws1") >= 2 and feed.polls("ws2") >= 2)
        readers["ws1"].jobs["mine"] = job("mine")
        event = await first.next(5)
        assert event is not None
        assert event.data["id"] == "mine"
        assert await second.next(0.2) is None
        first.close()
        second.close()

    run(scenario())


def test_a_subscriber_that_falls_behind_gets_a_reset_not_a_backlog() -> None:
    feed = LiveFeed(None, queue_size=3, reader=CountingReader())  # type: ignore[arg-type]

    async def scenario() -> list[LiveEvent]:
        subscriber = feed.subscribe("ws1")
        subscriber.deliver(LiveEvent("job", str(i), {"id": str(i)}) for i in range(10))
        await asyncio.sleep(0.05)
        events = []
        while (event := await subscriber.next(0.05)) is not None:
            events.append(event)
        subscriber.close()
        return events

    events = run(scenario())
    assert [e.kind for e in events] == ["job", "job", "job", "reset"][-len(events) :]
    assert events[-1].kind == "reset"
    assert len(events) <= 3


# -- over the database: a writer with its own engine stands for a worker in another process -------------


@pytest.fixture
def workspace(services: Services) -> str:
    return services.workspaces.ensure_workspace_id()


@pytest.fixture
def other_process(services: Services) -> Iterator[Any]:
    engine = create_engine(services.engine.url)
    yield make_session_factory(engine)
    engine.dispose()


def test_progress_and_state_changes_written_elsewhere_become_events(
    services: Services, workspace: str, other_process: Any
) -> None:
    feed = LiveFeed(services.sessions, services.clock, interval=0.05)

    async def scenario() -> list[LiveEvent]:
        subscriber = feed.subscribe(workspace)
        await wait_until(lambda: feed.polls(workspace) >= 1)
        with other_process.begin() as session:
            job_id = jobs_repo.create_job(
                session,
                workspace_id=workspace,
                organization_id=None,
                name="Ingesting acme/api",
                trigger=JobTrigger.MANUAL,
            ).id
        seen: list[LiveEvent] = []

        async def until(predicate: Callable[[LiveEvent], bool]) -> None:
            while True:
                event = await subscriber.next(5)
                assert event is not None, f"no event after {[e.data.get('status', e.kind) for e in seen]}"
                seen.append(event)
                if predicate(event):
                    return

        await until(lambda e: e.kind == "job" and e.data["status"] == "queued")
        with other_process.begin() as session:
            jobs_repo.start_job(session, job_id)
            jobs_repo.set_progress(session, job_id, 3, 10)
        await until(lambda e: e.kind == "job" and e.data["progress"]["processed"] == 3)
        with other_process.begin() as session:
            # Finishing records the job's activity in the same transaction; the feed streams both.
            jobs_repo.finish_job(session, job_id, status=JobStatus.COMPLETED, output={})
        await until(lambda e: e.kind == "activity" and e.data["action"] == "job.completed")
        subscriber.close()
        return seen

    events = run(scenario())
    jobs = [e.data for e in events if e.kind == "job"]
    assert jobs[0]["name"] == "Ingesting acme/api"
    assert {"queued", "completed"} <= {j["status"] for j in jobs}
    assert any(j["progress"] == {"processed": 3, "total": 10} for j in jobs)
    activity = next(e.data for e in events if e.kind == "activity" and e.data["action"] == "job.completed")
    assert activity["entityId"] == jobs[0]["id"]
    feed.close()


def wait_for_subscriber(services: Services, workspace: str) -> None:
    """Until the stream has subscribed and its poller has read once: a change before that is history."""
    deadline = time.monotonic() + 10
    while not (services.live.watched().get(workspace) and services.live.polls(workspace)):
        assert time.monotonic() < deadline, "the stream never subscribed"
        time.sleep(0.01)


def test_v1_events_streams_the_workspace_and_resumes_from_last_event_id(
    services: Services, workspace: str
) -> None:
    services.live.interval = 0.05
    client = TestClient(create_app(services))
    key = services.api_keys.create(workspace, "events").secret
    headers = {"Authorization": f"Bearer {key}"}

    def writer() -> None:
        wait_for_subscriber(services, workspace)
        with services.sessions.begin() as session:
            jobs_repo.create_job(
                session,
                workspace_id=workspace,
                organization_id=None,
                name="Sync live",
                trigger=JobTrigger.MANUAL,
            )

    thread = threading.Thread(target=writer)
    thread.start()
    with client.stream("GET", "/v1/events", params={"timeout": 2}, headers=headers) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        body = "".join(response.iter_text())
    thread.join()
    assert "event: job" in body
    assert '"name":"Sync live"' in body
    first_id = next(line.split(": ", 1)[1] for line in body.splitlines() if line.startswith("id: "))
    assert services.live.watched() == {}  # the stream's subscription ended with it

    # Resuming from an id a little before the job: the job comes again at once.
    before = str(int(first_id) - 2000)
    with client.stream(
        "GET", "/v1/events", params={"timeout": 1}, headers={**headers, "Last-Event-ID": before}
    ) as response:
        resumed = "".join(response.iter_text())
    assert '"name":"Sync live"' in resumed

    refused = client.get("/v1/events", params={"timeout": 0}, headers=headers)
    assert refused.status_code == 400
    assert "timeout" in refused.json()["message"]


# -- the SDK: Lightfast.events over the same stream ----------------------------------------------------


def sse(kind: str, data: dict[str, Any], ident: str | None) -> str:
    text = json.dumps(data, indent=1)  # several data: lines
    lines = [f"event: {kind}", *(f"data: {line}" for line in text.splitlines())]
    if ident is not None:
        lines.append(f"id: {ident}")
    return "\n".join(lines) + "\n\n"


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["job", "activity", "reset"]),
            st.dictionaries(st.text(max_size=5), st.text(max_size=20), max_size=3),
            st.one_of(st.none(), st.from_regex(r"[0-9]{1,13}", fullmatch=True)),
        ),
        max_size=10,
    )
)
def test_the_sdk_decoder_reads_back_what_a_stream_says(
    events: list[tuple[str, dict[str, str], str | None]],
) -> None:
    stream = ": ping\n\n" + "".join(sse(kind, data, ident) for kind, data, ident in events)
    decoder = EventDecoder()
    decoded = [e for line in stream.split("\n") if (e := decoder.feed(line)) is not None]
    last: str | None = None
    expected = []
    for kind, data, ident in events:
        last = ident if ident is not None else last
        expected.append(Event(kind, data, last))
    assert decoded == expected


def test_the_sdk_iterates_the_stream(services: Services, workspace: str) -> None:
    services.live.interval = 0.05
    key = services.api_keys.create(workspace, "sdk").secret
    with TestClient(create_app(services)) as http:
        client = Lightfast(key, base_url=str(http.base_url), http_client=http)

        def writer() -> None:
            wait_for_subscriber(services, workspace)
            with services.sessions.begin() as session:
                jobs_repo.create_job(
                    session,
                    workspace_id=workspace,
                    organization_id=None,
                    name="Sync sdk",
                    trigger=JobTrigger.MANUAL,
                )

        thread = threading.Thread(target=writer)
        thread.start()
        seen = list(client.events(timeout=2))
        thread.join()
        assert [e.data["name"] for e in seen if e.type == "job"] == ["Sync sdk"]
        assert seen[0].id is not None
        with pytest.raises(ValueError, match="timeout"):
            client.events(timeout=0)


def test_a_client_that_disconnects_is_dropped(services: Services, workspace: str) -> None:
    key = services.api_keys.create(workspace, "gone").secret
    client = TestClient(create_app(services))
    with client.stream(
        "GET", "/v1/events", params={"timeout": 600}, headers={"Authorization": f"Bearer {key}"}
    ) as response:
        assert response.status_code == 200
        wait_for_subscriber(services, workspace)
    deadline = time.monotonic() + 10
    while services.live.watched():  # the stream notices within a second or so, not after 600 s
        assert time.monotonic() < deadline, "the subscription outlived its client"
        time.sleep(0.05)


@given(
    claimed_total=st.integers(0, 10),
    busy_source=st.booleans(),
    limit=st.integers(1, 10),
    claimed=st.booleans(),
)
def test_a_queued_job_says_which_rule_holds_it(
    claimed_total: int, busy_source: bool, limit: int, claimed: bool
) -> None:
    job = Job(id="job_q", source_id="src_1", engine_run_id="job_q" if claimed else None)
    by_source: dict[str | None, int] = {"src_1": 1} if busy_source else {}
    reason = waiting_reason(job, claimed_total, by_source, limit)
    if claimed:
        assert "claimed" in reason
    elif busy_source:
        assert "per source" in reason
    elif claimed_total >= limit:
        assert f"{claimed_total} of {limit}" in reason
    else:
        assert "waiting for a worker" in reason


def test_searches_stay_off_the_live_stream(services: Services, workspace: str) -> None:
    """Each search by key is an activity; streaming them made every open console cost each search."""
    since = services.clock.now() - timedelta(minutes=1)
    with services.sessions.begin() as session:
        for category in ("search", "job"):
            record_activity(
                session,
                workspace_id=workspace,
                actor_type="api_key",
                actor_id="key_x",
                category=category,
                action=category,
                entity_type=category,
                entity_id=None,
            )
    with services.sessions() as session:
        streamed = [a.category for a in live_repo.activities_since(session, workspace, since)]
    assert streamed == ["job"]
