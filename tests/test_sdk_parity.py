"""``Lightfast`` and ``AsyncLightfast`` expose the same surface: the same namespaces, and in each the same
public methods with the same parameters (names, kinds, defaults, annotations) and return types, every
async one a coroutine function (or, where the sync one returns an iterator, a method returning an async
iterator). Only the transport differs, as listed in ``ASYNC_COUNTERPARTS``."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any, get_origin

import httpx
import pytest

from lightfast.sdk import AsyncJobs, AsyncLightfast, AsyncSources, Job, Jobs, Lightfast, Sources
from lightfast.sdk._events import Event

#: Each sync class and its async twin.
PAIRS: list[tuple[type, type]] = [(Lightfast, AsyncLightfast), (Jobs, AsyncJobs), (Sources, AsyncSources)]

#: The only annotations allowed to differ: what the sync client has, and what the async one has instead.
ASYNC_COUNTERPARTS: list[tuple[Any, Any]] = [
    (Lightfast, AsyncLightfast),
    (httpx.Client | None, httpx.AsyncClient | None),
    (httpx.BaseTransport | None, httpx.AsyncBaseTransport | None),
    (Callable[[float], object] | None, Callable[[float], Awaitable[object]] | None),
    (Iterator[Job], AsyncIterator[Job]),
    (Iterator[Event], AsyncIterator[Event]),
]


def async_counterpart(annotation: Any) -> Any:
    for sync, async_ in ASYNC_COUNTERPARTS:
        if annotation == sync:
            return async_
    return annotation


def public_methods(cls: type) -> dict[str, Any]:
    return {
        name: member
        for name, member in inspect.getmembers(cls, callable)
        if not name.startswith("_") or name == "__init__"
    }


def surface(function: Any, translate: Callable[[Any], Any] = lambda annotation: annotation) -> Any:
    """Parameters (after ``self``) as (name, kind, default, annotation), and the return annotation."""
    signature = inspect.signature(function, eval_str=True)
    parameters = list(signature.parameters.values())[1:]
    return (
        [(p.name, p.kind, p.default, translate(p.annotation)) for p in parameters],
        translate(signature.return_annotation),
    )


@pytest.mark.parametrize(("sync_cls", "async_cls"), PAIRS, ids=[sync.__name__ for sync, _ in PAIRS])
def test_same_methods_with_the_same_signatures(sync_cls: type, async_cls: type) -> None:
    sync_methods, async_methods = public_methods(sync_cls), public_methods(async_cls)
    only_sync = sorted(sync_methods.keys() - async_methods.keys())
    only_async = sorted(async_methods.keys() - sync_methods.keys())
    assert (only_sync, only_async) == ([], []), "methods on one client only (sync, async)"
    for name, sync_method in sync_methods.items():
        async_method = async_methods[name]
        assert surface(async_method) == surface(sync_method, async_counterpart), f"{name} differs"
        assert not inspect.iscoroutinefunction(sync_method), f"{sync_cls.__name__}.{name} is async"
        if name == "__init__" or get_origin(surface(sync_method)[1]) is Iterator:
            assert not inspect.iscoroutinefunction(async_method), f"{async_cls.__name__}.{name}"
        else:
            assert inspect.iscoroutinefunction(async_method), f"{async_cls.__name__}.{name} is not async"


def test_same_namespaces_and_attributes() -> None:
    sync_client, async_client = Lightfast("lf_key"), AsyncLightfast("lf_key")
    try:
        twins = dict(PAIRS)
        sync_attributes = {k: type(v) for k, v in vars(sync_client).items() if not k.startswith("_")}
        async_attributes = {k: type(v) for k, v in vars(async_client).items() if not k.startswith("_")}
        assert sorted(sync_attributes) == sorted(async_attributes)
        for name, kind in sync_attributes.items():
            assert async_attributes[name] is twins.get(kind, kind), f"add the pair of {kind} to PAIRS"
    finally:
        sync_client.close()
        asyncio.run(async_client.close())


def test_context_managers() -> None:
    assert surface(Lightfast.__enter__) == surface(AsyncLightfast.__aenter__)
    assert surface(Lightfast.__exit__) == surface(AsyncLightfast.__aexit__)
    assert inspect.iscoroutinefunction(AsyncLightfast.__aenter__)
    assert inspect.iscoroutinefunction(AsyncLightfast.__aexit__)


def test_methods_read_like_hand_written_ones() -> None:
    """Methods made from descriptions are named, documented and signed like a ``def`` in the class."""
    assert Jobs.list.__qualname__ == "Jobs.list"
    assert AsyncSources.connect_git.__qualname__ == "AsyncSources.connect_git"
    assert Lightfast.search.__doc__ == AsyncLightfast.search.__doc__
    assert Lightfast.search.__doc__ is not None
    assert "POST /v1/search" in Lightfast.search.__doc__
    client = Lightfast("lf_key")
    try:
        cancel = inspect.signature(client.jobs.cancel)
        assert [(p.name, p.kind, p.default) for p in cancel.parameters.values()] == [
            ("id", inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.empty),
            ("idempotency_key", inspect.Parameter.KEYWORD_ONLY, None),
        ]
        assert cancel.return_annotation is Job
        signature = inspect.signature(client.jobs.recent)
        assert list(signature.parameters) == ["limit"]
        assert signature.return_annotation == list[Job]
    finally:
        client.close()
