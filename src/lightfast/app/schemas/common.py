"""What every request body and response model shares: unknown fields refused in, camelCase out, and
timestamps as ISO 8601 strings with their offset."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, WithJsonSchema
from pydantic.alias_generators import to_camel


class Body(BaseModel):
    """A request body: snake_case here, camelCase on the wire, unknown fields refused. Numbers and
    booleans are declared ``strict``: ``"10"`` is not a limit and ``"yes"`` is not true."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


def _iso(value: datetime) -> str:
    return value.isoformat()


# ``datetime.isoformat()`` on the wire (``+00:00``, not pydantic's ``Z``): what the API always sent.
Timestamp = Annotated[
    datetime,
    PlainSerializer(_iso, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]


class Out(BaseModel):
    """A response object: snake_case here, camelCase on the wire. Built from domain objects (ORM rows,
    the services' dataclasses) by attribute name, or by a ``from_*`` classmethod where names differ."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, from_attributes=True)

    def wire(self) -> dict[str, Any]:
        """The JSON object the API sends, for the CLI's ``--json``."""
        return self.model_dump(mode="json", by_alias=True)


class ErrorOut(Out):
    error: str = Field(description="A stable machine-readable code, e.g. not_found or invalid_input.")
    message: str
    request_id: str


class HealthOut(Out):
    status: str
    version: str
