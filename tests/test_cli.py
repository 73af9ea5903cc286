"""The ``lightfast`` command through Typer's test runner, with the fake embedder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from lightfast.cli import app
from tests.conftest import write

SUMMARY_KEYS = {
    "documents_added",
    "documents_updated",
    "documents_unchanged",
    "documents_deleted",
    "documents_failed",
    "chunks_embedded",
    "chunks_reused",
    "chunks_deleted",
}
RESULT_KEYS = {"id", "documentId", "title", "path", "sourceType", "url", "snippet", "score"}


def cli_env(tmp_path: Path, database_url: str | None = None) -> dict[str, str]:
    return {
        "LIGHTFAST_HOME": str(tmp_path / "home"),
        "LIGHTFAST_EMBEDDING_PROVIDER": "fake",
        "LIGHTFAST_DATABASE_URL": database_url or f"sqlite:///{tmp_path / 'cli.db'}",
        "LIGHTFAST_DEFAULT_WORKSPACE": "default",
        "COLUMNS": "200",  # rich wraps at the terminal width; keep messages on one line
    }


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return cli_env(tmp_path)


def invoke(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(app, list(args), env=env)


def ok(env: dict[str, str], *args: str) -> Result:
    result = invoke(env, *args)
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    return result


def as_json(result: Result) -> Any:
    return json.loads(result.stdout)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return write(
        tmp_path / "repo",
        {
            "lightfast.yml": "version: 1\nstore: docs\ninclude:\n  - docs/**/*.md\n  - README.md\n",
            "README.md": "# Widget\n\nWidget indexes things quickly.\n",
            "docs/install.md": "---\ntitle: Installing\n---\n\nInstall the widget with pip install widget.\n",
            "docs/deploy.md": "# Deploying\n\nDeploy the kubernetes cluster with helm charts.\n",
        },
    )


def check_ingest_then_search(env: dict[str, str], repo: Path) -> None:
    first = as_json(ok(env, "ingest", str(repo), "--json"))
    assert set(first) >= SUMMARY_KEYS
    assert {k: first[k] for k in SUMMARY_KEYS} == {
        "documents_added": 3,
        "documents_updated": 0,
        "documents_unchanged": 0,
        "documents_deleted": 0,
        "documents_failed": 0,
        "chunks_embedded": 3,
        "chunks_reused": 0,
        "chunks_deleted": 0,
    }
    assert first["status"] == "completed"
    assert first["workspace"] == "default"
    assert first["store"] == "docs"

    second = as_json(ok(env, "ingest", str(repo), "--json"))
    assert second["chunks_embedded"] == 0
    assert second["documents_unchanged"] == 3
    assert second["documents_added"] == second["documents_updated"] == 0

    payload = as_json(ok(env, "search", "kubernetes helm", "--json"))
    assert set(payload) == {"results", "latency", "requestId"}
    assert set(payload["latency"]) == {"embedding", "retrieval", "fusion", "total"}
    assert payload["requestId"].startswith("req_")
    top = payload["results"][0]
    assert set(top) >= RESULT_KEYS
    assert top["path"] == "docs/deploy.md"
    assert top["title"] == "Deploying"
    assert top["sourceType"] == "local"
    assert top["url"] == (repo / "docs/deploy.md").resolve().as_uri()
    assert "<mark>kubernetes</mark>" in top["snippet"]
    assert isinstance(top["score"], float)
    assert top["score"] > 0
    assert top["documentId"] in top["id"]


def test_ingest_and_search_json(env: dict[str, str], repo: Path) -> None:
    check_ingest_then_search(env, repo)


@pytest.mark.postgres
def test_ingest_and_search_json_on_postgres(tmp_path: Path, pg_url: str, repo: Path) -> None:
    check_ingest_then_search(cli_env(tmp_path, pg_url), repo)
    assert not (tmp_path / "cli.db").exists()


def test_search_options_reach_the_service(env: dict[str, str], repo: Path) -> None:
    ok(env, "ingest", str(repo), "--json")
    bm25 = as_json(ok(env, "search", "widget", "--json", "--mode", "bm25", "--limit", "1"))
    assert len(bm25["results"]) == 1
    second = as_json(ok(env, "search", "widget", "--json", "--mode", "bm25", "--limit", "1", "--offset", "1"))
    assert len(second["results"]) == 1
    assert {bm25["results"][0]["path"], second["results"][0]["path"]} == {"README.md", "docs/install.md"}
    prefixed = as_json(ok(env, "search", "widget", "--json", "--mode", "bm25", "--path-prefix", "docs/"))
    assert [r["path"] for r in prefixed["results"]] == ["docs/install.md"]
    none = as_json(ok(env, "search", "widget", "--json", "--source-type", "github"))
    assert none["results"] == []
    stored = as_json(ok(env, "search", "widget", "--json", "--mode", "bm25", "--store", "docs"))
    assert len(stored["results"]) == 2


def test_search_human_output(env: dict[str, str], repo: Path) -> None:
    ingest = ok(env, "ingest", str(repo))
    assert "completed" in ingest.stdout
    assert "added" in ingest.stdout
    result = ok(env, "search", "kubernetes helm")
    lines = result.stdout.splitlines()
    assert lines[0].startswith("1. Deploying  docs/deploy.md (")
    assert "kubernetes cluster with helm charts" in result.stdout
    assert "<mark>" not in result.stdout
    assert "request req_" in result.stdout
    empty = ok(env, "search", "zzzqqq", "--mode", "bm25")
    assert "No results." in empty.stdout


def test_bad_search_options_exit_2(env: dict[str, str], repo: Path) -> None:
    ok(env, "ingest", str(repo), "--json")
    bad_mode = invoke(env, "search", "widget", "--mode", "fuzzy")
    assert bad_mode.exit_code == 2
    assert "mode must be one of fast, balanced, dense" in bad_mode.stderr
    unknown_store = invoke(env, "search", "widget", "--store", "nope")
    assert unknown_store.exit_code == 2
    assert "no store named 'nope'" in unknown_store.stderr
    assert invoke(env, "search", "widget", "--limit", "0").exit_code == 2
    empty = invoke(env, "search", "   ")
    assert empty.exit_code == 2
    assert "query must not be empty" in empty.stderr


def test_search_in_a_missing_workspace_exits_2(env: dict[str, str], repo: Path) -> None:
    ok(env, "ingest", str(repo), "--json")
    result = invoke(env, "search", "widget", "--workspace", "nope")
    assert result.exit_code == 2
    assert "workspace 'nope' does not exist" in result.stderr
    assert result.stdout == ""
    # A fresh install has no workspace yet, and a search does not make one (it would become the default).
    fresh_env = env | {"LIGHTFAST_DATABASE_URL": env["LIGHTFAST_DATABASE_URL"] + "2"}
    fresh = invoke(fresh_env, "search", "widget")
    assert fresh.exit_code == 2
    assert "organization 'default' has no workspace yet" in fresh.stderr
    assert "lightfast workspaces create NAME" in fresh.stderr
    assert as_json(ok(fresh_env, "workspaces", "list", "--json")) == []


def test_ingest_into_a_named_workspace(env: dict[str, str], repo: Path) -> None:
    summary = as_json(ok(env, "ingest", str(repo), "--workspace", "team", "--json"))
    assert summary["workspace"] == "team"
    found = as_json(ok(env, "search", "kubernetes", "--workspace", "team", "--json"))
    assert found["results"][0]["path"] == "docs/deploy.md"
    # The first workspace is the default one (issue 10 item 13): not LIGHTFAST_DEFAULT_WORKSPACE's name.
    default = as_json(ok(env, "search", "kubernetes", "--json"))
    assert default["results"][0]["path"] == "docs/deploy.md"
    again = as_json(ok(env, "ingest", str(repo), "--json"))
    assert again["workspace"] == "team"
    assert again["documents_unchanged"] == 3


def test_validate_reports_every_problem(tmp_path: Path) -> None:
    repo = write(
        tmp_path / "r",
        {
            "lightfast.yml": (
                "version: 1\nstore: docs\ncolour: blue\ninclude:\n  - /docs/*.md\n  - missing/*.md\n"
            ),
            "docs/a.md": "# A\n",
        },
    )
    result = CliRunner().invoke(app, ["validate", str(repo)], env={"COLUMNS": "200"})
    assert result.exit_code == 1
    err = result.stderr
    assert "3 problem(s)" in err
    assert "line 3, column 1: colour: unknown key" in err
    assert "line 5, column 5: include[0]: absolute globs are not allowed" in err
    assert "line 6, column 5: include[1]: matches no file" in err


def test_validate_reports_bad_yaml_with_its_line(tmp_path: Path) -> None:
    repo = write(tmp_path / "r", {"lightfast.yml": "version: 1\nstore: docs\ninclude: [a.md\n"})
    result = CliRunner().invoke(app, ["validate", str(repo)], env={"COLUMNS": "200"})
    assert result.exit_code == 1
    assert "1 problem(s)" in result.stderr
    assert "line 4" in result.stderr
    assert "(yaml)" in result.stderr


def test_validate_accepts_a_good_config(tmp_path: Path, repo: Path) -> None:
    result = CliRunner().invoke(app, ["validate", str(repo)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.stderr
    assert "configuration is valid" in result.stdout
    assert result.stderr == ""
    plain = write(tmp_path / "plain", {"README.md": "# Hi\n"})
    unconfigured = CliRunner().invoke(app, ["validate", str(plain)], env={"COLUMNS": "200"})
    assert unconfigured.exit_code == 0
    assert "No lightfast.yml" in unconfigured.stdout


def test_ingest_with_a_bad_config_exits_2(env: dict[str, str], tmp_path: Path) -> None:
    repo = write(
        tmp_path / "bad",
        {"lightfast.yml": "version: 2\nstore: Docs!\ninclude:\n  - docs/*.md\n", "docs/a.md": "# A\n"},
    )
    result = invoke(env, "ingest", str(repo), "--json")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "the configuration is not valid" in result.stderr
    assert "line 1, column 10: version: must be 1" in result.stderr
    assert "line 2, column 8: store: must be 1-20 characters" in result.stderr


def test_ingest_of_a_missing_directory_exits_2(env: dict[str, str], tmp_path: Path) -> None:
    result = invoke(env, "ingest", str(tmp_path / "nowhere"))
    assert result.exit_code == 2
    assert "is not a directory" in result.stderr


@pytest.mark.parametrize("command", ["ingest", "search", "validate", "serve"])
def test_help_shows_an_example(command: str) -> None:
    result = CliRunner().invoke(app, [command, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "Example" in result.stdout
    assert f"lightfast {command}" in result.stdout


def test_top_level_help_shows_an_example() -> None:
    result = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "Example" in result.stdout
    for command in ("ingest", "search", "validate", "serve"):
        assert command in result.stdout


def test_job_and_key_commands_find_their_workspace(env: dict[str, str], repo: Path) -> None:
    """Issue 10 item 14: a job or key id names its own workspace; ``--workspace`` only checks it."""
    ok(env, "ingest", str(repo))  # the default workspace
    job_id = ok(env, "ingest", str(repo), "-w", "team", "--detach").stdout.strip()
    key_id = as_json(ok(env, "keys", "create", "-w", "team", "--json"))["id"]

    shown = as_json(ok(env, "jobs", "show", job_id, "--json"))
    assert (shown["id"], shown["status"]) == (job_id, "queued")
    assert job_id in ok(env, "jobs", "show", job_id, "-w", "team").stdout
    for command in (("show", job_id), ("cancel", job_id), ("retry", job_id)):
        wrong = invoke(env, "jobs", *command, "--workspace", "default")
        assert wrong.exit_code == 2, command
        assert f"job {job_id} is in workspace 'team', not 'default'" in wrong.stderr, command
    missing = invoke(env, "jobs", "show", job_id, "-w", "nope")
    assert missing.exit_code == 2
    assert "workspace 'nope' does not exist" in missing.stderr
    assert "job 'job_nope' does not exist" in invoke(env, "jobs", "show", "job_nope").stderr

    assert f"{job_id}: cancelled" in ok(env, "jobs", "cancel", job_id).stdout
    retried = ok(env, "jobs", "retry", job_id).stdout.replace("\n", " ")
    assert f"(retry of {job_id})" in " ".join(retried.split())
    # The default workspace's list does not show them; team's does.
    assert job_id not in {j["id"] for j in as_json(ok(env, "jobs", "list", "--json"))}
    assert job_id in {j["id"] for j in as_json(ok(env, "jobs", "list", "-w", "team", "--json"))}

    wrong = invoke(env, "keys", "rotate", key_id, "-w", "default")
    assert wrong.exit_code == 2
    assert f"API key {key_id} is in workspace 'team', not 'default'" in wrong.stderr
    assert f"{key_id}: revoked" in ok(env, "keys", "revoke", key_id).stdout
