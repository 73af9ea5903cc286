"""The README's commands, in the README's order, on a fresh LIGHTFAST_HOME with the fake embedder
(issue 10 item 15): a new user who copies them one after the other meets no error.

The commands are read from the README itself, so a command added there is run here too. Its
placeholders become real things (a directory, a git repository, the id of the job or source the
previous commands made); optional parts in ``[...]`` are left out; the commands that serve until
stopped or need a GitHub App are the only ones not run, and are named below."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lightfast.cli import app
from tests.conftest import write
from tests.gitrepo import commit, git, isolate_git
from tests.test_cli import as_json, cli_env, ok

README = Path(__file__).parents[1] / "README.md"
COMMAND = re.compile(r"^(?:[A-Z_]+=\S+ )*\.venv/bin/lightfast (?P<args>.+?)(?:\s+#\s.*)?$")
OPTIONAL = re.compile(r"\s*\[[^\]]*\]")
# Run until stopped (serve, worker, mcp) or need a vendor's account and the network (a GitHub App; a
# vendor's source added as the README shows it, with an API token that starts a backfill from the vendor).
# ``related`` needs a document id of a graph; tests/test_relationships_e2e.py runs it on one.
NOT_RUN = {
    ("serve",),
    ("worker",),
    ("mcp",),
    ("source", "add", "github"),
    ("source", "add", "zendesk"),
    ("source", "add", "sentry"),
    ("source", "add", "vercel"),
    ("related",),
}
DOCS = {
    "lightfast.yml": "version: 1\nstore: docs\ninclude:\n  - docs/**/*.md\n  - README.md\n",
    "README.md": "# Handbook\n\nHow the team works.\n",
    "docs/keys.md": "# Keys\n\nHow do we rotate keys: every quarter, with two keys live during the switch.\n",
    "docs/deploy.md": "# Deploying\n\nDeploy with canaries first.\n",
}


def readme_commands() -> list[list[str]]:
    """Every ``.venv/bin/lightfast ...`` line of the README's shell blocks, as argument lists."""
    commands, in_shell, pending = [], False, ""
    for raw in README.read_text(encoding="utf-8").splitlines():
        if raw.startswith("```"):
            in_shell, pending = raw.strip() == "```sh", ""
            continue
        if in_shell and raw.rstrip().endswith("\\"):  # a command continued on the next line
            pending += raw.rstrip()[:-1] + " "
            continue
        line, pending = pending + raw, ""
        match = COMMAND.match(line.strip()) if in_shell else None
        if match:
            commands.append(shlex.split(OPTIONAL.sub("", match["args"])))
    return commands


@dataclass
class Session:
    """What the commands so far made: the values of the README's placeholders."""

    env: dict[str, str]
    places: dict[str, str]
    job_id: str | None = None
    outputs: list[tuple[list[str], str]] = field(default_factory=list)

    def source_id(self) -> str:
        """The default workspace's newest source: the one the README's text is about at that point."""
        sources = as_json(ok(self.env, "source", "list", "--json"))
        assert sources, "no source to put in place of SOURCE_ID"
        return str(sources[-1]["id"])  # listed oldest first

    def fill(self, args: list[str]) -> list[str]:
        filled = []
        for arg in args:
            if arg == "JOB_ID":
                assert self.job_id, "no job to put in place of JOB_ID"
                arg = self.job_id
            elif arg == "SOURCE_ID":
                arg = self.source_id()
            filled.append(self.places.get(arg, arg))
        return filled

    def run(self, args: list[str]) -> str:
        filled = self.fill(args)
        # "y": a command that asks (workspaces delete) is answered as a user who read the question would.
        result = CliRunner().invoke(app, filled, env=self.env, input="y\n")
        assert result.exit_code == 0, (filled, result.stdout, result.stderr, result.exception)
        if "--detach" in filled:
            self.job_id = result.stdout.strip().splitlines()[-1]
        self.outputs.append((filled, result.stdout))
        return result.stdout


def test_readme_lists_the_commands_it_does_not_run() -> None:
    commands = readme_commands()
    assert len(commands) > 20
    skipped = {tuple(c[: len(n)]) for c in commands for n in NOT_RUN if tuple(c[: len(n)]) == n}
    assert skipped == NOT_RUN  # each exclusion still matches a README command


def test_the_readme_sequence_works_from_a_fresh_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    isolate_git(monkeypatch, tmp_path)
    repo = write(tmp_path / "repo", DOCS)
    handbook = tmp_path / "handbook"
    handbook.mkdir()
    git(handbook, "init", "-q", "-b", "main")
    commit(handbook, "initial", {"README.md": "# Handbook\n\nOn-call rotation.\n"})
    env = cli_env(tmp_path)
    session = Session(env, {"path/to/repo": str(repo), "~/src/handbook": str(handbook)})

    ran = []
    for args in readme_commands():
        if any(tuple(args[: len(n)]) == n for n in NOT_RUN):
            continue
        session.run(args)
        ran.append(args[:2])

    assert ["search", "how do we rotate keys"] in ran
    assert ["workspaces", "delete"] in ran
    searched = next(out for args, out in session.outputs if args[0] == "search")
    assert "docs/keys.md" in searched  # found what was ingested
    # What the sequence leaves: the workspaces it made, "handbook" now the default, acme deleted.
    workspaces = as_json(ok(env, "workspaces", "list", "--json"))
    assert [(w["name"], w["isDefault"]) for w in workspaces] == [("handbook", True)]
    assert [k["name"] for k in as_json(ok(env, "keys", "list", "--json"))] == ["ci"]
