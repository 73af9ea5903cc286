"""Live updates: what changes in a workspace (job progress and state, new activities) as a stream of
events, read from the database so a worker in another process is seen like one in this process.

One poller thread per watched workspace reads the changes with two cheap queries a poll and fans them
out to every subscriber of that workspace: a hundred open consoles cost one query loop, not a hundred.
The poller stops when its last subscriber leaves. A subscriber's queue is bounded: one that falls behind
gets a ``reset`` event (reload the state) instead of an ever-growing backlog.

Also the Jobs tab's board: the workspace's running, queued (with why each waits) and recent jobs."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlalchemy.orm import Session, sessionmaker

from lightfast.app.clock import Clock, SystemClock
from lightfast.app.schemas.events import LiveActivityOut, LiveJobOut
from lightfast.db import jobs as jobs_repo
from lightfast.db import live as live_repo
from lightfast.db.activity_models import Activity
from lightfast.db.models import Job
from lightfast.db.statuses import TERMINAL, JobStatus

log = logging.getLogger("lightfast.live")

EventKind = Literal["job", "activity", "reset"]
#: Rows written this long before a poll are read again by the next one: a transaction commits a little
#: after it stamps ``updated_at``, and another process's clock may be a little behind ours.
OVERLAP = timedelta(seconds=5)
DEFAULT_INTERVAL = 0.75  # seconds between polls: progress bars move about once a second
DEFAULT_QUEUE = 256  # events a subscriber may have unread before it is told to reset


@dataclass(frozen=True)
class LiveEvent:
    kind: EventKind
    id: str  # the poll's moment in epoch milliseconds: a client resumes from it (Last-Event-ID)
    data: dict[str, Any]

    @functools.cached_property
    def encoded(self) -> str:
        """The data as the stream sends it, encoded once: one poll's events go to every subscriber of
        the workspace, and encoding them per subscriber cost a hundred consoles a hundred times over."""
        return json.dumps(self.data, separators=(",", ":"))


def job_data(job: Job, now: datetime) -> dict[str, Any]:
    """A job as the live feed sends it (camelCase, like the API): the status it shows at ``now``."""
    status = jobs_repo.shown_status(job, now)
    return LiveJobOut.of(job, status, running=status == JobStatus.RUNNING).wire()


def activity_data(activity: Activity) -> dict[str, Any]:
    return LiveActivityOut.model_validate(activity).wire()


def event_id(moment: datetime) -> str:
    return str(int(moment.timestamp() * 1000))


def resume_moment(last_event_id: str | None) -> datetime | None:
    """The moment a ``Last-Event-ID`` names, or None when it names none (then nothing is replayed)."""
    if not last_event_id or not last_event_id.isdigit() or len(last_event_id) > 15:
        return None
    return datetime.fromtimestamp(int(last_event_id) / 1000, tz=UTC)


@dataclass(frozen=True)
class Changes:
    """What one poll read: jobs (as sent) and activities written since the cursor."""

    jobs: list[dict[str, Any]]
    activities: list[dict[str, Any]]


Reader = Callable[[str, datetime, datetime], Changes]  # (workspace, since, now) -> changes


def database_reader(sessions: sessionmaker[Session]) -> Reader:
    def read(workspace_id: str, since: datetime, now: datetime) -> Changes:
        with sessions() as session:
            jobs = live_repo.jobs_changed_since(session, workspace_id, since)
            activities = live_repo.activities_since(session, workspace_id, since)
            return Changes([job_data(j, now) for j in jobs], [activity_data(a) for a in activities])

    return read


@dataclass
class Cursor:
    """Where a workspace's poller is: reads overlap by :data:`OVERLAP`, so what was already sent is
    remembered (a job by what it shows, an activity by id) and not sent twice."""

    since: datetime
    # The first read learns what exists and sends only what changed after ``opened`` (the moment the
    # first subscriber came): a change just before the poller's first read is still news to it.
    primed: bool = False
    opened: datetime | None = None
    jobs: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    activities: dict[str, datetime] = field(default_factory=dict)

    def advance(self, changes: Changes, now: datetime) -> list[LiveEvent]:
        """The events a read gives, and the cursor moved to ``now`` minus the overlap."""
        ident = event_id(now)
        events: list[LiveEvent] = []
        for job in changes.jobs:
            shown = (job["status"], job["progress"]["processed"], job["progress"]["total"], job["etaSeconds"])
            if self.jobs.get(job["id"]) != shown:
                self.jobs[job["id"]] = shown
                if self._news(job.get("updatedAt")):
                    events.append(LiveEvent("job", ident, job))
        for activity in changes.activities:
            if activity["id"] not in self.activities:
                self.activities[activity["id"]] = now
                if self._news(activity.get("timestamp")):
                    events.append(LiveEvent("activity", ident, activity))
        self.primed = True
        self.since = now - OVERLAP
        # Forget activities older than any read can return again; jobs stay (one small tuple each, and a
        # job read again after a quiet spell must not be sent when nothing it shows changed).
        old = self.since - OVERLAP
        self.activities = {k: v for k, v in self.activities.items() if v >= old}
        return events

    def _news(self, written: str | None) -> bool:
        if self.primed:
            return True
        if self.opened is None or written is None:
            return False
        return datetime.fromisoformat(written) >= self.opened


class Subscription:
    """One listener (an open console, an SSE client) of a workspace's events, on its own event loop."""

    def __init__(self, feed: LiveFeed, workspace_id: str, maxsize: int) -> None:
        self.feed = feed
        self.workspace_id = workspace_id
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[LiveEvent] = asyncio.Queue(maxsize)
        self.closed = False

    def deliver(self, events: Iterable[LiveEvent]) -> None:
        """Called from the poller thread: hands the events to this subscriber's loop."""
        batch = list(events)
        if batch and not self.closed:
            with contextlib.suppress(RuntimeError):  # the loop closed: the subscriber is gone
                self._loop.call_soon_threadsafe(self._put, batch)

    def _put(self, batch: list[LiveEvent]) -> None:
        for event in batch:
            try:
                self._queue.put_nowait(event)
            except asyncio.QueueFull:
                # Too far behind to catch up event by event: drop the backlog, ask for a reload.
                while not self._queue.empty():
                    self._queue.get_nowait()
                self._queue.put_nowait(LiveEvent("reset", event.id, {}))
                return

    async def next(self, timeout: float) -> LiveEvent | None:
        """The next event, or None after ``timeout`` seconds without one."""
        try:
            return await asyncio.wait_for(self._queue.get(), timeout)
        except TimeoutError:
            return None

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.feed.unsubscribe(self)


