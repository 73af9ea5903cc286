"""What the sync and async clients share: configuration, headers, the retry and wait policies, error
mapping, answer parsing, and ``sync_method`` / ``async_method``, which make a client method out of a
description in ``_calls.py``. Only sending (``httpx.Client`` or ``httpx.AsyncClient``, ``time.sleep`` or
``asyncio.sleep``) differs between ``client.py`` and ``async_client.py``."""

from __future__ import annotations

import inspect
import os
import random
import time
import types
import uuid
from collections.abc import Callable, Coroutine, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Concatenate, Generic, ParamSpec, Protocol, TypeVar, get_args, overload

import httpx
from pydantic import ValidationError

from lightfast import __version__
from lightfast.sdk._calls import Call
from lightfast.sdk.errors import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APITimeoutError,
    JobWaitTimeoutError,
    error_from_response,
)
from lightfast.sdk.models import JobDetail, LightfastModel

M = TypeVar("M", bound=LightfastModel)
P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")

DEFAULT_BASE_URL = "http://127.0.0.1:8000"
DEFAULT_TIMEOUT = 30.0
DEFAULT_MAX_RETRIES = 2
INITIAL_RETRY_DELAY = 0.5  # seconds before the first retry; doubles each retry
MAX_RETRY_DELAY = 8.0  # cap of the exponential backoff
MAX_RETRY_AFTER = 60.0  # cap of a server's Retry-After
API_KEY_ENV = "LIGHTFAST_API_KEY"
USER_AGENT = f"lightfast-python/{__version__}"

TimeoutTypes = float | httpx.Timeout | None


def retryable_status(status: int) -> bool:
    return status == 429 or status >= 500


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds from ``Retry-After`` (delta-seconds or an HTTP date) or ``Retry-After-Ms``."""
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            return max(0.0, float(millis) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def backoff_delay(attempt: int) -> float:
    """Exponential backoff with jitter for retry number ``attempt`` (0-based): 75-100 % of
    min(0.5 s * 2**attempt, 8 s)."""
    delay = min(INITIAL_RETRY_DELAY * 2.0**attempt, MAX_RETRY_DELAY)
    return delay * (1 - 0.25 * random.random())


def retry_delay(attempt: int, response: httpx.Response | None) -> float:
    """How long to sleep before retry number ``attempt``: the server's Retry-After (capped) if it sent
    one, else the backoff."""
    if response is not None:
        after = parse_retry_after(response.headers)
        if after is not None:
            return min(after, MAX_RETRY_AFTER)
    return backoff_delay(attempt)


def connection_error(exc: httpx.TransportError) -> APIConnectionError:
    if isinstance(exc, httpx.TimeoutException):
        return APITimeoutError(f"the request to the Lightfast API timed out ({type(exc).__name__})")
    detail = str(exc) or type(exc).__name__
    return APIConnectionError(f"could not reach the Lightfast API: {detail}")


def api_error(response: httpx.Response) -> APIError:
    return error_from_response(response, retry_after=parse_retry_after(response.headers))


class ClientCore:
    """Configuration and request preparation common to ``Lightfast`` and ``AsyncLightfast``."""

    def __init__(
        self,
        api_key: str | None,
        base_url: str,
        timeout: TimeoutTypes,
        max_retries: int,
        default_headers: Mapping[str, str] | None,
    ) -> None:
        key = api_key if api_key is not None else os.environ.get(API_KEY_ENV)
        if not key or not key.strip():
            raise ValueError(f"an API key is required: pass api_key or set {API_KEY_ENV}")
        if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url must start with http:// or https://, got {base_url!r}")
        if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
            raise ValueError(f"max_retries must be an integer >= 0, got {max_retries!r}")
        if isinstance(timeout, int | float) and not isinstance(timeout, bool) and timeout <= 0:
            raise ValueError(f"timeout must be > 0 seconds, got {timeout!r}")
        self.api_key = key
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.max_retries = max_retries
        self._headers = {
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
            **(default_headers or {}),
            "Authorization": f"Bearer {key}",
        }

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r})"  # never the key

    def _headers_for(self, call: Call[Any, Any]) -> dict[str, str]:
        headers = dict(self._headers)
        if call.mutating:
            # The same key on every attempt: a retry after a lost answer cannot do the work twice.
            headers["Idempotency-Key"] = call.idempotency_key or f"lf_{uuid.uuid4().hex}"
        return headers

    def _build(self, http: httpx.Client | httpx.AsyncClient, call: Call[Any, Any]) -> httpx.Request:
        return http.build_request(
            call.method,
            self.base_url + call.path,
            json=call.json,
            params=call.params or None,
            headers=self._headers_for(call),
            timeout=self.timeout,
        )

    def _retry_delay(self, attempt: int, failure: httpx.Response | httpx.TransportError) -> float:
        """How long to wait before retry number ``attempt`` after ``failure`` (an error answer, or no
        answer at all); raises the failure's exception when the request may not be retried."""
        may_retry = attempt < self.max_retries
        if isinstance(failure, httpx.TransportError):
            if isinstance(failure, httpx.UnsupportedProtocol) or not may_retry:
                raise connection_error(failure) from failure
            return retry_delay(attempt, None)
        if not retryable_status(failure.status_code) or not may_retry:
            raise api_error(failure)
        return retry_delay(attempt, failure)

    @staticmethod
    def _parse(call: Call[M, R], response: httpx.Response) -> R:
        """What the method returns from a 2xx answer; raises ``APIResponseValidationError`` when the
        answer is not what the API promises."""
        request_id = response.headers.get("x-request-id")
        try:
            payload: Any = response.json()
        except ValueError as exc:
            raise APIResponseValidationError(
                f"{call.method} {call.path} answered {response.status_code} with a body that is not JSON",
                code="invalid_response",
                status=response.status_code,
                request_id=request_id,
                response=response,
            ) from exc
        if isinstance(payload, dict):
            request_id = payload.get("requestId") or request_id
            if request_id and "request_id" in call.model.model_fields and "requestId" not in payload:
                payload = {**payload, "requestId": request_id}
        try:
            answer = call.model.model_validate(payload)
        except ValidationError as exc:
            raise APIResponseValidationError(
                f"{call.method} {call.path} answered with an unexpected body: {exc}",
                code="invalid_response",
                status=response.status_code,
                request_id=request_id if isinstance(request_id, str) else None,
                body=payload,
                response=response,
            ) from exc
        return call.result(answer)


