"""The durable sync workflow. DBOS records each step's output; after a crash the workflow resumes at the
first unfinished step, and a retry forks a failed or cancelled run from there.

The workflow id is the job id, so every step knows its job from ``DBOS.workflow_id``, including in a fork,
whose new id is the new job's.
"""

from __future__ import annotations

from typing import Any

from dbos import DBOS

from lightfast.app import logs, runtime
from lightfast.app.sync_steps import run_sync
from lightfast.db.statuses import JobStatus

WORKFLOW_NAME = "lightfast.sync"


def _job_id() -> str:
    job_id = DBOS.workflow_id
    if job_id is None:  # pragma: no cover - only reachable by calling a step outside a workflow
        raise RuntimeError("sync steps run inside the sync workflow")
    logs.bind_job(job_id)  # each step starts here: the lines it logs name its job (JSON logs)
    return job_id


# Each step runs ``SyncRunner.steps(job_id)``'s step of the same name, whose database errors leave it
# with a message safe to show (DBOS records a step's error and the job's step trace shows it).


@DBOS.step(name="lightfast.plan")
def plan_step() -> dict[str, Any]:
    return runtime.current().runner.steps(_job_id()).plan()


@DBOS.step(name="lightfast.index_batch")
def index_batch_step(plan: dict[str, Any], start: int) -> dict[str, Any]:
    return runtime.current().runner.steps(_job_id()).index_batch(plan, start)


@DBOS.step(name="lightfast.delete_removed")
def delete_removed_step(plan: dict[str, Any]) -> dict[str, Any]:
    return runtime.current().runner.steps(_job_id()).delete_removed(plan)


@DBOS.step(name="lightfast.finish")
def finish_step(summary: dict[str, Any]) -> str:
    return runtime.current().runner.steps(_job_id()).finish(summary)


@DBOS.step(name="lightfast.fail")
def fail_step(message: str) -> None:
    runtime.current().runner.steps(_job_id()).fail(message)


class _RecordedSteps:
    """The sync's steps as DBOS steps: each output is recorded, and a recovery replays them."""

    def plan(self) -> dict[str, Any]:
        return plan_step()

    def index_batch(self, plan: dict[str, Any], start: int) -> dict[str, Any]:
        return index_batch_step(plan, start)

    def delete_removed(self, plan: dict[str, Any]) -> dict[str, Any]:
        return delete_removed_step(plan)

    def finish(self, summary: dict[str, Any]) -> str:
        return finish_step(summary)

    def fail(self, message: str) -> None:
        fail_step(message)


@DBOS.workflow(name=WORKFLOW_NAME, max_recovery_attempts=10)
def sync_workflow() -> dict[str, Any]:
    return run_sync(_RecordedSteps())


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


EMBEDDING_SWITCH_WORKFLOW_NAME = "lightfast.embedding_switch"


@DBOS.step(name="lightfast.embedding_switch.begin")
def switch_begin_step() -> int:
    return runtime.current().embedding_switches.begin(_job_id())


@DBOS.step(name="lightfast.embedding_switch.embed_batch")
def switch_batch_step() -> int:
    return runtime.current().embedding_switches.embed_batch(_job_id())


@DBOS.step(name="lightfast.embedding_switch.flip")
def switch_flip_step() -> bool:
    return runtime.current().embedding_switches.flip(_job_id())


@DBOS.step(name="lightfast.embedding_switch.drop_staged")
def switch_drop_step() -> int:
    return runtime.current().embedding_switches.drop_staged(_job_id())


@DBOS.step(name="lightfast.embedding_switch.finish")
def switch_finish_step() -> str:
    return runtime.current().embedding_switches.finish(_job_id())


@DBOS.step(name="lightfast.embedding_switch.fail")
def switch_fail_step(message: str) -> None:
    runtime.current().embedding_switches.fail(_job_id(), message)


@DBOS.workflow(name=EMBEDDING_SWITCH_WORKFLOW_NAME, max_recovery_attempts=10)
def embedding_switch_workflow() -> dict[str, Any]:
    """Build a store's vectors with its new model while the old ones serve, flip, drop the staging."""
    try:
        texts = switch_begin_step()
        while True:
            staged = switch_batch_step()
            if staged < 0:  # cancelled: the store keeps its old model
                return {"status": JobStatus.CANCELLED}
            if staged == 0 and switch_flip_step():
                break
        while switch_drop_step():
            pass
        return {"status": switch_finish_step(), "texts": texts}
    except Exception as exc:
        switch_fail_step(str(exc) or type(exc).__name__)
        raise
