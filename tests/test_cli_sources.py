"""``lightfast source ...`` through Typer's test runner with the fake embedder: local git repositories
connected, listed, synced, checked and removed, each job followed to its end by the in-process worker
(DBOS) the CLI starts when no other worker holds LIGHTFAST_HOME."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from lightfast.db.engine import make_engine
from lightfast.db.models import Job
from tests.gitrepo import commit, git, isolate_git
from tests.test_cli import as_json, cli_env, invoke, ok

CONFIG = "version: 1\nstore: docs\ninclude:\n  - docs/**/*.md\n  - README.md\n"
COUNTS = (
    "documents_added",
    "documents_updated",
    "documents_unchanged",
    "documents_deleted",
    "documents_failed",
)


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate_git(monkeypatch, tmp_path)
    # Settings read LIGHTFAST_* from the environment: a GitHub App configured on the machine must not leak in.
    for name in (
        "LIGHTFAST_GITHUB_APP_ID",
        "LIGHTFAST_GITHUB_PRIVATE_KEY",
        "LIGHTFAST_GITHUB_PRIVATE_KEY_PATH",
    ):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return cli_env(tmp_path)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = tmp_path / "handbook"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    commit(
        path,
        "initial",
        {
            "lightfast.yml": CONFIG,
            "README.md": "# Handbook\n\nHow the acme team works.\n",
            "docs/deploy.md": "# Deploying\n\nRun the rollout with canaries.\n",
            "docs/oncall.md": "# On call\n\nPager rotation and escalation policy.\n",
            "docs/style.md": "# Style\n\nWrite in the active voice.\n",
            "src/app.py": "print('not a document')\n",
        },
    )
    return path


def counts(payload: dict[str, Any]) -> tuple[int, ...]:
    return tuple(payload[name] for name in COUNTS)


def job_input(env: dict[str, str], job_id: str) -> dict[str, Any]:
    engine = make_engine(env["LIGHTFAST_DATABASE_URL"])
    try:
        with Session(engine) as session:
            job = session.get(Job, job_id)
            assert job is not None
            return dict(job.input)
    finally:
        engine.dispose()


def search_paths(env: dict[str, str], query: str) -> list[str]:
    payload = as_json(ok(env, "search", query, "--json", "--mode", "bm25"))
    return [r["path"] for r in payload["results"]]


def add_and_remove(env: dict[str, str], repo: Path) -> None:
    added = as_json(ok(env, "source", "add", "git", str(repo), "--json"))
    assert added["status"] == "completed"
    assert added["jobId"].startswith("job_")
    assert counts(added) == (4, 0, 0, 0, 0)
    [row] = as_json(ok(env, "source", "list", "--json"))
    assert search_paths(env, "canaries") == ["docs/deploy.md"]

    removed = as_json(ok(env, "source", "remove", row["id"], "--json"))
    assert removed["status"] == "completed"
    assert removed["documents_deleted"] == 4
    assert removed["jobId"] != added["jobId"]
    assert as_json(ok(env, "source", "list", "--json")) == []
    assert search_paths(env, "canaries") == []


@pytest.mark.slow
def test_git_source_lifecycle(env: dict[str, str], repo: Path) -> None:
    head = git(repo, "rev-parse", "HEAD")
    added = as_json(ok(env, "source", "add", "git", str(repo), "--json"))
    assert added["status"] == "completed"
    assert counts(added) == (4, 0, 0, 0, 0)
    assert job_input(env, added["jobId"]) == {"mode": "full", "revision": head}

    [row] = as_json(ok(env, "source", "list", "--json"))
    source_id = row["id"]
    assert source_id.startswith("src_")
    assert {k: row[k] for k in ("type", "name", "active", "documents", "config", "lastCommit")} == {
        "type": "git",
        "name": "handbook",
        "active": True,
        "documents": 4,
        "config": "configured",
        "lastCommit": head,
    }
    assert row["lastSyncedAt"]

    # A new commit: an incremental sync reads only the changed file.
    changed = commit(repo, "edit", {"docs/deploy.md": "# Deploying\n\nShip behind the zeppelin flag.\n"})
    synced = as_json(ok(env, "source", "sync", source_id, "--json"))
    assert synced["status"] == "completed"
    assert counts(synced) == (0, 1, 0, 0, 0)
    assert job_input(env, synced["jobId"]) == {"mode": "incremental", "revision": changed}
    [row] = as_json(ok(env, "source", "list", "--json"))
    assert row["lastCommit"] == changed
    assert search_paths(env, "zeppelin") == ["docs/deploy.md"]
    assert search_paths(env, "canaries") == []

    # --full lists every file again; nothing changed, so nothing is (re)indexed.
    full = as_json(ok(env, "source", "sync", source_id, "--full", "--json"))
    assert full["status"] == "completed"
    assert counts(full) == (0, 0, 0, 0, 0)
    assert job_input(env, full["jobId"])["mode"] == "full"

    detected = as_json(ok(env, "source", "detect-config", source_id, "--json"))
    assert detected == {
        "sourceId": source_id,
        "status": "configured",
        "path": "lightfast.yml",
        "config": {
            "version": 1,
            "store": "docs",
            "include": ["docs/**/*.md", "README.md"],
            "exclude": [],
        },
        "problems": [],
    }

    commit(repo, "broken", {"lightfast.yml": "version: 1\nstore: Docs!\ninclude: 'docs/**'\n"})
    broken = invoke(env, "source", "detect-config", source_id, "--json")
    assert broken.exit_code == 1
    payload = as_json(broken)
    assert payload["status"] == "error"
    assert payload["config"] is None
    assert any("store" in problem for problem in payload["problems"]), payload["problems"]
    human = invoke(env, "source", "detect-config", source_id)
    assert human.exit_code == 1
    assert "error" in human.stdout
    assert "store" in human.stdout
    [row] = as_json(ok(env, "source", "list", "--json"))
    assert row["config"] == "error"
    assert "store" in row["configMessage"]

    # A sync at the broken commit fails (exit 1) and keeps the index.
    failed = invoke(env, "source", "sync", source_id, "--json")
    assert failed.exit_code == 1
    assert as_json(failed)["status"] == "failed"
    assert search_paths(env, "zeppelin") == ["docs/deploy.md"]

    removed = as_json(ok(env, "source", "remove", source_id, "--json"))
    assert removed["status"] == "completed"
    assert removed["documents_deleted"] == 4
    assert as_json(ok(env, "source", "list", "--json")) == []
    assert search_paths(env, "zeppelin") == []
    assert search_paths(env, "acme") == []


def test_add_git_human_output_and_detach(env: dict[str, str], repo: Path) -> None:
    detached = ok(env, "source", "add", "git", str(repo), "--detach")
    job_id = detached.stdout.strip().splitlines()[-1]
    assert job_id.startswith("job_")
    [row] = as_json(ok(env, "source", "list", "--json"))
    assert row["documents"] == 0
    assert row["lastCommit"] is None
    assert f"{row['id']}: connected handbook" in detached.stdout

    # The queued initial full sync covers an incremental request: the sync follows that same job.
    synced = as_json(ok(env, "source", "sync", row["id"], "--json"))
    assert synced["jobId"] == job_id
    assert synced["status"] == "completed"
    assert counts(synced) == (4, 0, 0, 0, 0)

    queued = as_json(ok(env, "source", "sync", row["id"], "--full", "--detach", "--json"))
    assert set(queued) == {"jobId"}
    assert queued["jobId"].startswith("job_")
    assert queued["jobId"] != job_id
    removed = ok(env, "source", "remove", row["id"], "--detach")
    assert removed.stdout.strip().startswith("job_")

    # Disconnecting deactivates the source at once; the removal itself waits for a worker.
    [row] = as_json(ok(env, "source", "list", "--json"))
    assert row["active"] is False
    assert row["documents"] == 4
    ok(env, "source", "list")  # the table renders too


def test_add_git_errors(env: dict[str, str], tmp_path: Path, repo: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    not_a_repo = invoke(env, "source", "add", "git", str(plain), "--json")
    assert not_a_repo.exit_code != 0
    assert "not a git repository" in not_a_repo.stderr
    assert str(plain) in not_a_repo.stderr
    assert not_a_repo.stdout == ""

    missing = invoke(env, "source", "add", "git", str(tmp_path / "nowhere"))
    assert missing.exit_code != 0
    assert str(tmp_path / "nowhere") in missing.stderr

    branch = invoke(env, "source", "add", "git", str(repo), "--branch", "nope")
    assert branch.exit_code != 0
    assert "branch 'nope' does not exist" in branch.stderr
    assert as_json(ok(env, "source", "list", "--json")) == []


def test_unknown_source_ids_do_not_exist(env: dict[str, str], repo: Path) -> None:
    fresh = invoke(env, "source", "sync", "src_nope")
    assert fresh.exit_code == 2
    assert "source 'src_nope' does not exist" in fresh.stderr  # the id is looked up, not a workspace
    ok(env, "source", "add", "git", str(repo), "--detach")  # creates the workspace
    for command in (("sync", "src_nope"), ("detect-config", "src_nope"), ("remove", "src_nope")):
        result = invoke(env, "source", *command)
        assert result.exit_code != 0, command
        assert "src_nope' does not exist" in result.stderr, (command, result.stderr)


def test_add_github_without_an_app_names_the_settings(env: dict[str, str]) -> None:
    result = invoke(env, "source", "add", "github", "acme/x", "--installation", "1")
    assert result.exit_code != 0
    assert "LIGHTFAST_GITHUB_APP_ID" in result.stderr
    assert result.stdout == ""


@pytest.mark.postgres
def test_add_git_and_remove_on_postgres(tmp_path: Path, pg_url: str, repo: Path) -> None:
    add_and_remove(cli_env(tmp_path, pg_url), repo)
    assert not (tmp_path / "cli.db").exists()


def test_source_commands_find_the_sources_workspace(env: dict[str, str], repo: Path) -> None:
    """Issue 10 item 14: a source id names its own workspace; ``--workspace`` only checks it."""
    ok(env, "ingest", str(repo))  # the default workspace
    ok(env, "source", "add", "git", str(repo), "-w", "team", "--detach")
    [row] = as_json(ok(env, "source", "list", "-w", "team", "--json"))
    source_id = row["id"]

    detected = as_json(ok(env, "source", "detect-config", source_id, "--json"))
    assert detected["status"] == "configured"
    scheduled = ok(env, "source", "schedule", source_id, "--every", "1h")
    assert source_id in scheduled.stdout
    [row] = as_json(ok(env, "source", "list", "-w", "team", "--json"))
    assert row["schedule"]["every"] == 3600
    job_id = ok(env, "source", "sync", source_id, "--full", "--detach").stdout.strip()
    assert job_id.startswith("job_")

    # A --workspace that is not the source's own is an error that says where the source is.
    for command in (
        ("detect-config", source_id),
        ("schedule", source_id, "--off"),
        ("sync", source_id, "--detach"),
        ("remove", source_id, "--detach"),
    ):
        wrong = invoke(env, "source", *command, "--workspace", "default")
        assert wrong.exit_code == 2, command
        assert f"source {source_id} is in workspace 'team', not 'default'" in wrong.stderr, command
    assert invoke(env, "source", "sync", source_id, "-w", "nope").exit_code == 2

    removed = as_json(ok(env, "source", "remove", source_id, "--workspace", "team", "--json"))
    assert removed["status"] == "completed"
    assert as_json(ok(env, "source", "list", "-w", "team", "--json")) == []
