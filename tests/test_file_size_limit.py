"""A file past ``LIGHTFAST_MAX_FILE_BYTES`` is refused before it is read, for every source: a local
file by its size on disk, a git blob by ``git ls-tree -l``, a GitHub blob by the tree's ``size``. It is
recorded as a per-document failure (reason ``too_large``); the configuration file is held to the same
limit and refused with a configuration problem.

"Never read" is observed directly: the peak of Python's allocations while a 50 MB file is refused
(tracemalloc) stays far below the file's size, git is never asked for the blob, and the GitHub stand-in
logs no request for it.
"""

from __future__ import annotations

import os
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import select

from lightfast.app.container import Services, build_services
from lightfast.db.engine import make_engine
from lightfast.db.models import DocumentFailure, Job
from lightfast.errors import ConfigError, DocumentRejected
from lightfast.sources import git as git_module
from lightfast.sources.base import config_limit
from lightfast.sources.git import GitSource
from lightfast.sources.github.client import GitHubApp
from lightfast.sources.github.source import GitHubSource
from lightfast.sources.local import LocalSource, read_at_most
from lightfast.testing.github import GitHubStandIn, generate_private_key
from tests.conftest import make_settings, write
from tests.gitrepo import commit, git, isolate_git, make_repo

T = TypeVar("T")
BIG = 50 * 1024 * 1024  # the size of the reproduction
LIMIT = 5 * 1024 * 1024  # the default LIGHTFAST_MAX_FILE_BYTES
CONFIG = "version: 1\nstore: docs\ninclude:\n  - '**/*.md'\n"


def peak_bytes(run: Callable[[], T]) -> tuple[T, int]:
    """``run()``'s result and the peak of Python's allocations while it ran."""
    tracemalloc.start()
    try:
        result = run()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return result, peak


