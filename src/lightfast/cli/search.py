"""``lightfast search`` and ``lightfast validate``."""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from lightfast.app.schemas import CliSearchOut, search_mode
from lightfast.app.search import SearchMode, SearchRequest, SearchResponse
from lightfast.cli.common import (
    JsonOption,
    WorkspaceOption,
    app,
    console,
    errors,
    guarded,
    print_json,
    services,
)
from lightfast.ingest.config import DEFAULT_INCLUDE, find_config_file, validate_config
from lightfast.search.metadata_filter import parse_where


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
    mode: Annotated[
        str,
        typer.Option(
            help="fast (keywords only), balanced (keywords and meaning), dense (meaning only) or "
            "rerank (balanced, then reranked); bm25 and hybrid, former names of fast and balanced, are "
            "accepted too."
        ),
    ] = SearchMode.BALANCED.value,
    rerank: Annotated[
        bool,
        typer.Option(
            "--rerank",
            help="Reorder the top candidates with the configured reranker (LIGHTFAST_RERANK_PROVIDER), "
            "within LIGHTFAST_RERANK_BUDGET_MS.",
        ),
    ] = False,
    where: Annotated[
        list[str] | None,
        typer.Option(
            "--where",
            help="Only documents whose source metadata has this value: KEY=VALUE (a string), KEY:=JSON "
            "(priority:=2); a key given twice takes either value.",
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Search a workspace.

    Example: lightfast search "rotate an API key" --limit 5 --rerank

    Example: lightfast search "login" --where state="In Progress" --where teamKey=ENG
    """
    with services() as svc:

        def run() -> SearchResponse:
            request = SearchRequest(
                workspace_id=svc.workspaces.workspace_id(workspace),
                query=query,
                limit=limit,
                offset=offset,
                stores=tuple(store or ()),
                source_types=tuple(source_type or ()),
                path_prefix=path_prefix,
                mode=search_mode(mode),
                rerank=rerank,
                metadata=parse_where(where) if where else None,
            )
            return svc.search.search(request)

        response = guarded(run)
    if as_json:
        print_json(CliSearchOut.from_response(response))
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
    if (outcome := response.rerank) is not None:
        said = (
            f"reranked {outcome.candidates} by {outcome.provider} {outcome.model}"
            if outcome.applied
            else f"fused order, not reranked ({outcome.reason}"
            + (f": {outcome.detail})" if outcome.detail else ")")
        )
        console.print(Text(f"{said}, {outcome.milliseconds:.1f} ms", style="dim"), soft_wrap=True)


def snippet_text(snippet: str) -> Text:
    """Terminal rendering of an HTML snippet: marks become highlighted spans, entities are unescaped."""
    out = Text()
    for index, part in enumerate(re.split(r"</?mark>", snippet)):
        out.append(html.unescape(part), style="reverse" if index % 2 else "")
    return out


def config_note(path: Path) -> str | None:
    if path.is_dir() and find_config_file(path) is None:
        return (
            f"No lightfast.yml in {path}: using the default ({', '.join(DEFAULT_INCLUDE)}) into store 'docs'."
        )
    return None


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
    console.print(config_note(path) or f"{path}: configuration is valid.")
