"""The ``lightfast`` command: a thin shell over the services the API uses."""

from __future__ import annotations

import html
import json
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from lightfast.errors import ConfigError, InvalidInput, LightfastError, NotFound
from lightfast.ingest.config import validate_config
from lightfast.ingest.pipeline import Progress as PipelineProgress
from lightfast.search.service import SearchRequest
from lightfast.services import Services, build_services
from lightfast.settings import Settings

app = typer.Typer(
    help="Lightfast: index your team's docs and search them.\n\n"
    "Example: lightfast ingest . && lightfast search 'how do I deploy'",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
errors = Console(stderr=True)

WorkspaceOption = Annotated[
    str | None,
    typer.Option("--workspace", "-w", help="Workspace name (default: LIGHTFAST_DEFAULT_WORKSPACE)."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        errors.print(f"[red]error:[/red] invalid settings: {exc}")
        raise typer.Exit(2) from exc
    except LightfastError as exc:
        errors.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(2) from exc


@contextmanager
def services() -> Iterator[Services]:
    built = build_services(load_settings())
    try:
        yield built
    finally:
        built.close()


def fail(exc: LightfastError) -> typer.Exit:
    if isinstance(exc, ConfigError):
        errors.print("[red]error:[/red] the configuration is not valid:")
        for problem in exc.problems:
            errors.print(f"  - {problem}")
    else:
        errors.print(f"[red]error:[/red] {exc.message}")
    return typer.Exit(2 if isinstance(exc, InvalidInput | NotFound) else 1)


def guarded(run: Callable[[], Any]) -> Any:
    try:
        return run()
    except LightfastError as exc:
        raise fail(exc) from exc


@app.command()
def ingest(
    path: Annotated[Path, typer.Argument(help="Directory or git working tree to index.")],
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Index the documents of PATH (per its lightfast.yml) into a workspace.

    Example: lightfast ingest ./my-repo --workspace demo
    """
    with services() as svc:
        config_note = svc_config_note(path)
        if config_note and not as_json:
            console.print(config_note)
        progress = Progress(
            TextColumn("[bold]indexing"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("files"),
            TextColumn("{task.fields[chunks]} chunks"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=errors,
            disable=as_json or not errors.is_terminal,
        )
        task = progress.add_task("ingest", total=None, chunks=0)

        def on_progress(event: PipelineProgress) -> None:
            progress.update(
                task, total=event.documents_total, completed=event.documents_done, chunks=event.chunks_done
            )

        with progress:
            result = guarded(lambda: svc.ingest.ingest_path(path, workspace, on_progress))
    summary = result.summary
    if as_json:
        print(
            json.dumps(
                {
                    "jobId": result.job_id,
                    "status": result.status,
                    "workspace": result.workspace,
                    "store": result.store,
                    **summary.to_dict(),
                },
                indent=2,
            )
        )
        return
    table = Table(title=f"{result.status}: workspace {result.workspace!r}, store {result.store!r}")
    table.add_column("documents", justify="right")
    table.add_column("", justify="right")
    table.add_column("chunks", justify="right")
    table.add_column("", justify="right")
    table.add_row("added", str(summary.documents_added), "embedded", str(summary.chunks_embedded))
    table.add_row("updated", str(summary.documents_updated), "reused", str(summary.chunks_reused))
    table.add_row("unchanged", str(summary.documents_unchanged), "deleted", str(summary.chunks_deleted))
    table.add_row("deleted", str(summary.documents_deleted), "", "")
    table.add_row("failed", str(summary.documents_failed), "", "")
    console.print(table)
    for failure in summary.failures:
        console.print(f"[yellow]skipped[/yellow] {failure.path}: {failure.message}")


def snippet_text(snippet: str) -> Text:
    """Terminal rendering of an HTML snippet: marks become highlighted spans, entities are unescaped."""
    out = Text()
    for index, part in enumerate(re.split(r"</?mark>", snippet)):
        out.append(html.unescape(part), style="reverse" if index % 2 else "")
    return out


def svc_config_note(path: Path) -> str | None:
    from lightfast.ingest.config import DEFAULT_INCLUDE, find_config_file

    if path.is_dir() and find_config_file(path) is None:
        return (
            f"No lightfast.yml in {path}: using the default ({', '.join(DEFAULT_INCLUDE)}) into store 'docs'."
        )
    return None


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="What to look for.")],
    workspace: WorkspaceOption = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=100)] = 10,
    offset: Annotated[int, typer.Option(min=0)] = 0,
    store: Annotated[list[str] | None, typer.Option("--store", help="Only these stores.")] = None,
    source_type: Annotated[
        list[str] | None, typer.Option("--source-type", help="Only these source types.")
    ] = None,
    path_prefix: Annotated[
        str | None, typer.Option("--path-prefix", help="Only paths starting with this.")
    ] = None,
    mode: Annotated[str, typer.Option(help="hybrid, dense or bm25.")] = "hybrid",
    as_json: JsonOption = False,
) -> None:
    """Search a workspace.

    Example: lightfast search "rotate an API key" --limit 5
    """
    with services() as svc:

        def run() -> Any:
            request = SearchRequest(
                workspace_id=svc.workspace_id(workspace),
                query=query,
                limit=limit,
                offset=offset,
                stores=tuple(store or ()),
                source_types=tuple(source_type or ()),
                path_prefix=path_prefix,
                mode=mode,  # type: ignore[arg-type]  # validated by the service
            )
            return svc.search.search(request)

        response = guarded(run)
    if as_json:
        from lightfast.search.serialize import cli_payload

        print(json.dumps(cli_payload(response), indent=2))
        return
    if not response.results:
        console.print("No results.")
    for rank, result in enumerate(response.results, start=response.offset + 1):
        heading = Text(f"{rank}. {result.title}", style="bold")
        heading.append(f"  {result.path} ({result.score:.4g})", style="dim")
        console.print(heading)
        console.print(Text("   ").append_text(snippet_text(result.snippet)))
    lat = response.latency
    console.print(
        f"[dim]{response.total} documents; {lat.total:.1f} ms (embedding {lat.embedding:.1f}, "
        f"retrieval {lat.retrieval:.1f}, fusion {lat.fusion:.1f}); request {response.request_id}[/dim]",
        soft_wrap=True,
    )


@app.command()
def validate(path: Annotated[Path, typer.Argument(help="Repository root holding lightfast.yml.")]) -> None:
    """Check PATH's lightfast.yml and report every problem with its line and reason.

    Example: lightfast validate .
    """
    problems = validate_config(path)
    if problems:
        errors.print(f"[red]{len(problems)} problem(s)[/red] in the configuration of {path}:")
        for problem in problems:
            errors.print(f"  - {problem}")
        raise typer.Exit(1)
    note = svc_config_note(path)
    console.print(note or f"{path}: configuration is valid.")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to bind (default LIGHTFAST_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default LIGHTFAST_PORT).")] = None,
) -> None:
    """Run the HTTP API and the search page.

    Example: lightfast serve --port 8000
    """
    import uvicorn

    from lightfast.api.app import create_app

    settings = load_settings()
    svc = build_services(settings)
    uvicorn.run(create_app(svc), host=host or settings.host, port=port or settings.port, log_level="info")


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
