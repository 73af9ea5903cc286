"""Exceptions raised by the Lightfast SDK.

::

    LightfastClientError            anything the SDK raises (besides ValueError for bad arguments)
    ├── APIError                    the server answered with an error
    │   ├── BadRequestError         400 (and 422)
    │   ├── AuthenticationError     401
    │   ├── PermissionDeniedError   403
    │   ├── NotFoundError           404
    │   ├── ConflictError           409
    │   ├── PayloadTooLargeError    413
    │   ├── RateLimitError          429, with ``retry_after`` seconds
    │   ├── ServerError             5xx
    │   └── APIResponseValidationError   a 2xx answer the SDK could not parse
    ├── APIConnectionError          the request did not get an answer
    │   └── APITimeoutError         ... because it timed out
    └── JobWaitTimeoutError         ``jobs.wait`` gave up (also a ``TimeoutError``)

Every error carries ``code`` (the server's machine-readable code, e.g. ``not_found``), ``message``,
``request_id`` (quote it when reporting a problem) and ``status`` (the HTTP status, ``None`` when there
was no answer).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from lightfast.sdk.models import Job

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIResponseValidationError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ConflictError",
    "JobWaitTimeoutError",
    "LightfastClientError",
    "NotFoundError",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "RateLimitError",
    "ServerError",
    "error_from_response",
]


class LightfastClientError(Exception):
    """Base class of every error the SDK raises (the server's own root error is
    ``lightfast.errors.LightfastError``; the SDK never raises or imports it)."""

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        request_id: str | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.request_id = request_id
        self.status = status

    def __str__(self) -> str:
        head = " ".join(str(part) for part in (self.status, self.code) if part is not None)
        text = f"{head}: {self.message}" if head else self.message
        return f"{text} (request_id={self.request_id})" if self.request_id else text

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(message={self.message!r}, code={self.code!r}, "
            f"request_id={self.request_id!r}, status={self.status!r})"
        )


class APIError(LightfastClientError):
    """The server answered with an error status (or an answer the SDK could not read)."""

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        request_id: str | None = None,
        status: int | None = None,
        body: Any = None,
        response: httpx.Response | None = None,
    ) -> None:
        super().__init__(message, code=code, request_id=request_id, status=status)
        self.body = body
        self.response = response


class BadRequestError(APIError):
    """400: the request is not valid."""


class AuthenticationError(APIError):
    """401: the API key is missing or not valid."""


class PermissionDeniedError(APIError):
    """403: the API key may not do this."""


class NotFoundError(APIError):
    """404: the resource does not exist."""


class ConflictError(APIError):
    """409: the resource is in a state that does not allow this."""


class PayloadTooLargeError(APIError):
    """413: the request body is too large."""


class RateLimitError(APIError):
    """429: too many requests; ``retry_after`` says how many seconds to wait (``None`` if not told)."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class ServerError(APIError):
    """5xx: the server failed."""


class APIResponseValidationError(APIError):
    """The server answered 2xx with a body that is not what the API promises."""


class APIConnectionError(LightfastClientError):
    """The request did not get an answer (connection refused, reset, DNS failure, ...)."""

    def __init__(self, message: str = "could not connect to the Lightfast API", **kwargs: Any) -> None:
        kwargs.setdefault("code", "connection_error")
        super().__init__(message, **kwargs)


class APITimeoutError(APIConnectionError):
    """The request timed out."""

    def __init__(self, message: str = "the request to the Lightfast API timed out", **kwargs: Any) -> None:
        kwargs.setdefault("code", "timeout")
        super().__init__(message, **kwargs)


class JobWaitTimeoutError(LightfastClientError, TimeoutError):
    """``jobs.wait`` gave up before the job finished; ``job`` is its last seen state."""

    def __init__(self, job: Job, timeout: float) -> None:
        super().__init__(f"job {job.id} is still {job.status} after {timeout:g} s", code="wait_timeout")
        self.job = job
        self.timeout = timeout


_BY_STATUS: dict[int, type[APIError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    413: PayloadTooLargeError,
    422: BadRequestError,
    429: RateLimitError,
}


def error_class(status: int) -> type[APIError]:
    if status >= 500:
        return ServerError
    return _BY_STATUS.get(status, APIError)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def error_from_response(response: httpx.Response, *, retry_after: float | None = None) -> APIError:
    """The exception for an error answer: ``{"error": code, "message": str, "requestId": str}``, read
    leniently (``{"detail": ...}`` from a framework, ``{"error": {...}}``, plain text, or nothing)."""
    status = response.status_code
    try:
        body: Any = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        body = None
    code = message = request_id = None
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):  # {"error": {"code": ..., "message": ...}}
            code, message = _text(error.get("code")), _text(error.get("message"))
            request_id = _text(error.get("requestId"))
        else:
            code = _text(error)
        message = message or _text(body.get("message"))
        detail = body.get("detail")
        if message is None and detail is not None:
            message = detail if isinstance(detail, str) else json.dumps(detail)
        request_id = request_id or _text(body.get("requestId")) or _text(body.get("request_id"))
    if message is None:
        text = response.text.strip() if body is None else ""
        message = text[:500] or response.reason_phrase or f"HTTP {status}"
    request_id = request_id or response.headers.get("x-request-id")
    cls = error_class(status)
    fields: dict[str, Any] = {
        "code": code or f"http_{status}",
        "request_id": request_id,
        "status": status,
        "body": body,
        "response": response,
    }
    if cls is RateLimitError:
        return RateLimitError(message, retry_after=retry_after, **fields)
    return cls(message, **fields)
