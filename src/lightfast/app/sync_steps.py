"""A sync as plain data and steps: the plan (``SyncPlan``), the steps of one job over plain dicts
(``SyncSteps``: what a workflow engine records and replays), and ``run_sync``, the one body that runs them.
The durable workflow (``lightfast.app.workflows``) hands it steps DBOS records; ``SyncRunner.run_inline``
hands it ``RunnerSteps``, which run in this thread. What each step does: ``lightfast.app.sync``."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy.exc import SQLAlchemyError

from lightfast.app.pipeline import Failure, SyncSummary
from lightfast.db.statuses import JobStatus
from lightfast.errors import LightfastError

if TYPE_CHECKING:
    from lightfast.app.sync import SyncRunner

log = logging.getLogger("lightfast.sync")

DATABASE_ERROR = "a database error stopped this sync; the server log has the details"


def public_message(exc: BaseException) -> str:
    """What a user may read of an error that ended a run: never a database's message, which quotes SQL
    and row values (that goes to the server log)."""
    if isinstance(exc, LightfastError):
        return exc.message
    if isinstance(exc, SQLAlchemyError):
        return DATABASE_ERROR
    return str(exc) or type(exc).__name__


@contextmanager
def database_errors_hidden(job_id: str) -> Iterator[None]:
    """Turn a database error leaving a step into one whose text is safe to show (a step's error is
    recorded by the workflow engine and shown in the job's step trace)."""
    try:
        yield
    except SQLAlchemyError as exc:
        log.exception("job %s: a database error stopped the sync", job_id)
        raise LightfastError(DATABASE_ERROR) from exc


@dataclass(frozen=True)
class SyncPlan:
    """What one sync will do; a plain-data step output the workflow engine records."""

    store_id: str
    connection_id: str
    source_type: str
    upserts: list[str]  # paths to (re)index
    removals: list[str]  # document ids to delete
    revision: str | None = None  # the commit every batch reads, for versioned sources
    failures: list[Failure] = field(default_factory=list)  # what the listing could not enter
    warnings: list[str] = field(default_factory=list)  # about the store's settings

    def to_dict(self) -> dict[str, Any]:
        return {
            "store_id": self.store_id,
            "connection_id": self.connection_id,
            "source_type": self.source_type,
            "upserts": self.upserts,
            "removals": self.removals,
            "revision": self.revision,
            "failures": [asdict(f) for f in self.failures],
            "warnings": self.warnings,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SyncPlan:
        return cls(
            data["store_id"],
            data["connection_id"],
            data["source_type"],
            list(data["upserts"]),
            list(data["removals"]),
            data.get("revision"),
            [Failure(**f) for f in data.get("failures", [])],  # absent from plans recorded before them
            list(data.get("warnings", [])),
        )

    def summary(self) -> SyncSummary:
        """What the plan itself contributes to the run's summary: the listing's failures, the warnings."""
        return SyncSummary(
            documents_failed=len(self.failures), failures=list(self.failures), warnings=list(self.warnings)
        )


class SyncSteps(Protocol):
    """The steps of one sync job, over plain data (what a workflow engine records and replays)."""

    def plan(self) -> dict[str, Any]:
        """The ``SyncPlan`` as a dict, with ``batch``: documents per batch, fixed for the run."""

    def index_batch(self, plan: dict[str, Any], start: int) -> dict[str, Any]:
        """``{"cancelled": bool, "summary": ...}``; no summary when cancelled before the batch began."""

    def delete_removed(self, plan: dict[str, Any]) -> dict[str, Any]:
        """``{"cancelled": bool, "summary": ...}``, like ``index_batch``."""

    def finish(self, summary: dict[str, Any]) -> str:
        """The job's final status."""

    def fail(self, message: str) -> None:
        """Mark the job failed with ``message`` (safe to show: see ``public_message``)."""


def run_sync(steps: SyncSteps) -> dict[str, Any]:
    """The body of a sync: plan, every batch, the deletions, finish; fail on an error. Deterministic in
    the steps' outputs, as a workflow engine's replay after a crash requires."""
    try:
        plan = steps.plan()
        total = SyncPlan.from_dict(plan).summary()
        for start in range(0, len(plan["upserts"]), plan["batch"]):
            result = steps.index_batch(plan, start)
            if "summary" in result:
                total.merge(SyncSummary.from_dict(result["summary"]))
            if result["cancelled"]:
                return {"status": JobStatus.CANCELLED, **total.to_dict()}
        result = steps.delete_removed(plan)
        if result["cancelled"]:
            return {"status": JobStatus.CANCELLED, **total.to_dict()}
        total.merge(SyncSummary.from_dict(result["summary"]))
        status = steps.finish(total.to_dict())
        return {"status": status, **total.to_dict()}
    except Exception as exc:
        # A cancel through the engine raises a BaseException subclass, which is not caught here.
        steps.fail(public_message(exc))
        raise


class RunnerSteps:
    """The steps of one job run by a ``SyncRunner`` in this thread; database errors leave them with a
    message safe to show. ``on_batch(done, total, chunks)`` hears of every finished batch."""

    def __init__(
        self, runner: SyncRunner, job_id: str, on_batch: Callable[[int, int, int], None] | None = None
    ) -> None:
        self.runner, self.job_id, self.on_batch = runner, job_id, on_batch
        self._chunks = 0

    def plan(self) -> dict[str, Any]:
        with database_errors_hidden(self.job_id):
            plan = self.runner.plan(self.job_id).to_dict()
        plan["batch"] = self.runner.settings.ingest_batch_documents  # fixed for the life of the run
        return plan

    def index_batch(self, plan: dict[str, Any], start: int) -> dict[str, Any]:
        runner, job_id = self.runner, self.job_id
        with database_errors_hidden(job_id):
            if runner.is_cancelled(job_id):
                return {"cancelled": True}
            paths = plan["upserts"][start : start + plan["batch"]]
            summary = runner.run_batch(
                job_id,
                SyncPlan.from_dict(plan),
                paths,
                start,
                should_stop=lambda: runner.is_cancelled(job_id),
            )
            cancelled = runner.is_cancelled(job_id)
        if self.on_batch is not None:
            self._chunks += summary.chunks_embedded + summary.chunks_reused
            self.on_batch(min(start + len(paths), len(plan["upserts"])), len(plan["upserts"]), self._chunks)
        return {"cancelled": cancelled, "summary": summary.to_dict()}

    def delete_removed(self, plan: dict[str, Any]) -> dict[str, Any]:
        with database_errors_hidden(self.job_id):
            if self.runner.is_cancelled(self.job_id):
                return {"cancelled": True}
            summary = self.runner.delete_removed(self.job_id, SyncPlan.from_dict(plan))
        return {"cancelled": False, "summary": summary.to_dict()}

    def finish(self, summary: dict[str, Any]) -> str:
        with database_errors_hidden(self.job_id):
            return str(self.runner.finish(self.job_id, SyncSummary.from_dict(summary)))

    def fail(self, message: str) -> None:
        with database_errors_hidden(self.job_id):
            self.runner.fail(self.job_id, message)
