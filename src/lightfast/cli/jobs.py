"""``lightfast ingest`` and ``lightfast jobs ...``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from lightfast.app.container import Services
from lightfast.app.engine import JobEngine, WorkerLock
from lightfast.app.schemas import EnqueuedOut, IngestRunOut, JobDetailOut, JobOut
from lightfast.app.store_settings import store_request
from lightfast.cli.common import (
    JsonOption,
    OwnerOption,
    WorkspaceOption,
    app,
    console,
    errors,
    guarded,
    print_json,
    services,
)
from lightfast.cli.search import config_note
from lightfast.db.models import Job
from lightfast.db.statuses import SUCCEEDED, JobStatus

jobs_app = typer.Typer(help="Watch and control background jobs.", no_args_is_help=True)
app.add_typer(jobs_app, name="jobs")

COUNTS = (
    "documents_added",
    "documents_updated",
    "documents_unchanged",
    "documents_deleted",
    "documents_failed",
    "chunks_embedded",
    "chunks_reused",
    "chunks_deleted",
)


@app.command()
def ingest(
    path: Annotated[Path, typer.Argument(help="Directory or git working tree to index.")],
    workspace: WorkspaceOption = None,
    detach: Annotated[bool, typer.Option("--detach", help="Queue the job and print its id at once.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Index the documents of PATH (per its lightfast.yml) into a workspace, as a job.

    Without a running worker (lightfast serve or lightfast worker) this process runs one until the job
    ends. Example: lightfast ingest ./my-repo --workspace demo
    """
    with services() as svc:
        registered = guarded(lambda: svc.ingest.register_local(path, workspace))
        note = config_note(path)
        if note and not as_json:
            errors.print(note)
        enqueued = guarded(
            lambda: svc.jobs.enqueue_sync(
                registered.workspace_id,
                registered.connection_id,
                name=f"Ingest {path.resolve().name}",
                # LIGHTFAST_CHUNK_SIZE and the like set here go with the job to whichever worker runs it.
                store_settings=store_request(svc.settings),
            )
        )
        if detach:
            if as_json:
                print_json(EnqueuedOut(job_id=enqueued.job_id), indent=None)
            else:
                print(enqueued.job_id)
            return
        job = follow(svc, registered.workspace_id, enqueued.job_id, show=not as_json)
        store = svc.workspaces.store_name(job.store_id)
        workspace_name = svc.workspaces.ref(registered.workspace_id)
    if as_json:
        print_json(IngestRunOut.from_job(job, workspace=workspace_name, store=store))
    else:
        print_summary(job)
    if job.status not in SUCCEEDED:
        raise typer.Exit(1)


@contextmanager
def local_worker(svc: Services) -> Iterator[None]:
    """A worker in this process while the caller waits for a job, unless another one (lightfast serve,
    lightfast worker) holds this LIGHTFAST_HOME."""
    lock = WorkerLock(svc.settings.home_dir)
    engine = JobEngine(svc).start() if lock.acquire() else None
    try:
        yield
    finally:
        if engine is not None:
            engine.stop()
        lock.release()