def sparse(path: Path, size: int) -> Path:
    """A file of ``size`` bytes that takes no disk space (zeros; it would be refused as binary too, but
    the size check comes first)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        handle.truncate(size)
    return path


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'lightfast.db'}", max_file_bytes=LIMIT)
    built = build_services(settings, engine=make_engine(settings.resolved_database_url))
    yield built
    built.close()


@pytest.fixture(autouse=True)
def _isolated_git(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate_git(monkeypatch, tmp_path)  # the product runs git too


def failures(services: Services, job_id: str) -> dict[str, tuple[str, str]]:
    with services.sessions() as session:
        rows = session.scalars(select(DocumentFailure).where(DocumentFailure.job_id == job_id))
        return {row.path: (row.reason, row.message) for row in rows}


# --------------------------------------------------------------------------------------------------
# Local directories
# --------------------------------------------------------------------------------------------------


def test_a_50_mb_local_file_is_refused_without_being_read(services: Services, tmp_path: Path) -> None:
    repo = write(tmp_path / "repo", {"lightfast.yml": CONFIG, "small.md": "# Small\n\nfine text\n"})
    sparse(repo / "big.md", BIG)
    services.ingest.ingest_path(write(tmp_path / "warm", {"a.md": "# A\n\nwarm up\n"}))  # caches, imports

    result, peak = peak_bytes(lambda: services.ingest.ingest_path(repo))

    assert result.status == "completed_with_errors"
    assert result.summary.documents_added == 1
    assert failures(services, result.job_id) == {
        "big.md": ("too_large", f"file is {BIG:,} bytes; the limit is {LIMIT:,} bytes")
    }
    assert peak < BIG // 10, f"{peak:,} bytes allocated while refusing a {BIG:,}-byte file"


def test_local_files_carry_their_size_before_they_are_read(tmp_path: Path) -> None:
    repo = write(tmp_path / "repo", {"small.md": "small", "big.md": "x" * 1025})
    source = LocalSource.open(repo, max_file_bytes=1024)
    files = {f.path: f for f in source.files(["big.md", "small.md", "gone.md"])}
    assert (files["big.md"].size, files["small.md"].size, files["gone.md"].size) == (1025, 5, None)
    assert files["small.md"].read() == b"small"
    with pytest.raises(FileNotFoundError):
        files["gone.md"].read()


def test_a_local_file_that_grows_past_the_limit_after_listing_is_refused_while_read(tmp_path: Path) -> None:
    repo = write(tmp_path / "repo", {"grows.md": "# Grows\n"})
    source = LocalSource.open(repo, max_file_bytes=1024)
    [file] = source.files(["grows.md"])
    assert file.size == 8
    sparse(repo / "grows.md", BIG)

    def attempt() -> DocumentRejected:
        with pytest.raises(DocumentRejected) as raised:
            file.read()
        return raised.value

    rejected, peak = peak_bytes(attempt)
    assert rejected.reason == "too_large"
    assert rejected.message == f"file is {BIG:,} bytes; the limit is 1,024 bytes"
    assert peak < BIG // 10
    (repo / "grows.md").write_text("# Grows\n")
    assert file.read() == b"# Grows\n"


@pytest.mark.parametrize(("limit", "expected"), [(1024, b"0123456789"), (5, None)])
def test_a_local_file_that_grows_while_it_is_read_is_read_whole_or_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, limit: int, expected: bytes | None
) -> None:
    path = write(tmp_path, {"grows.md": "0123456789"}) / "grows.md"
    real_fstat = os.fstat

    def fstat_before_growth(fd: int) -> Any:  # the size when opened; 10 bytes by the time it is read
        found = real_fstat(fd)
        return os.stat_result((found.st_mode, *found[1:6], 3, *found[7:]))

    monkeypatch.setattr(os, "fstat", fstat_before_growth)
    if expected is not None:
        assert read_at_most(path, limit) == expected
    else:
        with pytest.raises(DocumentRejected) as raised:
            read_at_most(path, limit)
        assert raised.value.message == "file is more than 5 bytes; the limit is 5 bytes"


def test_a_local_file_that_grows_during_a_sync_is_a_too_large_document_failure(
    services: Services, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = write(tmp_path / "repo", {"small.md": "# Small\n\nfine\n", "grows.md": "# Grows\n"})
    listed = LocalSource.files

    def files_then_grow(self: LocalSource, paths: list[str], revision: str | None = None) -> Any:
        found = listed(self, paths, revision)
        sparse(repo / "grows.md", LIMIT + 1)  # after its size was taken, before it is read
        return found

    monkeypatch.setattr(LocalSource, "files", files_then_grow)
    result = services.ingest.ingest_path(repo)
    assert result.status == "completed_with_errors"
    assert result.summary.documents_added == 1
    assert failures(services, result.job_id) == {
        "grows.md": ("too_large", f"file is {LIMIT + 1:,} bytes; the limit is {LIMIT:,} bytes")
    }


def test_a_50_mb_local_config_file_is_refused_without_being_read(services: Services, tmp_path: Path) -> None:
    repo = write(tmp_path / "repo", {"small.md": "# Small\n"})
    sparse(repo / "lightfast.yml", BIG)

    def ingest() -> str:
        with pytest.raises(ConfigError) as raised:
            services.ingest.ingest_path(repo)
        return raised.value.message

    message, peak = peak_bytes(ingest)
    limit = config_limit(LIMIT)  # 1 MiB: no more characters than a configuration may hold
    assert message == f"lightfast.yml: (file): file is {BIG:,} bytes; the limit is {limit:,} bytes"
    assert peak < BIG // 10
    report = LocalSource.open(repo).inspect_config(None)
    assert report.status == "error"
    assert report.path == "lightfast.yml"


# --------------------------------------------------------------------------------------------------
# Local git repositories
# --------------------------------------------------------------------------------------------------


@pytest.fixture
def git_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every git command the source runs, with its standard input, as one string each."""
    calls: list[str] = []
    run = git_module._run

    def spy(root: Path | str, args: list[str], **kwargs: Any) -> Any:
        stdin = kwargs.get("stdin") or b""
        calls.append(" ".join(args) + " <" + stdin.decode())
        return run(root, args, **kwargs)

    monkeypatch.setattr(git_module, "_run", spy)
    return calls


