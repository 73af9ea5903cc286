"""``lightfast source add sentry`` through Typer's runner: the organization and projects checked and
named in the error, the webhook URL printed, the token read from the environment and never shown."""

from __future__ import annotations

import json
from pathlib import Path

from lightfast.app.secrets import encode_key
from tests.test_cli import as_json, cli_env, invoke, ok


def test_add_sentry(tmp_path: Path) -> None:
    env = cli_env(tmp_path) | {
        "LIGHTFAST_SECRET_KEY": encode_key(bytes(range(32))),
        "SENTRY_AUTH_TOKEN": "sntrys_token_0123456789abcdef",
    }
    added = as_json(
        ok(
            env,
            "source",
            "add",
            "sentry",
            "--organization",
            "acme",
            "--project",
            "web",
            "--project",
            "api",
            "--webhook-secret",
            "sentry_secret_0123456789",
            "--token-env",
            "SENTRY_AUTH_TOKEN",
            "--json",
        )
    )
    assert added["name"] == "Sentry acme"
    assert added["webhookUrl"] == f"http://127.0.0.1:8000/webhooks/sentry/{added['id']}"
    assert (added["mode"], bool(added["jobId"])) == ("api", True)
    assert added["credentials"] == {"token": "••••cdef", "webhook_secret": "••••6789"}
    assert "webhookSecret" not in added  # Sentry's own client secret: never generated, never echoed
    listed = json.loads(ok(env, "source", "list", "--json").stdout)  # a table may wrap a narrow terminal
    assert "Sentry acme" in json.dumps(listed)
    bad = invoke(env, "source", "add", "sentry", "--organization", "Not An Org")
    assert bad.exit_code != 0
    assert "organization" in bad.stderr
    projects = invoke(env, "source", "add", "sentry", "--organization", "acme", "--project", "../x")
    assert projects.exit_code != 0
    assert "projects" in projects.stderr
    human = ok(env, "source", "add", "sentry", "--organization", "globex")
    assert "/webhooks/sentry/" in human.stdout
    assert "sntrys_token_0123456789abcdef" not in human.stdout + str(added)
