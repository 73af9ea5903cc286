"""The activity log of a workspace: who did what to which entity, read newest first with filters and a
cursor, and exported as CSV or JSON exactly as filtered (the API, the console and their exports share it)."""

from __future__ import annotations

import base64
import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from lightfast.app.schemas.activity import ActivityOut
from lightfast.db import activities as repo
from lightfast.db.activities import ActivityFilters
from lightfast.db.activity_models import Activity
from lightfast.errors import InvalidInput

MAX_PAGE = 200
MAX_EXPORT = 100_000  # rows; an export says when it stopped there
EXPORT_BATCH = 1_000
CSV_COLUMNS = (
    "id",
    "timestamp",
    "category",
    "action",
    "actor_type",
    "actor_id",
    "entity_type",
    "entity_id",
    "details",
)
# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class ActivityPage:
    items: list[Activity]
    next_cursor: str | None


def encode_cursor(activity: Activity) -> str:
    raw = f"{activity.timestamp.isoformat()}|{activity.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        moment, activity_id = raw.split("|", 1)
        return datetime.fromisoformat(moment), activity_id
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput("is not a cursor this server issued", field="cursor") from exc


def csv_cell(value: object) -> str:
    """A value as a CSV cell that a spreadsheet shows as text, never runs as a formula."""
    text = "" if value is None else value if isinstance(value, str) else json.dumps(value, default=str)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


class ActivityLog:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def page(
        self, workspace_id: str, filters: ActivityFilters, *, limit: int = 50, cursor: str | None = None
    ) -> ActivityPage:
        if not 1 <= limit <= MAX_PAGE:
            raise InvalidInput(f"must be between 1 and {MAX_PAGE}", field="limit")
        after = decode_cursor(cursor) if cursor else None
        with self.sessions() as session:
            rows = repo.list_activities(session, workspace_id, filters, limit=limit + 1, after=after)
            session.expunge_all()
        more = len(rows) > limit
        rows = rows[:limit]
        return ActivityPage(rows, encode_cursor(rows[-1]) if more and rows else None)

    def rows(self, workspace_id: str, filters: ActivityFilters) -> Iterator[Activity]:
        """Every filtered activity, newest first, read in batches, at most ``MAX_EXPORT``."""
        after: tuple[datetime, str] | None = None
        sent = 0
        while sent < MAX_EXPORT:
            with self.sessions() as session:
                batch = repo.list_activities(
                    session, workspace_id, filters, limit=min(EXPORT_BATCH, MAX_EXPORT - sent), after=after
                )
                session.expunge_all()
            if not batch:
                return
            yield from batch
            sent += len(batch)
            after = (batch[-1].timestamp, batch[-1].id)

    def export_csv(self, workspace_id: str, filters: ActivityFilters) -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(CSV_COLUMNS)
        for activity in self.rows(workspace_id, filters):
            # The API's own row (ActivityOut), by field name: one shape for the page, CSV and JSON.
            record = ActivityOut.model_validate(activity).model_dump(mode="json")
            writer.writerow([csv_cell(record[column]) for column in CSV_COLUMNS])
            if buffer.tell() > 64_000:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    def export_json(self, workspace_id: str, filters: ActivityFilters) -> Iterator[str]:
        """Every filtered row in the API's own shape: an ActivityList without a next cursor."""
        yield '{"items":['
        for number, activity in enumerate(self.rows(workspace_id, filters)):
            yield ("," if number else "") + ActivityOut.model_validate(activity).model_dump_json(
                by_alias=True
            )
        yield '],"nextCursor":null}'
