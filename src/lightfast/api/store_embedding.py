"""PUT /v1/stores/{id}/embedding: estimate (``dryRun``) or start a store's switch to another embedding
model (issue 15). The store keeps answering searches with its current model until the switch flips."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.concurrency import run_in_threadpool

from lightfast.api.deps import principal, services_of
from lightfast.api.routes import ERRORS, _error, known_query
from lightfast.app.container import Services
from lightfast.app.keys import Principal
from lightfast.app.schemas.store_embedding import EmbeddingEstimateOut, EmbeddingSwitchOut, StoreEmbeddingBody
from lightfast.embed.registry import EmbeddingChoice

router = APIRouter(prefix="/v1", tags=["stores"], responses=ERRORS, dependencies=[Depends(known_query)])
Caller = Depends(principal)
Svc = Depends(services_of)


@router.put(
    "/stores/{id}/embedding",
    status_code=202,
    responses={404: _error("No such store."), 409: _error("The store is switching already.")},
)
async def switch_store_embedding(
    id: str, body: StoreEmbeddingBody, who: Principal = Caller, svc: Services = Svc
) -> EmbeddingSwitchOut:
    """The estimate (chunks, tokens, requests, cost) and, unless ``dryRun``, the job that switches."""
    view = await run_in_threadpool(svc.workspaces.store, who.workspace_id, id)
    choice = EmbeddingChoice(body.provider, body.model, body.dimensions)
    switches = svc.embedding_switches
    if body.dry_run:
        estimate = await run_in_threadpool(switches.estimate, who.workspace_id, view.store.name, choice)
        return EmbeddingSwitchOut(estimate=EmbeddingEstimateOut.from_estimate(estimate), job_id=None)
    job_id, estimate = await run_in_threadpool(
        lambda: switches.start(who.workspace_id, view.store.name, choice, triggered_by=who.key_id)
    )
    return EmbeddingSwitchOut(estimate=EmbeddingEstimateOut.from_estimate(estimate), job_id=job_id)
