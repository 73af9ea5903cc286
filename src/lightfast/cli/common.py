"""What every command shares: the app, settings, services, and how errors are shown."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from lightfast.app.container import Services, build_services
from lightfast.app.schemas import Out
from lightfast.errors import ConfigError, InvalidInput, LightfastError, NotFound
from lightfast.settings import Settings, settings_from_environment

T = TypeVar("T")

app = typer.Typer(
    help="Lightfast: index your team's docs and search them.\n\n"
    "Example: lightfast ingest . && lightfast search 'how do I deploy'",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
errors = Console(stderr=True, soft_wrap=True)  # error lines stay whole, so paths can be copied

WorkspaceOption = Annotated[
    str | None,
    typer.Option(
        "--workspace",
        "-w",
        help="Workspace: NAME, or ORG/NAME in another organization (default: the default workspace, "
        "marked in `lightfast workspaces list`).",
    ),
]
# Commands on an id (a job, a source) act in the id's own workspace; --workspace only checks it.
OwnerOption = Annotated[
    str | None,
    typer.Option(
        "--workspace",
        "-w",
        help="Fail unless the id is in this workspace (NAME or ORG/NAME); default: the id's own workspace.",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


def load_settings() -> Settings:
    try:
        return settings_from_environment()
    except LightfastError as exc:  # one line naming the variable (a value may hold "[", not markup)
        errors.print(f"[red]error:[/red] {escape(exc.message)}")
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


def print_json(shape: Out | Sequence[Out], *, indent: int | None = 2) -> None:
    """Print a wire shape of ``lightfast.app.schemas`` (or a list of them) for ``--json``: the JSON the
    API sends for it."""
    data = shape.wire() if isinstance(shape, Out) else [item.wire() for item in shape]
    print(json.dumps(data, indent=indent))


def guarded(run: Callable[[], T]) -> T:
    try:
        return run()
    except LightfastError as exc:
        raise fail(exc) from exc
