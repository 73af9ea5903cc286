"""A GitHub repository as a source (``source_type = "github"``), read through a GitHub App installation.

A sync is pinned to one commit (its ``revision``): the plan lists the commit's recursive tree once, the
configuration and every file come from that same commit, so a push that lands mid-sync cannot mix two
versions of the repository. File contents are fetched as blobs, a batch at a time, concurrently.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar
from urllib.parse import quote

from lightfast.errors import NotFound, UpstreamError
from lightfast.ingest.config import ConfigReport, SourceConfig, config_file_name, inspect_config, path_matches
from lightfast.sources.base import DEFAULT_MAX_FILE_BYTES, SourceFile, Unlisted, oversized_config
from lightfast.sources.github.client import RepositoryClient, TreeEntry

SOURCE_TYPE = "github"
V = TypeVar("V")
REGULAR_FILE_MODES = frozenset({"100644", "100755"})  # not symlinks (120000) or submodules (160000)


def diff_trees(old: dict[str, str], new: dict[str, str]) -> dict[str, str]:
    """The change set between two trees given as {path: blob sha} (pure): a path whose blob differs or
    is new is upserted, a path that disappeared is removed."""
    changes = {path: "upsert" for path, sha in new.items() if old.get(path) != sha}
    changes.update({path: "remove" for path in old if path not in new})
    return dict(sorted(changes.items()))


class RevisionCache(Generic[V]):
    """Facts about recent commits (trees, commit times), keyed by repository id and full commit sha and
    shared by every sync of the process: they never change for a commit, and each step of a sync opens
    the source again, so without it every batch would list the tree anew."""

    def __init__(self, size: int = 16) -> None:
        self.size = size
        self._items: OrderedDict[tuple[int, str], V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[int, str]) -> V | None:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def put(self, key: tuple[int, str], value: V) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)


@dataclass
class RevisionCaches:
    trees: RevisionCache[dict[str, TreeEntry]] = field(default_factory=RevisionCache)
    commit_times: RevisionCache[str] = field(default_factory=RevisionCache)


@dataclass
class GitHubSource:
    client: RepositoryClient
    repo_id: int
    full_name: str
    branch: str
    html_url: str
    max_blob_bytes: int = DEFAULT_MAX_FILE_BYTES
    caches: RevisionCaches = field(default_factory=RevisionCaches, repr=False)

    @classmethod
    def from_metadata(
        cls,
        client: RepositoryClient,
        metadata: dict[str, Any],
        *,
        max_blob_bytes: int = DEFAULT_MAX_FILE_BYTES,
        caches: RevisionCaches | None = None,
    ) -> GitHubSource:
        full_name = str(metadata["repoFullName"])
        return cls(
            client=client,
            repo_id=int(metadata["githubRepoId"]),
            full_name=full_name,
            branch=str(metadata.get("defaultBranch") or "main"),
            html_url=str(metadata.get("htmlUrl") or f"https://github.com/{full_name}"),
            max_blob_bytes=max_blob_bytes,
            caches=caches or RevisionCaches(),
        )

    @property
    def source_type(self) -> str:
        return SOURCE_TYPE

    @property
    def external_key(self) -> str:
        return str(self.repo_id)  # survives renames and transfers, unlike the name

    @property
    def name(self) -> str:
        return self.full_name

    def head(self) -> str | None:
        return self.client.branch_head(self.full_name, self.branch)

    def _tree(self, revision: str | None) -> dict[str, TreeEntry]:
        sha = revision or self.head()
        if sha is None:
            return {}
        # Keyed by the repository id and a full commit sha only: a branch name would go stale.
        key = (self.repo_id, sha)
        pinned = len(sha) == 40
        tree = self.caches.trees.get(key) if pinned else None
        if tree is None:
            tree = {e.path: e for e in self.client.tree(self.full_name, sha) if e.mode in REGULAR_FILE_MODES}
            if pinned:
                self.caches.trees.put(key, tree)
        return tree

    def inspect_config(self, revision: str | None) -> ConfigReport:
        tree = self._tree(revision)
        name = config_file_name(path for path in tree if "/" not in path)
        oversized = oversized_config(name, tree[name].size, self.max_blob_bytes) if name else None
        if oversized is not None:
            return oversized  # refused by the size the tree lists, never downloaded
        data = self.client.blob(self.full_name, tree[name].sha) if name else None
        return inspect_config(name, data, tree)

    def paths(self, config: SourceConfig, revision: str | None) -> list[str]:
        return sorted(path for path in self._tree(revision) if path_matches(path, config))

    def unlisted(self, revision: str | None) -> list[Unlisted]:
        return []  # a truncated tree listing is walked directory by directory: nothing is left out

    def versions(self, revision: str | None) -> dict[str, str]:
        """{path: blob sha}: a document whose stored blob sha matches is unchanged without a download."""
        return {path: entry.sha for path, entry in self._tree(revision).items()}

    def source_id(self, path: str) -> str:
        # The repository id, not its name: a rename must not re-key (and re-embed) every document.
        return f"{self.repo_id}:{path}"

    def url(self, path: str) -> str:
        return f"{self.html_url}/blob/{quote(self.branch)}/{quote(path)}"

    def files(self, paths: list[str], revision: str | None) -> list[SourceFile]:
        tree = self._tree(revision)
        wanted = [tree[p].sha for p in paths if p in tree and tree[p].size <= self.max_blob_bytes]
        contents = self.client.blobs(self.full_name, wanted)
        committed_at = self._committed_at(revision) if paths else None
        return [self._file(path, tree.get(path), contents, revision, committed_at) for path in paths]

    def _committed_at(self, revision: str | None) -> str | None:
        if revision is None or len(revision) != 40:
            return None
        key = (self.repo_id, revision)
        cached = self.caches.commit_times.get(key)
        if cached is None:
            cached = self.client.committed_at(self.full_name, revision) or ""
            self.caches.commit_times.put(key, cached)
        return cached or None

    def _file(
        self,
        path: str,
        entry: TreeEntry | None,
        contents: dict[str, bytes | NotFound],
        revision: str | None,
        committed_at: str | None,
    ) -> SourceFile:
        def read() -> bytes:
            if entry is None:
                raise NotFound(f"{path} is not in {self.full_name} at {revision}")
            content = contents.get(entry.sha)
            if content is None:  # too large to prefetch: only read if the pipeline asks
                content = self.client.blob(self.full_name, entry.sha)
            if isinstance(content, NotFound):
                raise content
            return content

        # The document metadata of seed 004 (GitHubDocMetadata), plus the blob sha.
        metadata: dict[str, Any] = {
            "type": SOURCE_TYPE,
            "path": path,
            "commitSha": revision,
            "committedAt": committed_at,
            "repoFullName": self.full_name,
            "branch": self.branch,
        }
        if entry is not None:
            metadata["blobSha"] = entry.sha
        return SourceFile(
            source_id=self.source_id(path),
            path=path,
            read=read,
            url=self.url(path),
            metadata=metadata,
            size=entry.size if entry else None,
        )

    def changes(self, base: str, revision: str) -> dict[str, str] | None:
        try:
            old = self._tree(base)
        except (NotFound, UpstreamError) as exc:
            if isinstance(exc, UpstreamError) and exc.status != 422:
                raise
            return None  # the old commit is gone (force push): only a full sync will do
        new = self._tree(revision)
        return diff_trees({p: e.sha for p, e in old.items()}, {p: e.sha for p, e in new.items()})
