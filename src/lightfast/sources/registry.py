"""Sources registered by type; a connected source's row says which one to open and how."""

from __future__ import annotations

import threading
from collections.abc import Callable

from lightfast.db.models import ConnectedSource
from lightfast.errors import InvalidInput
from lightfast.settings import Settings
from lightfast.sources import git, local
from lightfast.sources.base import Source
from lightfast.sources.github import source as github
from lightfast.sources.github.client import GitHubApp

SOURCE_TYPES = (local.SOURCE_TYPE, git.SOURCE_TYPE, github.SOURCE_TYPE)


class SourceOpener:
    """Opens the source behind a connected source's row. Holds the GitHub App, built on first use, so its
    installation tokens are cached across syncs."""

    def __init__(self, settings: Settings, github_app: GitHubApp | None = None) -> None:
        self.settings = settings
        self._github_app = github_app
        self._lock = threading.Lock()
        self._caches = github.RevisionCaches()
        # Sources whose opening needs the application (Linear, Notion: their snapshots live in the
        # database), registered by the composition root.
        self._openers: dict[str, Callable[[ConnectedSource], Source]] = {}

    def register(self, source_type: str, opener: Callable[[ConnectedSource], Source]) -> None:
        self._openers[source_type] = opener

    def close(self) -> None:
        with self._lock:
            if self._github_app is not None:
                self._github_app.close()

    @property
    def github_app(self) -> GitHubApp:
        with self._lock:
            if self._github_app is None:
                self._github_app = GitHubApp.from_settings(self.settings)  # SettingsError when not set up
            return self._github_app

    def open(self, connection: ConnectedSource) -> Source:
        metadata = connection.source_metadata or {}
        if connection.source_type == local.SOURCE_TYPE:
            return local.LocalSource.open(
                connection.external_key, max_file_bytes=self.settings.max_file_bytes
            )
        if connection.source_type == git.SOURCE_TYPE:
            return git.GitSource.open(
                connection.external_key,
                metadata.get("branch"),
                max_blob_bytes=self.settings.max_file_bytes,
            )
        if connection.source_type == github.SOURCE_TYPE:
            client = self.github_app.installation(int(metadata["githubInstallationId"]))
            return github.GitHubSource.from_metadata(
                client, metadata, max_blob_bytes=self.settings.max_file_bytes, caches=self._caches
            )
        if connection.source_type in self._openers:
            return self._openers[connection.source_type](connection)
        raise InvalidInput(f"source type {connection.source_type!r} cannot be synced yet", field="sourceType")
