"""A source whose documents are rendered from entity snapshots (Linear issues, Notion pages): what a
webhook delivered or a backfill fetched, kept newest-first by the application (``vendor_entities``).

The sync machinery sees an ordinary ``Source``: one path per entity (``issues/<uuid>.md``), no revisions,
no lightfast.yml (every entity is indexed into the workspace's default store). A vendor package gives a
``Renderer`` (snapshot -> ``Rendered``) and, when the connection has an API token, a ``Backfill`` that
lists everything upstream before a full sync lists the snapshots (what makes a full sync a
reconciliation: entities gone upstream are marked deleted, so their documents go)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from lightfast.errors import NotFound
from lightfast.ingest.config import DEFAULT_STORE, ConfigReport, SourceConfig
from lightfast.sources.base import SourceFile, Unlisted

# Every snapshot path ends in .md; this is the whole configuration of a snapshot source.
SNAPSHOT_CONFIG = SourceConfig(DEFAULT_STORE, ("**/*.md",))


@dataclass(frozen=True)
class Snapshot:
    entity_id: str
    kind: str
    version: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class Rendered:
    path: str
    markdown: str
    url: str | None
    metadata: dict[str, Any]
    parent_id: str | None = None
    relationships: dict[str, Any] | None = None


class SnapshotReader(Protocol):
    """The application's view of one connection's snapshots."""

    def live_paths(self) -> list[str]:
        """Paths of every entity not deleted, sorted."""

    def read(self, entity_ids: list[str]) -> dict[str, Snapshot]:
        """The live snapshots of these entities (deleted or unknown ones left out)."""


class Backfill(Protocol):
    def __call__(self, should_stop: Callable[[], bool]) -> None:
        """List everything upstream into the snapshots (resuming from its checkpoint), and mark deleted
        what upstream no longer has; stops between pages, its checkpoint kept, once ``should_stop``."""


Renderer = Callable[[Snapshot], Rendered | None]
PathToId = Callable[[str], str | None]


class SnapshotSource:
    def __init__(
        self,
        *,
        source_type: str,
        external_key: str,
        name: str,
        reader: SnapshotReader,
        render: Renderer,
        entity_of_path: PathToId,
        backfill: Backfill | None = None,
        id_prefix: str | None = None,
    ) -> None:
        self._type, self._key, self._name = source_type, external_key, name
        # Documents' source ids are "<prefix>:<entity id>" when given (the connection's id): two
        # connections of one vendor workspace into one store then keep documents of their own, as two
        # GitHub repositories do by their repository ids, instead of overwriting (and, on disconnect,
        # deleting) each other's. The lookup by source id accepts the bare entity id.
        self.id_prefix = id_prefix
        self.reader, self.render, self.entity_of_path, self.backfill = (
            reader,
            render,
            entity_of_path,
            backfill,
        )

    @property
    def source_type(self) -> str:
        return self._type

    @property
    def external_key(self) -> str:
        return self._key

    @property
    def name(self) -> str:
        return self._name

    def head(self) -> str | None:
        return None

    def inspect_config(self, revision: str | None) -> ConfigReport:
        return ConfigReport(None, SNAPSHOT_CONFIG)

    def prepare(self, should_stop: Callable[[], bool] = lambda: False) -> None:
        """Before a full sync plans (outside its transaction): list everything upstream, when the
        connection can (``lightfast.app.sync.SyncRunner._prepare`` calls it, ``should_stop`` a cancel)."""
        if self.backfill is not None:
            self.backfill(should_stop)

    def paths(self, config: SourceConfig, revision: str | None) -> list[str]:
        return self.reader.live_paths()

    def unlisted(self, revision: str | None) -> list[Unlisted]:
        return []

    def versions(self, revision: str | None) -> dict[str, str]:
        return {}

    def source_id(self, path: str) -> str:
        return self._keyed(self.entity_of_path(path) or path)

    def _keyed(self, entity_id: str) -> str:
        return f"{self.id_prefix}:{entity_id}" if self.id_prefix else entity_id

    def changes(self, base: str, revision: str) -> dict[str, str] | None:
        return None

    def files(self, paths: list[str], revision: str | None) -> list[SourceFile]:
        ids = {path: self.entity_of_path(path) or path for path in paths}
        found = self.reader.read(sorted(set(ids.values())))
        files: list[SourceFile] = []
        for path, entity_id in ids.items():
            snapshot = found.get(entity_id)
            rendered = self.render(snapshot) if snapshot is not None else None
            if rendered is None:
                files.append(SourceFile(self._keyed(entity_id), path, _gone(path)))
                continue
            data = rendered.markdown.encode("utf-8")
            files.append(
                SourceFile(
                    source_id=self._keyed(entity_id),
                    path=path,
                    read=_constant(data),
                    url=rendered.url,
                    metadata=rendered.metadata,
                    size=len(data),
                    parent_source_id=self._keyed(rendered.parent_id) if rendered.parent_id else None,
                    relationships=rendered.relationships,
                )
            )
        return files


def _constant(data: bytes) -> Callable[[], bytes]:
    return lambda: data


def _gone(path: str) -> Callable[[], bytes]:
    def read() -> bytes:
        raise NotFound(f"{path} was removed upstream before it could be indexed")

    return read


def canonical_version(text: str) -> str:
    """A vendor timestamp (``2021-01-30T11:24:17.747Z``, ``...+00:00``) as a string that sorts in time
    order: UTC, microseconds, ``Z``. ValueError when it is not an ISO 8601 time with a zone."""
    from datetime import UTC, datetime

    when = datetime.fromisoformat(text.strip())
    if when.tzinfo is None:
        raise ValueError("a vendor timestamp must carry its time zone")
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
