"""Local git repositories as sources, end to end on SQLite and PostgreSQL: repositories built with the git
CLI in tmp_path, connected through SourceService, synced in-process with SyncRunner.run_inline and
disconnected with DisconnectRunner.run_inline. Spies on GitSource record which paths a sync reads, so
"an incremental sync looks only at what changed" is asserted, not inferred."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from lightfast.app.container import Services, build_services
from lightfast.app.search import SearchMode, SearchRequest
from lightfast.db.engine import make_engine
from lightfast.db.models import ConnectedSource, Document, DocumentFailure, Job, VectorEntry
from lightfast.errors import ConfigError, NotFound
from lightfast.sources.git import GitSource
from tests.conftest import make_settings, write
from tests.gitrepo import commit, git, isolate_git, make_repo

CONFIG = "version: 1\nstore: docs\ninclude:\n  - docs/**/*.md\n  - README.md\n"
INITIAL: dict[str, str | bytes] = {
    "lightfast.yml": CONFIG,
    "README.md": "# Handbook\n\nHow the acme team works.\n",
    "docs/deploy.md": "# Deploying\n\nRun the rollout with canaries.\n",
    "docs/oncall.md": "# On call\n\nPager rotation and escalation policy.\n",
    "docs/style.md": "# Style\n\nWrite in the active voice.\n",
    "notes/todo.md": "# Todo\n\nNot included: marmalade.\n",
    "src/app.py": "print('not a document')\n",
}
INDEXED = {"README.md", "docs/deploy.md", "docs/oncall.md", "docs/style.md"}
COUNTS = (
    "documents_added",
    "documents_updated",
    "documents_unchanged",
    "documents_deleted",
    "documents_failed",
)


@pytest.fixture(autouse=True)
def _isolated_git(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate_git(monkeypatch, tmp_path)  # the product runs git too


def counts(job: Job) -> tuple[int, ...]:
    output = job.output or {}
    return tuple(output[name] for name in COUNTS)


@dataclass
class Spy:
    """What the syncs asked of GitSource: the paths read, full listings, and diff results."""

    reads: list[list[str]] = field(default_factory=list)
    listings: int = 0
    diffs: list[dict[str, str] | None] = field(default_factory=list)

    def reset(self) -> None:
        self.reads.clear()
        self.listings = 0
        self.diffs.clear()

    @property
    def read_paths(self) -> set[str]:
        return {path for call in self.reads for path in call}


@dataclass
class World:
    services: Services
    repo: Path
    workspace_id: str
    spy: Spy

    def connect(
        self, repo: Path | None = None, branch: str | None = None, workspace_id: str | None = None
    ) -> tuple[str, Job]:
        connected = self.services.sources.connect_git(
            workspace_id or self.workspace_id, repo or self.repo, branch
        )
        return connected.source.id, self.run(connected.job_id)

    def sync(self, source_id: str, mode: str = "incremental") -> Job:
        self.spy.reset()
        enqueued = self.services.jobs.enqueue_sync(self.workspace_id, source_id, mode=mode)
        assert enqueued.created
        return self.run(enqueued.job_id)

    def run(self, job_id: str) -> Job:
        self.services.runner.run_inline(job_id)
        job = self.job(job_id)
        assert job.status == "completed", job.error_message
        return job

    def job(self, job_id: str) -> Job:
        with self.services.sessions() as session:
            job = session.get(Job, job_id)
            assert job is not None
            return job

    def source(self, source_id: str, workspace_id: str | None = None) -> ConnectedSource:
        return self.services.sources.get(workspace_id or self.workspace_id, source_id)

    def last_commit(self, source_id: str, workspace_id: str | None = None) -> str | None:
        return self.source(source_id, workspace_id).source_metadata.get("lastCommit")

    def documents(self, source_id: str) -> dict[str, str]:
        with self.services.sessions() as session:
            rows = session.execute(
                select(Document.path, Document.content).where(Document.connection_id == source_id)
            )
            return {path: content or "" for path, content in rows}

    def count(self, model: Any, *where: Any) -> int:
        with self.services.sessions() as session:
            return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)

    def search(self, query: str, workspace_id: str | None = None) -> list[str]:
        request = SearchRequest(workspace_id or self.workspace_id, query, limit=10, mode=SearchMode.FAST)
        return [r.path for r in self.services.search.search(request).results]


def committed(repo: Path, revision: str, paths: set[str]) -> dict[str, str]:
    """{path: content} of ``paths`` as committed at ``revision``: what the index must hold."""

    def show(path: str) -> str:
        blob = subprocess.run(
            ["git", "-C", str(repo), "cat-file", "blob", f"{revision}:{path}"],
            capture_output=True,
            check=True,
        )
        return blob.stdout.decode()

    return {path: show(path) for path in paths}


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> Spy:
    record = Spy()
    files, paths, changes = GitSource.files, GitSource.paths, GitSource.changes

    def spy_files(self: GitSource, wanted: list[str], revision: str | None) -> Any:
        record.reads.append(list(wanted))
        return files(self, wanted, revision)

    def spy_paths(self: GitSource, config: Any, revision: str | None) -> list[str]:
        record.listings += 1
        return paths(self, config, revision)

    def spy_changes(self: GitSource, base: str, revision: str) -> dict[str, str] | None:
        result = changes(self, base, revision)
        record.diffs.append(result)
        return result

    monkeypatch.setattr(GitSource, "files", spy_files)
    monkeypatch.setattr(GitSource, "paths", spy_paths)
    monkeypatch.setattr(GitSource, "changes", spy_changes)
    return record


@pytest.fixture
def world(tmp_path: Path, database_url: str, spy: Spy) -> Iterator[World]:
    repo = make_repo(tmp_path / "handbook", INITIAL)
    settings = make_settings(tmp_path, database_url)
    services = build_services(settings, engine=make_engine(settings.resolved_database_url))
    try:
        yield World(services, repo, services.workspaces.ensure_workspace_id(), spy)
    finally:
        services.close()


def test_connect_indexes_committed_files_only(world: World) -> None:
    head = git(world.repo, "rev-parse", "HEAD")
    # Edits that are not commits: a modified tracked file, an untracked file, a staged new file.
    write(world.repo, {"docs/deploy.md": "# Deploying\n\nUncommitted zeppelin.\n"})
    write(world.repo, {"docs/draft.md": "# Draft\n\nUntracked xylophone.\n"})
    write(world.repo, {"docs/staged.md": "# Staged\n\nStaged quokka.\n"})
    git(world.repo, "add", "docs/staged.md")

    source_id, job = world.connect()
    assert job.input["mode"] == "full"
    assert job.input["revision"] == head
    assert counts(job) == (4, 0, 0, 0, 0)
    assert world.spy.read_paths == INDEXED  # notes/, src/ and the uncommitted files are not even read
    assert world.documents(source_id) == committed(world.repo, head, INDEXED)
    source = world.source(source_id)
    assert (source.source_type, source.display_name, source.external_key) == (
        "git",
        "handbook",
        str(world.repo.resolve()),
    )
    assert source.config_status == "configured"
    assert source.document_count == 4
    assert source.source_metadata["branch"] == "main"
    assert source.source_metadata["lastCommit"] == head
    with world.services.sessions() as session:
        deploy = session.scalars(select(Document).where(Document.path == "docs/deploy.md")).one()
    assert deploy.source_type == "git"
    assert deploy.source_metadata["commitSha"] == head
    assert deploy.source_metadata["blobSha"] == git(world.repo, "rev-parse", f"{head}:docs/deploy.md")
    assert deploy.url == (world.repo.resolve() / "docs/deploy.md").as_uri()

    assert world.search("canaries") == ["docs/deploy.md"]
    for word in ("zeppelin", "xylophone", "quokka", "marmalade"):
        assert world.search(word) == [], word

    # A later sync still does not see them: there is no new commit.
    again = world.sync(source_id)
    assert counts(again) == (0, 0, 0, 0, 0)
    assert world.search("zeppelin") == []


def test_each_incremental_sync_processes_exactly_the_changed_paths(world: World) -> None:
    source_id, _ = world.connect()

    # Modified + added (+ a file outside the include, which is ignored).
    c1 = commit(
        world.repo,
        "edit",
        {
            "docs/deploy.md": "# Deploying\n\nShip behind the zeppelin flag.\n",
            "docs/new.md": "# Glossary\n\nA xylophone of terms.\n",
            "src/other.py": "print('zeppelin')\n",
        },
    )
    job = world.sync(source_id)
    assert job.input["mode"] == "incremental"
    assert job.input["revision"] == c1
    assert counts(job) == (1, 1, 0, 0, 0)  # documents_unchanged == 0: README.md etc. were not looked at
    assert world.spy.reads == [["docs/deploy.md", "docs/new.md"]]
    assert world.spy.listings == 0
    assert world.last_commit(source_id) == c1
    assert world.search("zeppelin") == ["docs/deploy.md"]
    assert world.search("xylophone") == ["docs/new.md"]
    assert world.search("canaries") == []  # the old version's text is gone

    # Deleted.
    c2 = commit(world.repo, "drop on call", remove=("docs/oncall.md",))
    job = world.sync(source_id)
    assert counts(job) == (0, 0, 0, 1, 0)
    assert world.spy.read_paths == set()
    assert world.last_commit(source_id) == c2
    assert world.search("pager rotation escalation") == []

    # Renamed: the old path goes, the new one comes.
    (world.repo / "docs/guide").mkdir()
    git(world.repo, "mv", "docs/style.md", "docs/guide/style.md")
    c3 = commit(world.repo, "move style")
    job = world.sync(source_id)
    assert counts(job) == (1, 0, 0, 1, 0)
    assert world.spy.read_paths == {"docs/guide/style.md"}
    assert world.last_commit(source_id) == c3
    assert world.search("active voice") == ["docs/guide/style.md"]

    # Two commits between syncs: one sync covers both.
    commit(world.repo, "readme", {"README.md": "# Handbook\n\nHow the acme team works remotely.\n"})
    c5 = commit(world.repo, "glossary", {"docs/new.md": "# Glossary\n\nA vibraphone of terms.\n"})
    job = world.sync(source_id)
    assert counts(job) == (0, 2, 0, 0, 0)
    assert world.spy.read_paths == {"README.md", "docs/new.md"}
    assert world.last_commit(source_id) == c5
    assert world.search("vibraphone") == ["docs/new.md"]
    assert world.search("xylophone") == []

    expected = {"README.md", "docs/deploy.md", "docs/new.md", "docs/guide/style.md"}
    assert world.documents(source_id) == committed(world.repo, c5, expected)
    assert world.source(source_id).document_count == 4


def test_incremental_sync_without_a_new_commit_does_nothing(world: World) -> None:
    source_id, first = world.connect()
    head = first.input["revision"]
    write(world.repo, {"docs/deploy.md": "# Deploying\n\nUncommitted.\n"})  # working tree only
    job = world.sync(source_id)
    assert job.input["revision"] == head
    assert counts(job) == (0, 0, 0, 0, 0)
    assert (job.output or {})["chunks_embedded"] == 0
    assert world.spy.reads == []
    assert world.spy.listings == 0
    assert world.last_commit(source_id) == head

    # A commit that touches nothing the config includes: nothing is read, but the base moves on.
    git(world.repo, "checkout", "-q", "--", "docs/deploy.md")
    outside = commit(world.repo, "code", {"src/app.py": "print('still not a document')\n"})
    job = world.sync(source_id)
    assert counts(job) == (0, 0, 0, 0, 0)
    assert world.spy.reads == []
    assert world.last_commit(source_id) == outside
    assert set(world.documents(source_id)) == INDEXED


def test_config_changes_run_a_full_sync_and_a_broken_config_keeps_the_index(world: World) -> None:
    source_id, _ = world.connect()

    narrowed = commit(
        world.repo, "only docs", {"lightfast.yml": "version: 1\nstore: docs\ninclude: 'docs/**'\n"}
    )
    job = world.sync(source_id)
    assert world.spy.listings == 1  # every path was listed again: a full sync
    assert counts(job) == (0, 0, 0, 1, 0)  # README.md left the include; the rest is unchanged, not re-read
    assert world.spy.read_paths == set()
    assert set(world.documents(source_id)) == INDEXED - {"README.md"}
    assert world.last_commit(source_id) == narrowed
    assert world.search("acme team") == []

    commit(world.repo, "broken", {"lightfast.yml": "version: 1\nstore: Docs!\ninclude: 'docs/**'\n"})
    enqueued = world.services.jobs.enqueue_sync(world.workspace_id, source_id, mode="incremental")
    with pytest.raises(ConfigError, match="store"):
        world.services.runner.run_inline(enqueued.job_id)
    failed = world.job(enqueued.job_id)
    assert failed.status == "failed"
    assert "store" in (failed.error_message or "")
    source = world.source(source_id)
    assert source.config_status == "error"
    assert "store" in (source.config_message or "")
    assert source.source_metadata["lastCommit"] == narrowed  # nothing was indexed from the broken commit
    assert set(world.documents(source_id)) == INDEXED - {"README.md"}  # the index was kept
    assert world.search("canaries") == ["docs/deploy.md"]

    # Fixing it: the diff from the last indexed commit contains lightfast.yml, so it is a full sync again.
    fixed = commit(
        world.repo,
        "fixed",
        {"lightfast.yml": CONFIG, "docs/deploy.md": "# Deploying\n\nRoll out with zeppelins.\n"},
    )
    job = world.sync(source_id)
    assert world.spy.listings == 1
    assert counts(job) == (1, 1, 0, 0, 0)
    assert world.spy.read_paths == {"README.md", "docs/deploy.md"}
    assert world.source(source_id).config_status == "configured"
    assert world.documents(source_id) == committed(world.repo, fixed, INDEXED)


def test_a_config_moving_the_source_to_another_store_leaves_nothing_in_the_old_one(world: World) -> None:
    source_id, _ = world.connect()
    moved = commit(world.repo, "new store", {"lightfast.yml": CONFIG.replace("store: docs", "store: kb")})
    job = world.sync(source_id)
    assert world.spy.listings == 1
    assert counts(job) == (4, 0, 0, 4, 0)  # re-indexed into kb, removed from docs
    with world.services.sessions() as session:
        stores = {
            (path, store)
            for path, store in session.execute(
                select(Document.path, Document.store_id).where(Document.connection_id == source_id)
            )
        }
    assert len(stores) == 4
    assert len({store for _, store in stores}) == 1
    assert world.services.workspaces.store_name(next(iter(stores))[1]) == "kb"
    assert world.documents(source_id) == committed(world.repo, moved, INDEXED)
    assert world.source(source_id).document_count == 4
    assert world.search("canaries") == ["docs/deploy.md"]  # once, not once per store


def test_an_empty_repository_is_indexed_from_its_first_commit(world: World, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    git(empty, "init", "-q", "-b", "main")
    source_id, job = world.connect(empty)
    assert "revision" not in job.input
    assert counts(job) == (0, 0, 0, 0, 0)
    assert world.source(source_id).config_status == "unconfigured"
    assert world.last_commit(source_id) is None

    first = commit(empty, "first", {"README.md": "# Empty no more\n\nGuava.\n", "notes.txt": "plain"})
    job = world.sync(source_id)
    assert world.spy.listings == 1  # no base commit yet: a full sync
    assert job.input["revision"] == first
    assert world.last_commit(source_id) == first
    assert "README.md" in world.documents(source_id)
    assert world.search("guava") == ["README.md"]


def test_rewritten_history_ends_equal_to_a_fresh_full_sync(world: World) -> None:
    source_id, _ = world.connect()
    commit(
        world.repo,
        "doomed",
        {"docs/deploy.md": "# Deploying\n\nDoomed zeppelin.\n", "docs/extra.md": "# Extra\n\nDoomed.\n"},
    )
    doomed = world.sync(source_id).input["revision"]

    # Rewrite: drop the indexed commit, commit something else on its parent.
    git(world.repo, "reset", "-q", "--hard", "HEAD~1")
    rewritten = commit(
        world.repo,
        "instead",
        {"docs/oncall.md": "# On call\n\nA quieter rotation.\n", "docs/other.md": "# Other\n\nKumquat.\n"},
    )
    assert git(world.repo, "merge-base", rewritten, doomed) == git(world.repo, "rev-parse", "HEAD~1")
    job = world.sync(source_id)
    assert world.spy.diffs == [
        {
            "docs/deploy.md": "upsert",
            "docs/extra.md": "remove",
            "docs/oncall.md": "upsert",
            "docs/other.md": "upsert",
        }
    ]
    assert world.spy.listings == 0
    assert counts(job) == (1, 2, 0, 1, 0)
    assert world.last_commit(source_id) == rewritten

    fresh_ws = world.services.workspaces.ensure_workspace_id("fresh")
    fresh_id, fresh_job = world.connect(workspace_id=fresh_ws)
    assert fresh_job.input["revision"] == rewritten
    assert world.documents(source_id) == world.documents(fresh_id)
    assert world.documents(source_id) == committed(world.repo, rewritten, INDEXED | {"docs/other.md"})
    assert world.search("zeppelin") == []

    # Rewrite again, and make the indexed commit unknown to the repository: a full sync instead.
    git(world.repo, "reset", "-q", "--hard", "HEAD~1")
    unknown_base = commit(
        world.repo,
        "again",
        {"README.md": "# Handbook\n\nRewritten twice.\n", "docs/later.md": "# Later\n\nPersimmon.\n"},
        remove=("docs/style.md",),
    )
    git(world.repo, "reflog", "expire", "--expire=now", "--all")
    git(world.repo, "gc", "-q", "--prune=now")
    gone = subprocess.run(
        ["git", "-C", str(world.repo), "cat-file", "-e", f"{rewritten}^{{commit}}"], check=False
    )
    assert gone.returncode != 0, "the rewritten commit should be pruned"

    job = world.sync(source_id)
    assert world.spy.diffs == [None]
    assert world.spy.listings == 1
    # Full: README.md and docs/later.md are new or changed; docs/style.md, docs/other.md are gone; the
    # oncall rewrite is reverted. docs/deploy.md is unchanged since the first sync: not re-read.
    assert counts(job) == (1, 2, 0, 2, 0)
    assert world.spy.read_paths == {"README.md", "docs/later.md", "docs/oncall.md"}
    assert world.last_commit(source_id) == unknown_base
    expected = committed(
        world.repo, unknown_base, {"README.md", "docs/deploy.md", "docs/oncall.md", "docs/later.md"}
    )
    assert world.documents(source_id) == expected

    other_ws = world.services.workspaces.ensure_workspace_id("fresh2")
    other_id, _ = world.connect(workspace_id=other_ws)
    assert world.documents(other_id) == expected
    assert world.search("kumquat") == []
    assert world.search("persimmon") == ["docs/later.md"]


def test_a_named_branch_is_indexed_instead_of_the_checked_out_one(world: World) -> None:
    git(world.repo, "checkout", "-q", "-b", "docs-branch")
    branch_head = commit(
        world.repo,
        "branch work",
        {
            "docs/deploy.md": "# Deploying\n\nBranch-only zeppelin.\n",
            "docs/branch.md": "# Branch\n\nTamarind.\n",
        },
    )
    git(world.repo, "checkout", "-q", "main")
    main_head = commit(world.repo, "main work", {"docs/main.md": "# Main\n\nMain-only kumquat.\n"})

    source_id, job = world.connect(branch="docs-branch")
    assert job.input["revision"] == branch_head
    source = world.source(source_id)
    assert source.source_metadata["branch"] == "docs-branch"
    assert source.source_metadata["lastCommit"] == branch_head
    assert world.documents(source_id) == committed(world.repo, branch_head, INDEXED | {"docs/branch.md"})
    assert world.search("zeppelin") == ["docs/deploy.md"]
    assert world.search("tamarind") == ["docs/branch.md"]
    assert world.search("kumquat") == []
    assert world.search("canaries") == []  # main's version of docs/deploy.md
    with world.services.sessions() as session:
        metadata = session.scalars(
            select(Document.source_metadata).where(Document.connection_id == source_id)
        )
        assert {m["branch"] for m in metadata} == {"docs-branch"}

    # A commit on the checked-out branch is not the synced branch's: nothing to do.
    commit(world.repo, "more main", {"docs/main.md": "# Main\n\nStill main.\n"})
    job = world.sync(source_id)
    assert counts(job) == (0, 0, 0, 0, 0)
    assert world.last_commit(source_id) == branch_head
    assert main_head != branch_head

    # A commit on the synced branch (made in another worktree: main stays checked out) is picked up.
    worktree = world.repo.parent / "wt"
    git(world.repo, "worktree", "add", "-q", str(worktree), "docs-branch")
    newer = commit(worktree, "branch again", {"docs/branch.md": "# Branch\n\nLychee.\n"})
    job = world.sync(source_id)
    assert counts(job) == (0, 1, 0, 0, 0)
    assert world.spy.read_paths == {"docs/branch.md"}
    assert world.last_commit(source_id) == newer
    assert world.search("lychee") == ["docs/branch.md"]


def test_a_bare_mirror_is_synced_after_each_fetch(world: World, tmp_path: Path) -> None:
    mirror = tmp_path / "mirror.git"
    git(tmp_path, "clone", "-q", "--mirror", str(world.repo), str(mirror))
    source_id, job = world.connect(mirror)
    assert counts(job) == (4, 0, 0, 0, 0)
    assert world.source(source_id).external_key == str(mirror.resolve())

    pushed = commit(world.repo, "edit", {"docs/oncall.md": "# On call\n\nA quieter rotation.\n"})
    job = world.sync(source_id)
    assert counts(job) == (0, 0, 0, 0, 0)  # not fetched yet: the mirror's branch has not moved

    git(mirror, "fetch", "-q", "origin")
    job = world.sync(source_id)
    assert counts(job) == (0, 1, 0, 0, 0)
    assert world.spy.read_paths == {"docs/oncall.md"}
    assert world.last_commit(source_id) == pushed
    assert world.search("quieter rotation") == ["docs/oncall.md"]


def test_a_non_utf8_file_name_does_not_fail_the_whole_sync(world: World) -> None:
    raw = os.fsencode(world.repo) + b"/docs/caf\xe9.md"
    try:
        with open(raw, "wb") as handle:
            handle.write(b"# Cafe\n\nA latin-1 name.\n")
    except OSError:
        pytest.skip("the filesystem does not accept non-UTF-8 names")
    commit(world.repo, "latin-1 name")
    connected = world.services.sources.connect_git(world.workspace_id, world.repo)
    world.services.runner.run_inline(connected.job_id)
    job = world.job(connected.job_id)
    assert job.status == "completed_with_errors", job.error_message
    with world.services.sessions() as session:
        [failure] = session.scalars(select(DocumentFailure)).all()
    assert (failure.path, failure.reason) == ("docs/caf\\xe9.md", "invalid_path")
    assert set(world.documents(connected.source.id)) >= INDEXED
    assert world.last_commit(connected.source.id) == git(world.repo, "rev-parse", "HEAD")


def test_disconnect_removes_the_source_its_documents_and_vectors_only(world: World, tmp_path: Path) -> None:
    other_repo = make_repo(
        tmp_path / "runbooks",
        {"lightfast.yml": CONFIG, "README.md": "# Runbooks\n\nRestart the flux capacitor.\n"},
    )
    source_id, _ = world.connect()
    other_id, _ = world.connect(other_repo)
    with world.services.sessions() as session:
        doc_ids = set(session.scalars(select(Document.id).where(Document.connection_id == source_id)))
        other_docs = set(session.scalars(select(Document.id).where(Document.connection_id == other_id)))
        assert len({d.store_id for d in session.scalars(select(Document))}) == 1  # one shared store
    vectors = world.count(VectorEntry, VectorEntry.document_id.in_(doc_ids))
    other_vectors = world.count(VectorEntry, VectorEntry.document_id.in_(other_docs))
    assert len(doc_ids) == 4
    assert vectors >= 4
    assert other_vectors >= 1

    enqueued = world.services.sources.disconnect(world.workspace_id, source_id)
    assert enqueued.created
    assert world.source(source_id).is_active is False
    again = world.services.sources.disconnect(world.workspace_id, source_id)
    assert again.job_id == enqueued.job_id
    assert not again.created

    documents, chunks = world.services.disconnects.run_inline(enqueued.job_id)
    assert (documents, chunks) == (4, vectors)
    job = world.job(enqueued.job_id)
    assert job.status == "completed"
    assert job.output == {"documents_deleted": 4, "chunks_deleted": vectors}

    assert world.count(Document, Document.connection_id == source_id) == 0
    assert world.count(Document, Document.id.in_(doc_ids)) == 0
    assert world.count(VectorEntry, VectorEntry.document_id.in_(doc_ids)) == 0
    assert world.count(ConnectedSource, ConnectedSource.id == source_id) == 0
    with pytest.raises(NotFound):
        world.source(source_id)
    assert [s.id for s in world.services.sources.list(world.workspace_id)] == [other_id]

    # The other source is untouched.
    assert world.count(Document, Document.connection_id == other_id) == len(other_docs)
    assert world.count(VectorEntry, VectorEntry.document_id.in_(other_docs)) == other_vectors
    assert world.search("canaries") == []
    assert world.search("flux capacitor") == ["README.md"]
    with pytest.raises(NotFound):
        world.services.jobs.enqueue_sync(world.workspace_id, source_id)


def test_a_path_too_long_to_store_fails_that_file_only(world: World) -> None:
    """A committed path longer than the documents table holds (1,138 characters; git has no limit):
    recorded as that file's failure, the sync goes on, and no database text reaches the job."""
    long_path = "docs/" + "/".join(["d" * 100] * 11) + "/" + "n" * 19 + ".md"
    assert len(long_path) == 1138
    blob = (
        subprocess.run(
            ["git", "-C", str(world.repo), "hash-object", "-w", "--stdin"],
            input=b"# Deep\n\nfar down\n",
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .strip()
    )
    git(world.repo, "update-index", "--add", "--cacheinfo", f"100644,{blob},{long_path}")
    git(world.repo, "commit", "-q", "-m", "a long path")
    connected = world.services.sources.connect_git(world.workspace_id, world.repo)
    world.services.runner.run_inline(connected.job_id)
    job = world.job(connected.job_id)
    assert job.status == "completed_with_errors", job.error_message
    assert job.error_message is None
    assert set(world.documents(connected.source.id)) == INDEXED
    with world.services.sessions() as session:
        [failure] = session.scalars(select(DocumentFailure)).all()
    assert failure.reason == "path_too_long"
    assert failure.path.endswith(".md")
    assert "1,138 characters" in failure.message
    assert "INSERT" not in failure.message