class _Poller:
    def __init__(self, feed: LiveFeed, workspace_id: str) -> None:
        self.feed = feed
        self.workspace_id = workspace_id
        self.subscribers: set[Subscription] = set()
        self.stop = threading.Event()
        opened = feed.clock.now()
        self.cursor = Cursor(since=opened - OVERLAP, opened=opened)
        self.polls = 0
        self.thread = threading.Thread(target=self._run, name=f"live-{workspace_id}", daemon=True)

    def _run(self) -> None:
        while not self.stop.is_set():
            self.poll()
            self.stop.wait(self.feed.interval)

    def poll(self) -> None:
        now = self.feed.clock.now()
        try:
            changes = self.feed.reader(self.workspace_id, self.cursor.since, now)
        except Exception:  # the database may be briefly away; the next poll tries again
            log.exception("live poll of workspace %s failed", self.workspace_id)
            return
        self.polls += 1
        events = self.cursor.advance(changes, now)
        with self.feed.lock:
            subscribers = list(self.subscribers)
        for subscriber in subscribers:
            subscriber.deliver(events)


class LiveFeed:
    """The workspaces' event streams: ``subscribe`` inside an event loop, read with ``next``, ``close``
    when the client goes."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        clock: Clock | None = None,
        *,
        interval: float = DEFAULT_INTERVAL,
        queue_size: int = DEFAULT_QUEUE,
        reader: Reader | None = None,
    ) -> None:
        self.sessions = sessions
        self.clock = clock or SystemClock()
        self.interval = interval
        self.queue_size = queue_size
        self.reader = reader or database_reader(sessions)
        self.lock = threading.Lock()
        self._pollers: dict[str, _Poller] = {}

    def subscribe(self, workspace_id: str) -> Subscription:
        subscription = Subscription(self, workspace_id, self.queue_size)
        with self.lock:
            poller = self._pollers.get(workspace_id)
            if poller is None:
                poller = self._pollers[workspace_id] = _Poller(self, workspace_id)
                poller.thread.start()
            poller.subscribers.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        with self.lock:
            poller = self._pollers.get(subscription.workspace_id)
            if poller is None:
                return
            poller.subscribers.discard(subscription)
            if not poller.subscribers:
                poller.stop.set()
                del self._pollers[subscription.workspace_id]

    def watched(self) -> dict[str, int]:
        """Subscribers by workspace (for tests and /metrics)."""
        with self.lock:
            return {ws: len(p.subscribers) for ws, p in self._pollers.items()}

    def polls(self, workspace_id: str) -> int:
        with self.lock:
            poller = self._pollers.get(workspace_id)
            return poller.polls if poller else 0

    def catch_up(self, workspace_id: str, since: datetime) -> list[LiveEvent]:
        """What changed since ``since`` (a resumed stream's Last-Event-ID, less the overlap): every job
        written since as it is now, and the activities. A client may see a job it already knew again; an
        activity it already has carries the same id."""
        now = self.clock.now()
        changes = self.reader(workspace_id, since - OVERLAP, now)
        ident = event_id(now)
        return [LiveEvent("job", ident, job) for job in changes.jobs] + [
            LiveEvent("activity", ident, a) for a in changes.activities
        ]

    def board(self, workspace_id: str, workspace_limit: int, recent: int = 20) -> JobBoard:
        """The workspace's jobs as the Jobs tab shows them: running and recent newest first, queued
        oldest first (the order they start in), each queued one with why it waits."""
        return _board(self.sessions, self.clock, workspace_id, workspace_limit, recent)

    def close(self) -> None:
        with self.lock:
            for poller in self._pollers.values():
                poller.stop.set()
            self._pollers.clear()


# -- the Jobs tab ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class QueuedJob:
    job: Job
    reason: str


@dataclass(frozen=True)
class JobBoard:
    running: list[Job]
    queued: list[QueuedJob]
    recent: list[Job]


def waiting_reason(
    job: Job, claimed_total: int, claimed_by_source: dict[str | None, int], workspace_limit: int
) -> str:
    """Why a queued job has not started, by the dispatcher's rules (``lightfast.db.jobs.claim``)."""
    if job.engine_run_id is not None:
        return "claimed by a worker; starting"
    if job.source_id is not None and claimed_by_source.get(job.source_id):
        return "waiting for this source's running job (one job at a time per source)"
    if claimed_total >= workspace_limit:
        return f"waiting for the workspace limit ({claimed_total} of {workspace_limit} jobs running)"
    return "waiting for a worker to pick it up"


def _board(
    sessions: sessionmaker[Session], clock: Clock, workspace_id: str, workspace_limit: int, recent: int = 20
) -> JobBoard:
    now = clock.now()
    with sessions() as session:
        active = live_repo.jobs_changed_since(session, workspace_id, None)
        total, by_source = live_repo.claimed_counts(session, workspace_id)
        latest = jobs_repo.query_jobs(session, workspace_id, limit=recent + len(active) + 1)
        session.expunge_all()  # detached: the status shown below is set on them, never written
    for job in (*active, *latest):
        shown = jobs_repo.shown_status(job, now)
        if shown != job.status:
            job.status = shown
    running = [j for j in active if j.status in (JobStatus.RUNNING, JobStatus.INTERRUPTED)]
    queued = [
        QueuedJob(j, waiting_reason(j, total, by_source, workspace_limit))
        for j in active
        if j.status == JobStatus.QUEUED
    ]
    finished = [j for j in latest if j.status in TERMINAL][:recent]
    running.sort(key=lambda j: j.created_at, reverse=True)
    queued.sort(key=lambda q: q.job.created_at)
    return JobBoard(running, queued, finished)


async def stream(
    feed: LiveFeed,
    workspace_id: str,
    *,
    last_event_id: str | None,
    seconds: float,
    disconnected: Callable[[], Awaitable[bool]],
) -> AsyncIterator[LiveEvent]:
    """A client's events for ``seconds`` (then it reconnects, resuming from its last event id): first
    what it missed since ``last_event_id``, then live ones; its subscription ends with the stream, also
    when the client goes away (checked every second)."""
    since = resume_moment(last_event_id)
    subscription = feed.subscribe(workspace_id)
    try:
        if since is not None:
            for missed in await asyncio.to_thread(feed.catch_up, workspace_id, since):
                yield missed
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while (remaining := deadline - loop.time()) > 0:
            if await disconnected():
                return
            event = await subscription.next(min(remaining, 1.0))
            if event is not None:
                yield event
    finally:
        subscription.close()
