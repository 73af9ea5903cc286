"""``lightfast related ID``: the documents linked to one across sources (issue 14)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.text import Text

from lightfast.app.relationships import DEFAULT_LIMIT, MAX_LIMIT, RelatedPage
from lightfast.app.schemas.relationships import RelatedOut
from lightfast.cli.common import JsonOption, WorkspaceOption, app, console, guarded, print_json, services

_ARROWS = {"out": "->", "in": "<-"}


@app.command()
def related(
    document_id: Annotated[str, typer.Argument(metavar="ID", help="A document id (from search --json).")],
    workspace: WorkspaceOption = None,
    direction: Annotated[
        str, typer.Option(help="out: what it points at; in: what points at it; both.")
    ] = "both",
    kind: Annotated[
        str | None, typer.Option(help="Only edges of this kind: fixes, fixed_by, deploys, in_release, ...")
    ] = None,
    source_type: Annotated[
        str | None, typer.Option("--source-type", help="Only related documents of this source type.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=MAX_LIMIT)] = DEFAULT_LIMIT,
    as_json: JsonOption = False,
) -> None:
    """List the documents related to ID: the pull request that fixes an issue, the deployment and the
    Sentry issues of a commit, the files the commit changed.

    Example: lightfast related doc_3f2a... --direction in --kind fixes
    """
    with services() as svc:

        def run() -> RelatedPage:
            return svc.relationships.related(
                svc.workspaces.workspace_id(workspace),
                document_id,
                direction=direction,
                kind=kind,
                source_type=source_type,
                limit=limit,
            )

        page = guarded(run)
    if as_json:
        print_json(RelatedOut.from_page(page))
        return
    console.print(
        Text(f"{page.document.title}", style="bold").append(f"  {page.document.source_type}", style="dim")
    )
    if not page.items and not page.unresolved:
        console.print("Nothing related.")
    for item in page.items:
        line = Text(f"  {_ARROWS.get(item.direction, '--')} {item.kind:<10} ")
        line.append(item.document.title, style="bold")
        line.append(f"  {item.document.source_type} {item.document.id}", style="dim")
        console.print(line, soft_wrap=True)
        if item.evidence:
            console.print(Text(f"       {item.evidence}", style="dim"), soft_wrap=True)
    for edge in page.unresolved:
        console.print(
            Text(f"  -> {edge.kind:<10} {edge.target_type}:{edge.target_key} (not indexed)", style="dim"),
            soft_wrap=True,
        )


@app.command()
def relink(
    workspace: WorkspaceOption = None,
    every_workspace: Annotated[
        bool, typer.Option("--all", help="Every workspace of the database, not one.")
    ] = False,
) -> None:
    """Extract the relationships of every stored document again, from its stored text and metadata: after
    upgrading to a version with the relationship graph (documents indexed before it have no links until
    their content changes), or after the patterns change.

    Example: lightfast relink --all
    """
    with services() as svc:
        count = guarded(
            lambda: svc.relationships.relink(
                None if every_workspace else svc.workspaces.workspace_id(workspace)
            )
        )
    console.print(f"Linked {count:,} documents again.")
