"""What every source hands the sync: its configuration, the paths it selects, their content, and the
changes between two of its revisions. Each source type (local directory, git repository, GitHub
repository) implements ``Source``; the registry opens the right one for a connected source's row."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from lightfast.ingest.config import ConfigReport, SourceConfig


@dataclass(frozen=True)
class SourceFile:
    source_id: str  # unique within a store and source type; e.g. "acme/docs:guide/intro.md"
    path: str  # location inside the source, used by the path-prefix filter
    read: Callable[[], bytes]
    url: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    # Known before reading (a git tree lists blob sizes): lets the pipeline refuse a file that is too
    # large without downloading it.
    size: int | None = None


class Source(Protocol):
    """A source of documents. A ``revision`` is a commit sha for versioned sources and ``None`` for a
    plain directory, which is always read as it is now."""

    @property
    def source_type(self) -> str:
        """The registry key: "local", "git", "github"."""

    @property
    def external_key(self) -> str:
        """What identifies the source outside Lightfast (a path, a repository id)."""

    @property
    def name(self) -> str:
        """A name for people: a directory name, OWNER/REPO."""

    def head(self) -> str | None:
        """The revision a sync should index now (the default branch's head commit), or None."""

    def inspect_config(self, revision: str | None) -> ConfigReport:
        """The source's lightfast.yml at ``revision``: file name, configuration, problems."""

    def paths(self, config: SourceConfig, revision: str | None) -> list[str]:
        """Every path the configuration selects at ``revision``, sorted."""

    def versions(self, revision: str | None) -> dict[str, str]:
        """{path: version id} (a git blob sha) of every file at ``revision``, when the source knows them
        without reading content; a document stored with the same version is unchanged. May be empty."""

    def source_id(self, path: str) -> str:
        """The document's id within the source type: stable for as long as the file is the same file."""

    def files(self, paths: list[str], revision: str | None) -> list[SourceFile]:
        """The files at ``paths`` as of ``revision``; reading may fetch their content."""

    def changes(self, base: str, revision: str) -> dict[str, str] | None:
        """Paths changed between two revisions as a change set (path -> "upsert" | "remove"), or None
        when ``base`` is no longer known (a force push rewrote history) and only a full sync will do."""