class WaitClock:
    """The timing of ``jobs.wait``: look at the job every ``poll`` seconds and give up after ``timeout``
    (``None``: never). Time spent is the larger of the wall clock and the time slept, so a ``sleep``
    that returns at once (in tests) still runs the timeout out."""

    def __init__(self, timeout: float | None, poll: float) -> None:
        if timeout is not None and (not isinstance(timeout, int | float) or timeout < 0):
            raise ValueError(f"timeout must be a number of seconds >= 0 or None, got {timeout!r}")
        if not isinstance(poll, int | float) or poll <= 0:
            raise ValueError(f"poll must be a number of seconds > 0, got {poll!r}")
        self.timeout, self.poll = timeout, poll
        self._started, self._slept = time.monotonic(), 0.0

    def next_delay(self, job: JobDetail) -> float:
        """Seconds to sleep before the next look at ``job`` (not finished yet); raises
        ``JobWaitTimeoutError`` when the time is up."""
        delay = self.poll
        if self.timeout is not None:
            remaining = self.timeout - max(time.monotonic() - self._started, self._slept)
            if remaining <= 0:
                raise JobWaitTimeoutError(job, self.timeout)
            delay = min(self.poll, remaining)
        self._slept += delay
        return delay


# -- client methods made from the descriptions in _calls.py ----------------------------------------


class Sender(Protocol):
    """What a method of ``Lightfast`` is bound to: the client or one of its namespaces."""

    def _request(self, call: Call[Any, R]) -> R: ...


class AsyncSender(Protocol):
    """What a method of ``AsyncLightfast`` is bound to: the client or one of its namespaces."""

    async def _request(self, call: Call[Any, R]) -> R: ...


class Method(Generic[P, T]):
    """A client method made from a description: a plain function (``T`` is the result for the sync
    client, a coroutine of it for the async one) carrying the description's docstring and signature, and
    named after the attribute it is assigned to."""

    def __init__(
        self, function: Callable[Concatenate[Any, P], T], build: Callable[P, Call[Any, Any]]
    ) -> None:
        described = inspect.signature(build, eval_str=True)
        _, result = get_args(described.return_annotation)  # Call[model, result]
        receiver = inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)
        signature = described.replace(
            parameters=[receiver, *described.parameters.values()], return_annotation=result
        )
        function.__signature__ = signature  # type: ignore[attr-defined]
        function.__doc__ = build.__doc__
        self._function = function

    def __set_name__(self, owner: type, name: str) -> None:
        self._function.__name__ = name
        self._function.__qualname__ = f"{owner.__qualname__}.{name}"
        self._function.__module__ = owner.__module__

    @overload
    def __get__(self, obj: None, owner: type) -> Callable[Concatenate[Any, P], T]: ...

    @overload
    def __get__(self, obj: object, owner: type | None = None) -> Callable[P, T]: ...

    def __get__(self, obj: object, owner: type | None = None) -> Callable[..., T]:
        if obj is None:
            return self._function
        return types.MethodType(self._function, obj)


def sync_method(build: Callable[P, Call[Any, R]]) -> Method[P, R]:
    """``build`` as a method of ``Lightfast`` or of its namespaces: send the call, return its result."""

    def method(self: Sender, /, *args: P.args, **kwargs: P.kwargs) -> R:
        return self._request(build(*args, **kwargs))

    return Method(method, build)


def async_method(build: Callable[P, Call[Any, R]]) -> Method[P, Coroutine[Any, Any, R]]:
    """``build`` as a coroutine method of ``AsyncLightfast`` or of its namespaces."""

    async def method(self: AsyncSender, /, *args: P.args, **kwargs: P.kwargs) -> R:
        return await self._request(build(*args, **kwargs))

    return Method(method, build)
