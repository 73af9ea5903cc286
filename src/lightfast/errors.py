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


class NotFound(LightfastError):
    """The resource does not exist."""

    code = "not_found"


class Conflict(LightfastError):
    """The resource already exists or is in a state that does not allow this."""

    code = "conflict"


class EmbeddingError(LightfastError):
    """The embedding model could not embed the text."""

    code = "embedding_error"


class ModelMismatch(Conflict):
    """The store was indexed with another embedding model than the one this process runs."""

    code = "embedding_model_mismatch"


class UpstreamError(LightfastError):
    """A service Lightfast reads from (such as GitHub) answered with an error."""

    code = "upstream_error"

    def __init__(self, message: str | None = None, *, status: int | None = None, **details: Any) -> None:
        super().__init__(message, status=status, **details)
        self.status = status


class SettingsError(LightfastError):
    """The settings are not valid."""

    code = "invalid_settings"
