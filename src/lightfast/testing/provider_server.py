"""What the model-provider stand-ins share (Cohere, OpenAI, the rerank servers): a real HTTP server on a
free loopback port (uvicorn in a thread, as the GitHub stand-in runs), bearer-key checks, scripted faults
(a status for the next N calls, with or without ``Retry-After``), a delay per answer (to measure a slow
provider), every request recorded, and deterministic vectors and relevance scores.

Vectors are a hashed bag of words, so texts that share words are near each other and search over the
stand-ins finds what a person would expect; relevance is the share of the query's words a document holds
(``score`` may be replaced by a test that wants another order)."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import re
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

import numpy as np
import uvicorn
from starlette.types import Receive, Scope, Send

_WORD = re.compile(r"[^\W_]+")
MAX_BODY_BYTES = 64 * 1024 * 1024


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def count_tokens(text: str) -> int:
    """The stand-ins' notion of a token: a word (their limits are about counts, not exact tokenizers)."""
    return len(words(text))


def hashed_vector(text: str, dimension: int) -> list[float]:
    """A unit vector from the text's words: the same text, the same vector; shared words, nearby vectors."""
    out = np.zeros(dimension, dtype=np.float64)
    for word in words(text):
        digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
        out[int.from_bytes(digest[:4], "little") % dimension] += 1.0 if digest[4] & 1 else -1.0
    if not out.any():
        out[0] = 1.0
    out /= np.linalg.norm(out)
    return [round(float(x), 6) for x in out]


def overlap_score(query: str, document: str) -> float:
    """The share of the query's distinct words found in the document, in [0, 1]."""
    asked = set(words(query))
    if not asked:
        return 0.0
    return len(asked & set(words(document))) / len(asked)


@dataclass(frozen=True)
class RecordedCall:
    path: str
    body: Any  # the decoded JSON body (None when it was not JSON)
    status: int
    authorization: str | None


@dataclass
class _Fault:
    status: int
    remaining: int
    retry_after: str | None
    path: str | None


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any
    headers: dict[str, str] | None = None


class _Server(uvicorn.Server):
    """uvicorn polls for shutdown every 0.1 s; waking it on demand keeps stop() quick."""

    _wake: asyncio.Event | None = None
    _loop: asyncio.AbstractEventLoop | None = None

    async def main_loop(self) -> None:
        self._loop, self._wake = asyncio.get_running_loop(), asyncio.Event()
        counter = 0
        while not await self.on_tick(counter):
            counter = (counter + 1) % 864_000
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), 0.1)

    def stop(self) -> None:
        self.should_exit = True
        if self._loop is not None and self._wake is not None:
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._wake.set)


class ProviderStandIn(ABC):
    """Subclasses implement ``route(path, body)``; errors are shaped by ``error_body(status, message)``."""

    name = "provider"

    def __init__(self, api_key: str | None = "standin-key-0123456789") -> None:
        self.api_key = api_key
        self.calls: list[RecordedCall] = []
        self.delay = 0.0  # seconds before every answer: a provider's latency
        self.score: Callable[[str, str], float] = overlap_score
        self._faults: list[_Fault] = []
        self._lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._url: str | None = None

    # -- faults --------------------------------------------------------------------------------------

    def fail_next(
        self, status: int, times: int = 1, *, retry_after: str | None = None, path: str | None = None
    ) -> None:
        """Answer the next ``times`` calls (to ``path`` only, if given) with ``status``."""
        with self._lock:
            self._faults.append(_Fault(status, times, retry_after, path))

    def _take_fault(self, path: str) -> _Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.remaining > 0 and (fault.path is None or fault.path == path):
                    fault.remaining -= 1
                    return fault
        return None

    def paths(self) -> list[str]:
        return [call.path for call in self.calls]

    # -- the wire ------------------------------------------------------------------------------------

    def error_body(self, status: int, message: str) -> Any:
        return {"message": message}

    @abstractmethod
    def route(self, path: str, body: Any) -> Reply:
        """The vendor's answer to a POST of ``body`` at ``path`` (each stand-in speaks its own API)."""

    def handle(self, method: str, path: str, headers: dict[str, str], raw: bytes) -> Reply:
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = None
        authorization = headers.get("authorization")
        reply = self._answer(method, path, authorization, raw, body)
        with self._lock:
            self.calls.append(RecordedCall(path, body, reply.status, authorization))
        return reply

    def _answer(self, method: str, path: str, authorization: str | None, raw: bytes, body: Any) -> Reply:
        if method != "POST":
            return Reply(405, self.error_body(405, f"method {method} not allowed"))
        if self.api_key is not None and authorization != f"Bearer {self.api_key}":
            return Reply(401, self.error_body(401, "invalid api token"))
        fault = self._take_fault(path)
        if fault is not None:
            headers = {"retry-after": fault.retry_after} if fault.retry_after is not None else None
            text = "too many requests" if fault.status == 429 else "internal server error"
            return Reply(fault.status, self.error_body(fault.status, text), headers)
        if not isinstance(body, dict | list) and raw:
            return Reply(400, self.error_body(400, "invalid request: the body is not valid JSON"))
        return self.route(path, body)

    # -- the server ----------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        if self._url is None:
            raise RuntimeError(f"the {self.name} stand-in is not started")
        return self._url

    def start(self) -> str:
        if self._server is not None:
            raise RuntimeError(f"the {self.name} stand-in is already started")
        config = uvicorn.Config(
            self._asgi, host="127.0.0.1", port=0, interface="asgi3", log_level="warning", access_log=False,
            lifespan="off", ws="none", server_header=False, timeout_graceful_shutdown=2,
        )  # fmt: skip
        server = _Server(config)
        thread = threading.Thread(target=server.run, name=f"{self.name}-standin", daemon=True)
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                server.stop()
                thread.join(5)
                raise RuntimeError(f"the {self.name} stand-in did not start")
            time.sleep(0.002)
        port = server.servers[0].sockets[0].getsockname()[1]
        self._server, self._thread, self._url = server, thread, f"http://127.0.0.1:{port}"
        return self._url

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.stop()
            self._thread.join(10)
        self._server = self._thread = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    async def _asgi(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size <= MAX_BODY_BYTES:
                chunks.append(chunk)
            if not message.get("more_body", False):
                break
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        if self.delay:
            await asyncio.sleep(self.delay)
        if size > MAX_BODY_BYTES:
            reply = Reply(413, self.error_body(413, "request body too large"))
        else:
            reply = await asyncio.to_thread(
                self.handle, scope["method"], scope["path"], headers, b"".join(chunks)
            )
        body = json.dumps(reply.body).encode()
        out = {"content-type": "application/json", "content-length": str(len(body)), **(reply.headers or {})}
        raw = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in out.items()]
        await send({"type": "http.response.start", "status": reply.status, "headers": raw})
        await send({"type": "http.response.body", "body": body})
