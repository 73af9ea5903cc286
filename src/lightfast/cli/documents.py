"""``lightfast documents get`` and ``lightfast documents children``: documents by what they are (seed 004's
query patterns, issue 13), as ``GET /v1/documents?sourceType=&sourceId=`` and
``GET /v1/documents/{id}/children`` answer."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.text import Text

from lightfast.app.schemas.documents import DocumentRefListOut, DocumentRefOut
from lightfast.cli.common import JsonOption, WorkspaceOption, app, console, guarded, print_json, services
from lightfast.db.models import Document

documents_app = typer.Typer(
    help="Documents by their source's own id (a Linear ENG-7, a Notion page id) and their children.",
    no_args_is_help=True,
)
app.add_typer(documents_app, name="documents")


def _show(found: list[Document], as_json: bool, empty: str) -> None:
    listed = DocumentRefListOut(items=[DocumentRefOut.from_row(row) for row in found])
    if as_json:
        print_json(listed)
        return
    if not found:
        console.print(empty)
    for row in found:
        line = Text(row.title, style="bold").append(f"  {row.source_type} {row.source_id}", style="dim")
        console.print(line, soft_wrap=True)
        console.print(Text(f"   {row.id}" + (f"  {row.url}" if row.url else ""), style="dim"), soft_wrap=True)


@documents_app.command("get")
def get(
    source_type: Annotated[str, typer.Option("--source-type", help="linear, notion, github, sentry, ...")],
    source_id: Annotated[
        str, typer.Option("--source-id", help="The source's own id: ENG-7 or a Linear issue id, a page id.")
    ],
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Find documents by their source's id.

    Example: lightfast documents get --source-type linear --source-id ENG-7
    """
    with services() as svc:
        found = guarded(
            lambda: svc.vendors.lookup.by_source(
                svc.workspaces.workspace_id(workspace), source_type, source_id
            )
        )
    _show(found, as_json, f"No {source_type} document {source_id!r}.")
    if not found and not as_json:
        raise typer.Exit(1)


@documents_app.command("children")
def children(
    document_id: Annotated[str, typer.Argument(metavar="ID", help="A document id (from search --json).")],
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """List a document's children, oldest first (a Linear issue's comments).

    Example: lightfast documents children doc_3f2a...
    """
    with services() as svc:
        found = guarded(
            lambda: svc.vendors.lookup.children(svc.workspaces.workspace_id(workspace), document_id)
        )
    _show(found, as_json, "No children.")
