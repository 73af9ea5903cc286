"""The durable sync workflow. DBOS records each step's output; after a crash the workflow resumes at the
first unfinished step, and a retry forks a failed or cancelled run from there.

The workflow id is the job id, so every step knows its job from ``DBOS.workflow_id``, including in a fork,
whose new id is the new job's.
"""

from __future__ import annotations

from typing import Any

from dbos import DBOS

from lightfast.app.pipeline import SyncSummary
from lightfast.app import runtime
from lightfast.app.sync import SyncPlan
from lightfast.db.statuses import JobStatus

WORKFLOW_NAME = "lightfast.sync"


def _job_id() -> str:
    job_id = DBOS.workflow_id
    if job_id is None:  # pragma: no cover - only reachable by calling a step outside a workflow
        raise RuntimeError("sync steps run inside the sync workflow")
    return job_id


@DBOS.step(name="lightfast.plan")
def plan_step() -> dict[str, Any]:
    services = runtime.current()
    plan = services.runner.plan(_job_id()).to_dict()
    plan["batch"] = services.settings.ingest_batch_documents  # fixed for the life of the run
    return plan


@DBOS.step(name="lightfast.index_batch")
def index_batch_step(plan: dict[str, Any], start: int) -> dict[str, Any]:
    runner = runtime.current().runner
    job_id = _job_id()
    if runner.is_cancelled(job_id):
        return {"cancelled": True}
    paths = plan["upserts"][start : start + plan["batch"]]
    summary = runner.run_batch(
        job_id, SyncPlan.from_dict(plan), paths, start, should_stop=lambda: runner.is_cancelled(job_id)
    )
    return {"cancelled": runner.is_cancelled(job_id), "summary": summary.to_dict()}


@DBOS.step(name="lightfast.delete_removed")
def delete_removed_step(plan: dict[str, Any]) -> dict[str, Any]:
    runner = runtime.current().runner
    job_id = _job_id()
    if runner.is_cancelled(job_id):
        return {"cancelled": True}
    return {"cancelled": False, "summary": runner.delete_removed(job_id, SyncPlan.from_dict(plan)).to_dict()}


@DBOS.step(name="lightfast.finish")
def finish_step(summary: dict[str, Any]) -> str:
    return runtime.current().runner.finish(_job_id(), SyncSummary.from_dict(summary))


@DBOS.step(name="lightfast.fail")
def fail_step(message: str) -> None:
    runtime.current().runner.fail(_job_id(), message)


@DBOS.workflow(name=WORKFLOW_NAME, max_recovery_attempts=10)
def sync_workflow() -> dict[str, Any]:
    try:
        plan = plan_step()
        total = SyncSummary()
        for start in range(0, len(plan["upserts"]), plan["batch"]):
            result = index_batch_step(plan, start)
            if "summary" in result:
                total.merge(SyncSummary.from_dict(result["summary"]))
            if result["cancelled"]:
                return {"status": JobStatus.CANCELLED, **total.to_dict()}
        result = delete_removed_step(plan)
        if result["cancelled"]:
            return {"status": JobStatus.CANCELLED, **total.to_dict()}
        total.merge(SyncSummary.from_dict(result["summary"]))
        status = finish_step(total.to_dict())
        return {"status": status, **total.to_dict()}
    except Exception as exc:
        # A cancel through the engine raises a BaseException subclass, which is not caught here.
        fail_step(str(exc) or type(exc).__name__)
        raise


DISCONNECT_WORKFLOW_NAME = "lightfast.disconnect"


@DBOS.step(name="lightfast.disconnect.start")
def disconnect_start_step() -> int:
    return runtime.current().disconnects.start(_job_id())


@DBOS.step(name="lightfast.disconnect.remove_batch")
def disconnect_batch_step(done_before: int) -> list[int]:
    documents, chunks = runtime.current().disconnects.remove_batch(_job_id(), done_before)
    return [documents, chunks]


@DBOS.step(name="lightfast.disconnect.finish")
def disconnect_finish_step(documents: int, chunks: int) -> str:
    return runtime.current().disconnects.finish(_job_id(), documents, chunks)


@DBOS.step(name="lightfast.disconnect.fail")
def disconnect_fail_step(message: str) -> None:
    runtime.current().disconnects.fail(_job_id(), message)


@DBOS.workflow(name=DISCONNECT_WORKFLOW_NAME, max_recovery_attempts=10)
def disconnect_workflow() -> dict[str, Any]:
    """Remove a disconnected source's documents, chunks and vectors, then the source."""
    try:
        disconnect_start_step()
        documents = chunks = 0
        while True:
            deleted, removed = disconnect_batch_step(documents)
            if not deleted:
                break
            documents, chunks = documents + deleted, chunks + removed
        status = disconnect_finish_step(documents, chunks)
        return {"status": status, "documents_deleted": documents, "chunks_deleted": chunks}
    except Exception as exc:
        disconnect_fail_step(str(exc) or type(exc).__name__)
        raise
