"""Sources registered by type; a connected source's row says which one to open."""

from __future__ import annotations

from lightfast.db.models import ConnectedSource
from lightfast.errors import InvalidInput
from lightfast.sources.local import SOURCE_TYPE as LOCAL
from lightfast.sources.local import LocalSource


def open_source(connection: ConnectedSource) -> LocalSource:
    if connection.source_type == LOCAL:
        return LocalSource.open(connection.external_key)
    raise InvalidInput(f"source type {connection.source_type!r} cannot be synced yet", field="sourceType")
