"""Log lines as text (the default) or as JSON objects, one a line (``LIGHTFAST_LOG_FORMAT=json``), for a
log shipper to index: time, level, logger, message, and the request id or job id the line belongs to.

The ids travel in context variables: the API's middleware binds the request id for the request's
handling, and each step of a job's workflow binds the job id, so a line logged anywhere below carries
them without passing them down."""

from __future__ import annotations

import json
import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from lightfast.settings import Settings

request_id_var: ContextVar[str | None] = ContextVar("lightfast_request_id", default=None)
job_id_var: ContextVar[str | None] = ContextVar("lightfast_job_id", default=None)

# LogRecord attributes that are not "extra" fields given by the caller.
_STANDARD = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys() | {"message", "asctime", "taskName"}
)


def bind_request(request_id: str | None) -> None:
    request_id_var.set(request_id)


def bind_job(job_id: str | None) -> None:
    job_id_var.set(job_id)


class JsonFormatter(logging.Formatter):
    """One JSON object per record. Extra fields given with ``extra={...}`` are kept when JSON can hold
    them (else their ``repr``); an exception's traceback is one string field, so a line stays a line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = _given(record, "request_id") or request_id_var.get()
        job_id = _given(record, "job_id") or job_id_var.get()
        if request_id:
            entry["requestId"] = request_id
        if job_id:
            entry["jobId"] = job_id
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in ("request_id", "job_id") and not key.startswith("_"):
                entry[key] = value if _jsonable(value) else repr(value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def _given(record: logging.LogRecord, name: str) -> str | None:
    # ``ContextFilter`` writes "-" for "none" (for the text format); that is no id.
    value = getattr(record, name, None)
    return str(value) if value and value != "-" else None


def _jsonable(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


class ContextFilter(logging.Filter):
    """Puts the bound ids on every record, for a text format that names ``%(request_id)s``."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id_var.get() or "-"
        if not hasattr(record, "job_id"):
            record.job_id = job_id_var.get() or "-"
        return True


def configure_logging(settings: Settings, stream: Any = None) -> logging.Handler:
    """The root logger's one handler in the configured format (INFO and up); the handler it set."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(ContextFilter())
    if settings.log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    return handler


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """uvicorn keeps its own text format unless told not to configure logging: with JSON, its access
    and error lines go through the root handler like every other line."""
    return {"log_config": None} if settings.log_format == "json" else {}
