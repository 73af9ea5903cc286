"""What every source hands the sync: its configuration, the paths it selects, their content, and the
changes between two of its revisions. Each source type (local directory, git repository, GitHub
repository) implements ``Source``; the registry opens the right one for a connected source's row."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from lightfast.ingest.config import CONFIG_MAX_CHARS, ConfigProblem, ConfigReport, SourceConfig

# The largest file a source reads when not told otherwise (the registry passes
# ``Settings.max_file_bytes``, whose default this is).
DEFAULT_MAX_FILE_BYTES = 5 * 1024 * 1024


def too_large(size: int | None, limit: int) -> str:
    """The reason a file is refused for its size; ``size`` None when only "more than the limit" is known."""
    shown = f"{size:,} bytes" if size is not None else f"more than {limit:,} bytes"
    return f"file is {shown}; the limit is {limit:,} bytes"


def config_limit(max_file_bytes: int) -> int:
    """The largest configuration file a source reads, in bytes: no file past the size limit, and none
    that must have more characters than a configuration may hold (UTF-8 takes at most 4 bytes a one)."""
    return min(max_file_bytes, 4 * CONFIG_MAX_CHARS)


def oversized_config(name: str, size: int, max_file_bytes: int) -> ConfigReport | None:
    """The report on a configuration file too large to read (checked before reading it), or None."""
    limit = config_limit(max_file_bytes)
    if size <= limit:
        return None
    return ConfigReport(name, None, (ConfigProblem("(file)", too_large(size, limit)),))


@dataclass(frozen=True)
class SourceFile:
    source_id: str  # unique within a store and source type; e.g. "acme/docs:guide/intro.md"
    path: str  # location inside the source, used by the path-prefix filter
    read: Callable[[], bytes]
    url: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    # Known before reading (a file's stat, a git tree's blob sizes): the pipeline refuses a file past its
    # size limit without reading or downloading it. A source whose ``read`` finds the file past the limit
    # after all (a local file that grew) raises DocumentRejected with reason "too_large".
    size: int | None = None
    # A document that belongs to another of the same source (a comment to its issue): its source id.
    parent_source_id: str | None = None
    relationships: dict[str, Any] | None = None  # seed 004's DocumentRelationships (mentions, ...)


@dataclass(frozen=True)
class Unlisted:
    """A place under a source that its listing could not enter (a directory whose path is longer than the
    system allows, one that may not be read): its files are neither indexed nor removed, and the sync
    records it as a failure with ``reason`` ("path_too_long", "unreadable")."""

    path: str
    reason: str
    message: str


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

    def unlisted(self, revision: str | None) -> list[Unlisted]:
        """What a listing at ``revision`` could not enter, sorted by path; empty when it saw everything."""

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
