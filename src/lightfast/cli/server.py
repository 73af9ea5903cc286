"""``lightfast serve`` and ``lightfast worker``."""

from __future__ import annotations

import signal
import threading
from typing import Annotated

import typer

from lightfast.app.container import build_services, start_search_processes
from lightfast.app.engine import JobEngine, WorkerLock
from lightfast.app.logs import configure_logging, uvicorn_options
from lightfast.cli.common import app, errors, load_settings


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to bind (default LIGHTFAST_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default LIGHTFAST_PORT).")] = None,
    worker: Annotated[bool, typer.Option("--worker/--no-worker", help="Run a job worker in-process.")] = True,
) -> None:
    """Run the HTTP API and the search page, with a job worker unless --no-worker.

    Example: lightfast serve --port 8000
    """
    import uvicorn

    from lightfast.api.app import create_app

    settings = load_settings()
    configure_logging(settings)
    svc = build_services(settings)
    start_search_processes(svc)  # they load their indexes while the server starts
    lock = WorkerLock(settings.home_dir)
    engine = None
    if worker:
        if lock.acquire():
            engine = JobEngine(svc).start()
        else:
            errors.print("[yellow]another worker holds this LIGHTFAST_HOME; serving without one[/yellow]")
    # uvicorn shuts down gracefully on SIGTERM, then raises the signal again: with the default handler
    # that kills the process before the ``finally`` below, so the job engine, the worker lock and the
    # search processes were never stopped. Exiting with SystemExit runs it.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        uvicorn.run(
            create_app(svc),
            host=host or settings.host,
            port=port or settings.port,
            log_level="info",
            **uvicorn_options(settings),
        )
    finally:
        if engine is not None:
            engine.stop()
        lock.release()
        svc.close()
        errors.print("lightfast serve stopped")


def _exit_on_sigterm(signum: int, _frame: object) -> None:
    # 0, as gunicorn does: a stop that was asked for and done cleanly is a success (systemd would mark a
    # unit that exits 143 after ``systemctl stop`` as failed).
    raise SystemExit(0)


@app.command()
def worker() -> None:
    """Run a job worker until interrupted (SIGINT or SIGTERM).

    Example: LIGHTFAST_WORKER_ID=worker-1 lightfast worker
    """
    settings = load_settings()
    lock = WorkerLock(settings.home_dir)
    if not lock.acquire():
        errors.print("[red]error:[/red] another worker already runs on this LIGHTFAST_HOME")
        raise typer.Exit(1)
    svc = build_services(settings)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    engine = JobEngine(svc).start()
    errors.print(f"worker {settings.worker_id} running; Ctrl-C to stop")
    try:
        stop.wait()
    finally:
        engine.stop()
        lock.release()
        svc.close()