def follow(svc: Services, workspace_id: str, job_id: str, *, show: bool) -> Job:
    """Wait for a job with a progress bar, running a worker here if none holds this LIGHTFAST_HOME."""
    progress = Progress(
        TextColumn("[bold]indexing"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("files"),
        TextColumn("{task.fields[chunks]} chunks"),
        TimeElapsedColumn(),
        TextColumn("ETA {task.fields[eta]}"),
        console=errors,
        disable=not show or not errors.is_terminal,
    )
    task = progress.add_task("ingest", total=None, chunks=0, eta=eta_text(None))

    def update(job: Job) -> None:
        chunks = (job.output or {}).get("chunks_done", (job.output or {}).get("chunks_embedded", 0))
        progress.update(
            task,
            total=job.progress_total,
            completed=job.progress_processed,
            chunks=chunks,
            eta=eta_text(JobOut.from_row(job).eta_seconds),  # the job's own estimate, as the API shows
        )

    with local_worker(svc), progress:
        return svc.jobs.wait(workspace_id, job_id, on_update=update)


def eta_text(seconds: float | None) -> str:
    """An estimate as ``H:MM:SS`` (``-:--:--`` when there is none)."""
    return "-:--:--" if seconds is None else str(timedelta(seconds=round(seconds)))


def print_summary(job: Job) -> None:
    output = job.output or {}
    table = Table(title=f"{job.status}: {job.name} ({job.id})")
    for column in ("documents", "", "chunks", ""):
        table.add_column(column, justify="right")
    rows = [
        ("added", "embedded"),
        ("updated", "reused"),
        ("unchanged", "deleted"),
        ("deleted", None),
        ("failed", None),
    ]
    for docs, chunks in rows:
        table.add_row(
            docs,
            str(output.get(f"documents_{docs}", 0)),
            chunks or "",
            str(output.get(f"chunks_{chunks}", 0)) if chunks else "",
        )
    console.print(table)
    for failure in output.get("failures", []):
        console.print(f"[yellow]skipped[/yellow] {failure['path']}: {failure['message']}")
    for warning in output.get("warnings", []):
        console.print(f"[yellow]warning[/yellow] {warning}")
    if job.error_message:
        console.print(f"[red]{job.error_message}[/red]")


@jobs_app.command("list")
def list_jobs(
    workspace: WorkspaceOption = None,
    status: Annotated[
        str | None, typer.Option(help=f"Only jobs with this status: {', '.join(JobStatus)}.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=100)] = 20,
    as_json: JsonOption = False,
) -> None:
    """List recent jobs, newest first.

    Example: lightfast jobs list --status failed
    """
    with services() as svc:
        jobs, _ = guarded(
            lambda: svc.jobs.list_jobs(svc.workspaces.workspace_id(workspace), status=status, limit=limit)
        )
    if as_json:
        print_json([JobOut.from_row(j) for j in jobs])
        return
    table = Table()
    for column in ("id", "name", "status", "trigger", "progress", "duration", "created"):
        table.add_column(column)
    for job in jobs:
        total = "?" if job.progress_total is None else job.progress_total
        duration = f"{job.duration_ms / 1000:.1f} s" if job.duration_ms is not None else ""
        table.add_row(
            job.id,
            job.name,
            job.status,
            job.trigger,
            f"{job.progress_processed}/{total}",
            duration,
            job.created_at.strftime("%Y-%m-%d %H:%M:%S"),
        )
    console.print(table)


@jobs_app.command("show")
def show_job(job_id: str, workspace: OwnerOption = None, as_json: JsonOption = False) -> None:
    """Show a job: progress, steps and per-document failures.

    Example: lightfast jobs show job_0123
    """
    with services() as svc:
        detail = guarded(lambda: svc.jobs.detail(svc.workspaces.of_job(job_id, workspace), job_id))
    if as_json:
        print_json(JobDetailOut.from_detail(detail))
        return
    job = detail.job
    total = "?" if job.progress_total is None else job.progress_total
    console.print(
        f"[bold]{job.name}[/bold] {job.id}: {job.status} ({job.trigger}), "
        f"{job.progress_processed}/{total} documents"
        + (f", ETA {eta_text(eta)}" if (eta := JobOut.from_row(job).eta_seconds) is not None else "")
    )
    if job.retry_of:
        console.print(f"retry of {job.retry_of}")
    if job.error_message:
        console.print(f"[red]{job.error_message}[/red]")
    steps = Table(title="steps")
    for column in ("#", "step", "status", "ms", "error"):
        steps.add_column(column)
    for step in detail.steps:
        steps.add_row(str(step.id), step.name, step.status, str(step.duration_ms or ""), step.error or "")
    console.print(steps)
    for failure in detail.failures:
        console.print(f"[yellow]failed[/yellow] {failure.path} ({failure.reason}): {failure.message}")


@jobs_app.command("cancel")
def cancel_job(job_id: str, workspace: OwnerOption = None) -> None:
    """Cancel a queued or running job; it stops at its next step boundary.

    Example: lightfast jobs cancel job_0123
    """
    with services() as svc:
        job = guarded(lambda: svc.jobs.cancel(svc.workspaces.of_job(job_id, workspace), job_id, "cli"))
    console.print(f"{job.id}: {job.status}")


@jobs_app.command("retry")
def retry_job(job_id: str, workspace: OwnerOption = None) -> None:
    """Re-run a failed or cancelled job as a new job, resuming after its last finished step.

    Example: lightfast jobs retry job_0123
    """
    with services() as svc:
        job = guarded(lambda: svc.jobs.retry(svc.workspaces.of_job(job_id, workspace), job_id))
    console.print(f"{job.id}: queued (retry of {job_id})")
