"""``lightfast stores embedding STORE --provider P --model M``: switch a store's embedding model (issue
15). Prints the estimate first and asks before starting; the switch is a job a worker runs while the
store's current vectors keep answering searches."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from lightfast.app.embedding_switch import describe_estimate
from lightfast.cli.common import JsonOption, WorkspaceOption, app, console, guarded, services
from lightfast.embed.registry import EmbeddingChoice

stores_app = typer.Typer(help="Stores: their embedding model.", no_args_is_help=True)
app.add_typer(stores_app, name="stores")


@stores_app.command("embedding")
def switch_embedding(
    store: Annotated[str, typer.Argument(help="The store's name.")],
    provider: Annotated[str, typer.Option(help="Embedding provider: local, cohere, openai, fake.")],
    model: Annotated[str, typer.Option(help="The provider's model name.")],
    dimensions: Annotated[
        int | None, typer.Option(min=1, max=8192, help="Vector size, for models that offer several.")
    ] = None,
    workspace: WorkspaceOption = None,
    yes: Annotated[bool, typer.Option("--yes", help="Start without asking.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the estimate only.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Estimate, then switch a store to another embedding model without downtime.

    Example: lightfast stores embedding docs --provider cohere --model embed-english-v3.0 --dry-run
    """
    choice = EmbeddingChoice(provider, model, dimensions)
    with services() as svc:
        workspace_id = guarded(lambda: svc.workspaces.workspace_id(workspace))
        estimate = guarded(lambda: svc.embedding_switches.estimate(workspace_id, store, choice))
        if as_json:
            typer.echo(json.dumps(estimate.wire()))
        else:
            for line in describe_estimate(estimate):
                console.print(line, highlight=False)
        if dry_run:
            return
        if not yes and not typer.confirm("Start the switch?", default=False):
            raise typer.Exit(1)
        job_id, _ = guarded(
            lambda: svc.embedding_switches.start(workspace_id, store, choice, triggered_by="cli")
        )
    if as_json:
        typer.echo(json.dumps({"jobId": job_id}))
    else:
        console.print(f"switch queued: job {job_id} (follow it with `lightfast jobs show {job_id}`)")
