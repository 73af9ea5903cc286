"""Usage records written with group commit, on SQLite and PostgreSQL: callers that arrive while a batch is
being written are written together in the next one, every record is committed before its call returns,
the hourly roll-up of a batch equals its rows, and a batch that fails fails every call in it (and only
those)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lightfast.app.container import Services, build_services
from lightfast.app.usage import ApiCall, SearchUsage, UsageService, _Search
from lightfast.db.activity_models import Activity
from lightfast.db.models import Metric, MetricHourly
from tests.conftest import make_settings

CALLERS = 12


@pytest.fixture
def services(tmp_path: Path, database_url: str) -> Iterator[Services]:
    svc = build_services(make_settings(tmp_path, database_url))
    try:
        yield svc
    finally:
        svc.close()


def search_call(workspace_id: str, number: int) -> ApiCall:
    return ApiCall(
        workspace_id=workspace_id,
        key_id="key_test",
        method="POST",
        endpoint="/v1/search",
        status=200,
        elapsed_ms=10.0 + number,
        request_id=f"req_{number}",
        address="127.0.0.1",
        entity_id=None,
        search=SearchUsage(latency_ms=5.0 + number, mode="hybrid"),
    )


class HeldFirstBatch(UsageService):
    """Holds its first transaction open until every other caller has queued behind it."""

    def __init__(self, services: Services) -> None:
        super().__init__(services.sessions)
        self.queued = threading.Event()  # set by run_callers once every other caller waits
        self.sizes: list[int] = []

    def _write(self, session: Session, records: list[ApiCall | _Search]) -> None:  # type: ignore[override]
        self.sizes.append(len(records))
        if len(self.sizes) == 1:
            assert self.queued.wait(30), "the other callers never queued"
        UsageService._write(session, records)


def wait_until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < deadline
        time.sleep(0.005)


def queued_callers(usage: UsageService) -> int:
    with usage._group.changed:
        return len(usage._group.queue)


def run_callers(usage: HeldFirstBatch, calls: list[ApiCall]) -> list[BaseException | None]:
    """The first call starts a batch alone; the others arrive while it is written; ``queued`` is set
    once all of them wait."""
    outcomes: list[BaseException | None] = [None] * len(calls)

    def call(i: int) -> None:
        try:
            usage.record_api_call(calls[i])
        except BaseException as exc:  # the test reports what each caller saw
            outcomes[i] = exc

    first = threading.Thread(target=call, args=(0,))
    first.start()
    wait_until(lambda: usage._group.writing)  # the first caller is inside its transaction
    rest = [threading.Thread(target=call, args=(i,)) for i in range(1, len(calls))]
    for thread in rest:
        thread.start()
    wait_until(lambda: queued_callers(usage) == len(rest))
    usage.queued.set()
    for thread in [first, *rest]:
        thread.join(60)
        assert not thread.is_alive()
    return outcomes


def test_callers_queued_behind_a_batch_are_written_together(services: Services) -> None:
    workspace = services.workspaces.ensure_workspace_id("default")
    usage = HeldFirstBatch(services)
    outcomes = run_callers(usage, [search_call(workspace, n) for n in range(CALLERS)])

    assert outcomes == [None] * CALLERS
    assert usage.sizes == [1, CALLERS - 1]  # one transaction for everything that queued meanwhile
    assert usage.batches == 2
    with services.sessions() as session:
        metrics = session.execute(
            select(Metric.type, func.count(), func.sum(Metric.value), func.max(Metric.value))
            .where(Metric.workspace_id == workspace)
            .group_by(Metric.type)
            .order_by(Metric.type)
        ).all()
        hourly = session.execute(
            select(
                MetricHourly.type,
                func.sum(MetricHourly.count),
                func.sum(MetricHourly.total),
                func.max(MetricHourly.maximum),
            )
            .where(MetricHourly.workspace_id == workspace)
            .group_by(MetricHourly.type)
            .order_by(MetricHourly.type)
        ).all()
        searches = session.scalars(
            select(Activity.entity_id).where(Activity.workspace_id == workspace, Activity.action == "search")
        ).all()
    latencies = [5.0 + n for n in range(CALLERS)]
    assert [tuple(r) for r in metrics] == [
        ("api_calls", CALLERS, float(CALLERS), 1.0),
        ("queries_count", CALLERS, float(CALLERS), 1.0),
        ("query_latency", CALLERS, sum(latencies), max(latencies)),
    ]
    assert [tuple(r) for r in hourly] == [tuple(r) for r in metrics]
    assert sorted(str(entity) for entity in searches) == sorted(f"req_{n}" for n in range(CALLERS))


class FailingSecondBatch(HeldFirstBatch):
    def _write(self, session: Session, records: list[ApiCall | _Search]) -> None:  # type: ignore[override]
        super()._write(session, records)
        if len(self.sizes) == 2:
            raise RuntimeError("the database went away")


def test_a_failed_batch_fails_each_of_its_callers_and_writes_none_of_them(services: Services) -> None:
    workspace = services.workspaces.ensure_workspace_id("default")
    usage = FailingSecondBatch(services)
    outcomes = run_callers(usage, [search_call(workspace, n) for n in range(CALLERS)])

    assert outcomes[0] is None
    assert all(isinstance(o, RuntimeError) for o in outcomes[1:])
    usage.record_search(workspace, 3.0, "lexical")  # the next batch writes again
    with services.sessions() as session:
        counts = dict(
            session.execute(
                select(Metric.type, func.count())
                .where(Metric.workspace_id == workspace)
                .group_by(Metric.type)
            ).all()
        )
    # The first call's three rows, and the later search's two: the failed batch rolled back whole.
    assert counts == {"api_calls": 1, "queries_count": 2, "query_latency": 2}
    assert not usage._group.writing
    assert usage._group.queue == []
