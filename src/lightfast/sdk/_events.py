"""``GET /v1/events``: the workspace's live events (Server-Sent Events) for ``Lightfast.events`` and
``AsyncLightfast.events``. The request is built once here and the stream is decoded by one pure decoder,
so both clients read the same events the same way."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import httpx

MAX_STREAM_SECONDS = 3600
# The server sends a comment every 15 s; a read that waits longer than this means the connection died.
READ_TIMEOUT = 60.0


@dataclass(frozen=True)
class Event:
    """One event: ``type`` is ``job`` (a job's state or progress), ``activity`` (a new activity) or
    ``reset`` (events were dropped: reload the state); ``id`` resumes a stream (``last_event_id``)."""

    type: str
    data: dict[str, Any]
    id: str | None = None


@dataclass
class EventDecoder:
    """Lines of a ``text/event-stream`` in, events out (the WHATWG rules: ``field: value`` lines, comments
    from ``:``, an event ends at a blank line; ``data`` lines join with newlines)."""

    _type: str = ""
    _data: list[str] = field(default_factory=list)
    _id: str | None = None
    last_id: str | None = None

    def feed(self, line: str) -> Event | None:
        line = line.rstrip("\r\n")
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return None  # a heartbeat comment
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            self._type = value
        elif name == "data":
            self._data.append(value)
        elif name == "id" and "\0" not in value:
            self._id = value
        return None

    def _dispatch(self) -> Event | None:
        kind, data, ident = self._type or "message", "\n".join(self._data), self._id
        self._type, self._data, self._id = "", [], None
        if ident is not None:
            self.last_id = ident
        if not data:
            return None
        try:
            payload = json.loads(data)
        except ValueError:
            payload = {"raw": data}
        return Event(
            kind, payload if isinstance(payload, dict) else {"value": payload}, ident or self.last_id
        )


def build_request(
    http: httpx.Client | httpx.AsyncClient,
    base_url: str,
    headers: dict[str, str],
    timeout: int,
    last_event_id: str | None,
) -> httpx.Request:
    if not 1 <= timeout <= MAX_STREAM_SECONDS:
        raise ValueError(f"timeout must be between 1 and {MAX_STREAM_SECONDS} seconds")
    sent = {**headers, "Accept": "text/event-stream"}
    if last_event_id:
        sent["Last-Event-ID"] = last_event_id
    return http.build_request(
        "GET",
        base_url + "/v1/events",
        params={"timeout": timeout},
        headers=sent,
        timeout=httpx.Timeout(30.0, read=READ_TIMEOUT),
    )
