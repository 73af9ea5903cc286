"""``lightfast index verify|rebuild``: the search index is derived from the database; check it, rebuild it."""

from __future__ import annotations

import dataclasses
import json
import time
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from lightfast.cli.common import JsonOption, WorkspaceOption, app, console, errors, guarded, services
from lightfast.index.maintenance import IndexState

index_app = typer.Typer(
    help="The search index (lexical and vector): derived from the database, checked and rebuilt here.",
    no_args_is_help=True,
)
app.add_typer(index_app, name="index")

StoreOption = Annotated[
    str | None, typer.Option("--store", "-s", help="Only this store (default: every store of the workspace).")
]


def _show(state: IndexState, as_json: bool) -> None:
    if as_json:
        print(json.dumps({**dataclasses.asdict(state), "consistent": state.consistent}, indent=2))
        return
    table = Table(title=f"search index ({state.backend})")
    ranked = any(store.ranked_indexed is not None for store in state.stores)
    columns = ("store", "generation", "chunks", "lexical", *(("in memory",) if ranked else ()), "vector")
    for column in (*columns, "missing", "wrong dim", "state"):
        table.add_column(column)
    for store in state.stores:
        table.add_row(
            store.store,
            str(store.generation),
            f"{store.chunks:,}",
            f"{store.lexical_indexed:,}",
            *((f"{store.ranked_indexed or 0:,}",) if ranked else ()),
            f"{store.vector_indexed:,}",
            f"{store.missing_lexical_count:,}",
            f"{store.wrong_dimension_count:,}",
            "[green]ok[/green]" if store.consistent else "[red]differs[/red]",
        )
    console.print(table)
    for store in state.stores:
        if store.missing_lexical:
            more = store.missing_lexical_count - len(store.missing_lexical)
            errors.print(
                f"{escape(store.store)}: not in the lexical index: "
                + escape(", ".join(store.missing_lexical))
                + (f" and {more:,} more" if more else "")
            )
        if store.wrong_dimension:
            errors.print(
                f"{escape(store.store)}: {store.wrong_dimension_count:,} chunks of another dimension than "
                "the store's model, invisible to vector search (re-ingest the store): "
                + escape(", ".join(store.wrong_dimension))
            )
    if state.extra_lexical_count:
        errors.print(
            f"{state.extra_lexical_count:,} rows in the lexical index with no chunk (seq "
            + ", ".join(map(str, state.extra_lexical))
            + ")"
        )
    for problem in state.problems:
        errors.print(f"[red]problem:[/red] {escape(problem)}")


@index_app.command("verify")
def verify(workspace: WorkspaceOption = None, store: StoreOption = None, as_json: JsonOption = False) -> None:
    """Compare the search index with the database; exit 1 when they differ.

    Example: lightfast index verify --store docs
    """
    with services() as svc:
        state = guarded(lambda: svc.index_maintenance.verify(svc.workspaces.workspace_id(workspace), store))
    _show(state, as_json)
    if not state.consistent:
        errors.print("the search index differs from the database: run `lightfast index rebuild`")
        raise typer.Exit(1)


@index_app.command("rebuild")
def rebuild(
    workspace: WorkspaceOption = None, store: StoreOption = None, as_json: JsonOption = False
) -> None:
    """Rebuild the search index from the database, then verify it; exit 1 if it still differs.

    Searches keep working meanwhile. Example: lightfast index rebuild --workspace docs
    """
    started = time.perf_counter()

    def progress(step: str) -> None:
        if not as_json:
            console.print(f"[dim]{time.perf_counter() - started:6.1f}s[/dim] {escape(step)}")

    with services() as svc:
        state = guarded(
            lambda: svc.index_maintenance.rebuild(svc.workspaces.workspace_id(workspace), store, progress)
        )
    _show(state, as_json)
    if not state.consistent:
        errors.print("still different after the rebuild: what a rebuild cannot repair is listed above")
        raise typer.Exit(1)
    if not as_json:
        console.print(f"rebuilt in {time.perf_counter() - started:.1f}s")
