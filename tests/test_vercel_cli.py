"""``lightfast source add vercel`` through Typer's runner, and POST /v1/sources type vercel: the projects
and team checked and named in the error, the webhook URL printed, the token read from the environment and
never shown."""

from __future__ import annotations

from pathlib import Path

from lightfast.app.secrets import encode_key
from tests.test_cli import as_json, cli_env, invoke, ok


def test_add_vercel(tmp_path: Path) -> None:
    env = cli_env(tmp_path) | {
        "LIGHTFAST_SECRET_KEY": encode_key(bytes(range(32))),
        "VERCEL_TOKEN": "vercel_token_0123456789abcdef",
    }
    added = as_json(
        ok(
            env,
            "source",
            "add",
            "vercel",
            "--project",
            "web",
            "--project",
            "prj_vt57HZEY7iilPaJv71LcOVLcEiOp",
            "--team",
            "team_kTDbLdHFZ0x7HU66LRgZCfpd",
            "--webhook-secret",
            "vercel_secret_0123456789",
            "--token-env",
            "VERCEL_TOKEN",
            "--json",
        )
    )
    assert added["name"] == "Vercel web"
    assert added["webhookUrl"] == f"http://127.0.0.1:8000/webhooks/vercel/{added['id']}"
    assert (added["mode"], bool(added["jobId"])) == ("api", True)
    assert added["credentials"] == {"token": "••••cdef", "webhook_secret": "••••6789"}
    assert "webhookSecret" not in added  # Vercel's own secret: never generated, never echoed
    listed = as_json(ok(env, "source", "list", "--json"))
    assert "Vercel web" in str(listed)
    bad = invoke(env, "source", "add", "vercel", "--project", "Not A Project")
    assert bad.exit_code != 0
    assert "projects" in bad.stderr
    team = invoke(env, "source", "add", "vercel", "--project", "web", "--team", "acme")
    assert team.exit_code != 0
    assert "team" in team.stderr
    human = ok(env, "source", "add", "vercel", "--project", "docs", "--name", "docs-site")
    assert "/webhooks/vercel/" in human.stdout
    assert "vercel_token_0123456789abcdef" not in human.stdout + str(added)
