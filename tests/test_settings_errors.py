"""An invalid ``LIGHTFAST_*`` variable stops every command, and the server, with one line naming the
variable and what it expects, exit status 2 and no traceback. ``LIGHTFAST_LOCAL_SOURCE_ROOTS`` takes a
JSON list of paths or a colon-separated list."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from lightfast.cli import app
from lightfast.errors import SettingsError
from lightfast.settings import parse_path_list, settings_from_environment
from tests.test_cli import cli_env

ROOTS = "LIGHTFAST_LOCAL_SOURCE_ROOTS"
EXPECTED_ROOTS = f"error: {ROOTS}: expected a JSON list of paths or a colon-separated list, got "
# The server (with and without its worker), the worker, and commands that do and do not touch the data.
COMMANDS = [
    ["serve"],
    ["serve", "--no-worker"],
    ["worker"],
    ["jobs", "list"],
    ["search", "deploy"],
    ["source", "list"],
    ["keys", "list"],
]


def invoke(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(app, list(args), env=env)


def assert_one_line_error(result: Result, expected_start: str) -> str:
    assert result.exit_code == 2, (result.stdout, result.stderr, result.exception)
    assert isinstance(result.exception, SystemExit)  # typer.Exit, not an escaped exception
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(expected_start), lines[0]
    assert "Traceback" not in result.output
    assert "pydantic" not in result.stderr
    assert result.stdout == ""
    return lines[0]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_a_malformed_local_source_roots_stops_every_command_with_one_line(
    tmp_path: Path, command: list[str]
) -> None:
    env = cli_env(tmp_path) | {ROOTS: '["/srv/docs", '}
    line = assert_one_line_error(invoke(env, *command), EXPECTED_ROOTS)
    assert line == EXPECTED_ROOTS + "'[\"/srv/docs\", '"
    assert not (tmp_path / "home").exists()  # refused before anything was created


@pytest.mark.parametrize(
    "value",
    ['["/srv/docs", 3]', '{"path": "/srv/docs"}', '[""]', "[/srv/docs]", '"/srv/docs"'],
)
def test_every_malformed_form_of_local_source_roots_is_named(tmp_path: Path, value: str) -> None:
    env = cli_env(tmp_path) | {ROOTS: value}
    line = assert_one_line_error(invoke(env, "jobs", "list"), EXPECTED_ROOTS)
    assert line == f"{EXPECTED_ROOTS}{value!r}"


@pytest.mark.parametrize(
    ("value", "paths"),
    [
        ('["/srv/docs", "/srv/wiki"]', ["/srv/docs", "/srv/wiki"]),
        ('  ["/srv/with:colon"]  ', ["/srv/with:colon"]),
        ("/srv/docs:/srv/wiki", ["/srv/docs", "/srv/wiki"]),
        ("/srv/docs", ["/srv/docs"]),
        ("/srv/docs:", ["/srv/docs"]),
        ("~/docs", ["~/docs"]),
        ("[]", []),
        ("", []),
    ],
)
def test_local_source_roots_accepts_a_json_list_or_a_colon_separated_list(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, value: str, paths: list[str]
) -> None:
    monkeypatch.setenv(ROOTS, value)
    settings = settings_from_environment(home=tmp_path)
    assert settings.local_source_roots == [Path(p) for p in paths]
    assert parse_path_list(value) == paths


def test_local_source_roots_given_in_code_are_a_list(tmp_path: Path) -> None:
    settings = settings_from_environment(home=tmp_path, local_source_roots=[tmp_path / "a"])
    assert settings.local_source_roots == [tmp_path / "a"]


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("LIGHTFAST_PORT", "eighty", "error: LIGHTFAST_PORT: Input should be a valid integer"),
        ("LIGHTFAST_ENVIRONMENT", "prod", "error: LIGHTFAST_ENVIRONMENT: Input should be 'development' or"),
        ("LIGHTFAST_CHUNK_SIZE", "1", "error: LIGHTFAST_CHUNK_SIZE: Input should be greater than or equal"),
        ("LIGHTFAST_ALLOW_ANONYMOUS", "maybe", "error: LIGHTFAST_ALLOW_ANONYMOUS: Input should be a valid"),
        ("LIGHTFAST_WORKER_ID", "two words", "error: LIGHTFAST_WORKER_ID: String should match pattern"),
        ("LIGHTFAST_DATABASE_URL", "not a url", "error: LIGHTFAST_DATABASE_URL: expected a database URL"),
        ("LIGHTFAST_JOBS_DATABASE_URL", "mysql://db/jobs", "error: LIGHTFAST_JOBS_DATABASE_URL: expected a"),
        ("LIGHTFAST_GITHUB_API_URL", "ftp://github", "error: LIGHTFAST_GITHUB_API_URL must be an http(s)"),
    ],
)
@pytest.mark.parametrize("command", [["serve"], ["jobs", "list"]], ids=" ".join)
def test_any_invalid_setting_is_one_line_naming_its_variable(
    tmp_path: Path, command: list[str], variable: str, value: str, expected: str
) -> None:
    env = cli_env(tmp_path) | {variable: value}
    assert_one_line_error(invoke(env, *command), expected)


def test_a_check_across_settings_is_one_line_too(tmp_path: Path) -> None:
    env = cli_env(tmp_path) | {"LIGHTFAST_CHUNK_SIZE": "64", "LIGHTFAST_CHUNK_OVERLAP": "64"}
    line = assert_one_line_error(invoke(env, "jobs", "list"), "error: LIGHTFAST_CHUNK_OVERLAP")
    assert line == "error: LIGHTFAST_CHUNK_OVERLAP must be smaller than LIGHTFAST_CHUNK_SIZE"


def test_several_invalid_variables_are_named_on_the_one_line(tmp_path: Path) -> None:
    env = cli_env(tmp_path) | {"LIGHTFAST_PORT": "eighty", ROOTS: "[/srv"}
    line = assert_one_line_error(invoke(env, "jobs", "list"), "error: ")
    assert "LIGHTFAST_PORT: " in line
    assert f"{ROOTS}: " in line


def test_secrets_and_database_urls_are_never_echoed(tmp_path: Path) -> None:
    env = cli_env(tmp_path) | {"LIGHTFAST_DATABASE_URL": "mysql://admin:hunter2@db.internal/lightfast"}
    line = assert_one_line_error(invoke(env, "jobs", "list"), "error: LIGHTFAST_DATABASE_URL: ")
    assert "hunter2" not in line
    assert line == "error: LIGHTFAST_DATABASE_URL: expected a sqlite:// or postgresql:// URL, not mysql://"


def test_a_long_value_is_shortened(tmp_path: Path) -> None:
    env = cli_env(tmp_path) | {"LIGHTFAST_PORT": "9" * 500}
    line = assert_one_line_error(invoke(env, "jobs", "list"), "error: LIGHTFAST_PORT: ")
    assert len(line) < 200


def test_the_error_is_a_settings_error_for_every_caller(monkeypatch: pytest.MonkeyPatch) -> None:
    """Not only the CLI: whoever builds the settings from the environment gets a SettingsError."""
    monkeypatch.setenv(ROOTS, "[")
    with pytest.raises(SettingsError) as raised:
        settings_from_environment()
    expected = f"{ROOTS}: expected a JSON list of paths or a colon-separated list, got '['"
    assert raised.value.message == expected
    assert os.pathsep == ":"  # the documented separator is the platform's (as in PATH)
