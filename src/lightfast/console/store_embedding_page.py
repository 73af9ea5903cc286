"""The store's embedding page (issue 15): which model embeds the store, its earlier switches, and a form
that switches it: the estimate (chunks, tokens, requests, cost) is shown first, with a confirm button that
starts the switch job. Plain forms, so it works without JavaScript; changes need an owner or an admin and
the session's CSRF token."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from lightfast.app.embedding_switch import describe_estimate
from lightfast.console.templating import render
from lightfast.console.viewer import Viewer, check_csrf, services_of, viewer
from lightfast.embed.registry import PROVIDERS, EmbeddingChoice
from lightfast.errors import Conflict, Forbidden, InvalidInput, LightfastError, NotFound

router = APIRouter(include_in_schema=False)
STORE = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[a-z0-9-]+$")]
FIELDS = {"provider": 32, "model": 191, "dimensions": 5}


def _status(exc: LightfastError) -> int:
    for kind, code in ((Forbidden, 403), (NotFound, 404), (Conflict, 409), (InvalidInput, 400)):
        if isinstance(exc, kind):
            return code
    return 400


def _page(request: Request, who: Viewer, store: str, *, status_code: int = 200, **extra: Any) -> Response:
    services = services_of(request)
    views = [v for v in services.workspaces.stores(who.workspace_id) if v.store.name == store]
    if not views:
        raise NotFound(f"store {store!r} does not exist")
    context: dict[str, Any] = {
        "store": views[0].store,
        "chunks": views[0].chunks,
        "generations": services.embedding_switches.generations(who.workspace_id, store),
        "providers": PROVIDERS,
        "form": {"provider": "", "model": "", "dimensions": ""},
        "estimate": None,
        "estimate_lines": [],
    }
    context.update(extra)
    return render(request, "store_embedding.html", who, status_code=status_code, **context)


async def _choice(request: Request) -> tuple[dict[str, str], EmbeddingChoice, bool]:
    form = await request.form()
    values: dict[str, str] = {}
    for name, limit in FIELDS.items():
        raw = form.get(name)
        text = raw.strip() if isinstance(raw, str) else ""
        if len(text) > limit:
            raise InvalidInput(f"{name} is too long (at most {limit} characters)", field=name)
        values[name] = text
    for name in ("provider", "model"):
        if not values[name]:
            raise InvalidInput(f"{name} is required", field=name)
    if values["dimensions"] and not values["dimensions"].isdigit():
        raise InvalidInput("dimensions must be a whole number", field="dimensions")
    dimensions = int(values["dimensions"]) if values["dimensions"] else None
    confirmed = form.get("confirm") == "yes"
    return values, EmbeddingChoice(values["provider"], values["model"], dimensions), confirmed


@router.get("/stores/{store}/embedding", response_class=HTMLResponse)
def store_embedding_page(request: Request, store: STORE, who: Annotated[Viewer, Depends(viewer)]) -> Response:
    try:
        return _page(request, who, store)
    except NotFound as exc:
        return render(request, "store_embedding.html", who, status_code=404, missing=exc.message)


@router.post("/stores/{store}/embedding", response_class=HTMLResponse)
async def switch_store_embedding(
    request: Request, store: STORE, who: Annotated[Viewer, Depends(viewer)]
) -> Response:
    """Without ``confirm=yes``: the page with the estimate and a confirm button. With it: start."""
    await check_csrf(request, who)
    switches = services_of(request).embedding_switches
    form: dict[str, str] = {}
    try:
        form, choice, confirmed = await _choice(request)
        if not who.can_administer:
            raise Forbidden("only owners and admins may switch a store's model; ask one of them")
        if confirmed:
            job_id, _ = await run_in_threadpool(
                lambda: switches.start(who.workspace_id, store, choice, triggered_by=who.actor)
            )
            return RedirectResponse(f"/jobs/{job_id}", status_code=303)
        estimate = await run_in_threadpool(switches.estimate, who.workspace_id, store, choice)
    except LightfastError as exc:
        status, message = _status(exc), exc.message
        return await run_in_threadpool(
            lambda: _page(request, who, store, status_code=status, error=message, form=form or None)
        )
    return await run_in_threadpool(
        lambda: _page(
            request, who, store, form=form, estimate=estimate, estimate_lines=describe_estimate(estimate)
        )
    )
