"""One error hierarchy for the whole package.

Every error carries a stable machine-readable ``code``; its docstring is the default message shown to a
user. Business code raises these; only the HTTP edge (``lightfast.api``) and the CLI translate them.
"""

from __future__ import annotations

from typing import Any, ClassVar


class LightfastError(Exception):
    """Something went wrong inside Lightfast."""

    code: ClassVar[str] = "internal_error"

    def __init__(self, message: str | None = None, **details: Any) -> None:
        self.message = message or (type(self).__doc__ or "").strip()
        self.details = details
        super().__init__(self.message)


class InvalidInput(LightfastError):
    """The request is not valid."""

    code = "invalid_input"

    def __init__(self, message: str | None = None, *, field: str | None = None, **details: Any) -> None:
        super().__init__(message, field=field, **details)
        self.field = field


class ConfigError(InvalidInput):
    """The lightfast.yml configuration is not valid."""

    code = "invalid_config"

    def __init__(self, problems: list[Any], path: str | None = None) -> None:
        lines = "; ".join(str(p) for p in problems)
        super().__init__(f"{path or 'lightfast.yml'}: {lines}", problems=[str(p) for p in problems])
        self.problems = problems


class Unauthenticated(LightfastError):
    """A valid API key is required: send Authorization: Bearer sk-lf-..."""

    code = "unauthorized"


class InvalidSignature(Unauthenticated):
    """The webhook delivery's signature is missing or does not match."""

    code = "invalid_signature"


class Forbidden(LightfastError):
    """This workspace may not use that resource."""

    code = "forbidden"


class PayloadTooLarge(InvalidInput):
    """The request body is too large."""

    code = "payload_too_large"


class RateLimited(LightfastError):
    """Too many requests; retry later."""

    code = "rate_limited"

    def __init__(self, message: str | None = None, *, retry_after: int, **details: Any) -> None:
        super().__init__(message, retry_after=retry_after, **details)
        self.retry_after = retry_after


class NotConfigured(LightfastError):
    """This feature is not configured on this server."""

    code = "not_configured"


class NotFound(LightfastError):
    """The resource does not exist."""

    code = "not_found"


class Conflict(LightfastError):
    """The resource already exists or is in a state that does not allow this."""

    code = "conflict"


class EmbeddingError(LightfastError):
    """The embedding model could not embed the text."""

    code = "embedding_error"


class IdempotencyKeyReused(Conflict):
    """This Idempotency-Key was used with a different request."""

    code = "idempotency_key_reused"


class IdempotencyInProgress(Conflict):
    """A request with this Idempotency-Key is still in progress."""

    code = "idempotency_in_progress"


class ModelMismatch(Conflict):
    """The store was indexed with another embedding model than the one this process runs."""

    code = "embedding_model_mismatch"


class UpstreamError(LightfastError):
    """A service Lightfast reads from (such as GitHub) answered with an error."""

    code = "upstream_error"

    def __init__(self, message: str | None = None, *, status: int | None = None, **details: Any) -> None:
        super().__init__(message, status=status, **details)
        self.status = status


class SearchUnavailable(LightfastError):
    """Search cannot answer now: its worker processes are not running."""

    code = "search_unavailable"


class SecretUnreadable(LightfastError):
    """A stored credential cannot be decrypted: its key is not configured, or it was tampered with."""

    code = "secret_unreadable"


class SettingsError(LightfastError):
    """The settings are not valid."""

    code = "invalid_settings"


class DocumentRejected(InvalidInput):
    """The document cannot be indexed."""

    code = "document_rejected"

    def __init__(self, message: str | None = None, *, reason: str = "rejected", **details: Any) -> None:
        super().__init__(message, reason=reason, **details)
        self.reason = reason  # a short machine-readable word, such as "front_matter_too_large"