def test_a_git_blob_over_the_limit_is_refused_without_being_read(
    services: Services, tmp_path: Path, git_calls: list[str]
) -> None:
    repo = make_repo(tmp_path / "repo", {"lightfast.yml": CONFIG, "small.md": "# Small\n\nfine\n"})
    sparse(repo / "big.md", LIMIT + 1)
    commit(repo, "big")
    big_blob = git(repo, "rev-parse", "HEAD:big.md")
    workspace_id = services.workspaces.ensure_workspace_id()
    connected = services.sources.connect_git(workspace_id, repo, None)
    services.runner.run_inline(connected.job_id)
    with services.sessions() as session:
        job = session.get(Job, connected.job_id)
        assert job is not None
        assert job.status == "completed_with_errors"
    assert failures(services, connected.job_id) == {
        "big.md": ("too_large", f"file is {LIMIT + 1:,} bytes; the limit is {LIMIT:,} bytes")
    }
    assert git_calls, "the spy saw no git command"
    assert not [call for call in git_calls if big_blob in call]


def test_a_git_config_file_over_the_limit_is_refused_without_being_read(
    tmp_path: Path, git_calls: list[str]
) -> None:
    repo = make_repo(tmp_path / "repo", {"small.md": "# Small\n"})
    (repo / "lightfast.yml").write_text(CONFIG + "#" * 2000 + "\n")
    commit(repo, "a long config")
    config_blob = git(repo, "rev-parse", "HEAD:lightfast.yml")
    report = GitSource.open(repo, max_blob_bytes=1024).inspect_config(None)
    assert report.status == "error"
    assert report.path == "lightfast.yml"
    size = len(CONFIG) + 2001
    assert [str(p) for p in report.problems] == [f"(file): file is {size:,} bytes; the limit is 1,024 bytes"]
    assert not [call for call in git_calls if config_blob in call or "cat-file" in call]


# --------------------------------------------------------------------------------------------------
# GitHub (the REST stand-in logs every request)
# --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def keys() -> tuple[str, str]:
    return generate_private_key()


@pytest.fixture
def github(tmp_path: Path, keys: tuple[str, str]) -> Iterator[tuple[GitHubStandIn, GitHubApp, Path]]:
    private_pem, public_pem = keys
    repo = make_repo(tmp_path / "handbook", {"README.md": "# Handbook\n"})
    with GitHubStandIn(app_id=1, public_key_pem=public_pem) as standin:
        standin.add_repository("acme/handbook", repo, repo_id=7, installation_id=3)
        app = GitHubApp("1", private_pem, standin.url)
        yield standin, app, repo
        app.close()


def github_source(app: GitHubApp, limit: int) -> GitHubSource:
    metadata = {"repoFullName": "acme/handbook", "githubRepoId": 7, "defaultBranch": "main"}
    return GitHubSource.from_metadata(app.installation(3), metadata, max_blob_bytes=limit)


def blob_requests(standin: GitHubStandIn, sha: str) -> list[str]:
    return [r.path for r in standin.requests if "/git/blobs/" in r.path and sha in r.path]


def test_a_github_blob_over_the_limit_is_never_requested(
    github: tuple[GitHubStandIn, GitHubApp, Path],
) -> None:
    standin, app, repo = github
    head = commit(repo, "big", {"big.md": "x" * 1025, "small.md": "small"})
    big_blob = git(repo, "rev-parse", "HEAD:big.md")
    files = {f.path: f for f in github_source(app, 1024).files(["big.md", "small.md"], head)}
    assert files["big.md"].size == 1025  # what the pipeline checks before it would read
    assert files["small.md"].read() == b"small"
    assert blob_requests(standin, big_blob) == []


def test_a_github_config_file_over_the_limit_is_never_requested(
    github: tuple[GitHubStandIn, GitHubApp, Path],
) -> None:
    standin, app, repo = github
    head = commit(repo, "a long config", {"lightfast.yml": CONFIG + "#" * 2000 + "\n"})
    config_blob = git(repo, "rev-parse", "HEAD:lightfast.yml")
    report = github_source(app, 1024).inspect_config(head)
    assert report.status == "error"
    assert report.path == "lightfast.yml"
    size = len(CONFIG) + 2001
    assert [str(p) for p in report.problems] == [f"(file): file is {size:,} bytes; the limit is 1,024 bytes"]
    assert blob_requests(standin, config_blob) == []
