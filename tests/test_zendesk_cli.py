"""``lightfast source add zendesk`` through Typer's runner: the subdomain checked and named in the error,
the webhook URL printed, the token read from the environment and never shown."""

from __future__ import annotations

from pathlib import Path

from lightfast.app.secrets import encode_key
from tests.test_cli import as_json, cli_env, invoke, ok


def test_add_zendesk(tmp_path: Path) -> None:
    env = cli_env(tmp_path) | {
        "LIGHTFAST_SECRET_KEY": encode_key(bytes(range(32))),
        "ZENDESK_API_TOKEN": "zd_token_0123456789abcdef",
    }
    added = as_json(
        ok(
            env,
            "source",
            "add",
            "zendesk",
            "--subdomain",
            "acme",
            "--webhook-secret",
            "zd_secret_0123456789",
            "--email",
            "agent@acme.example",
            "--token-env",
            "ZENDESK_API_TOKEN",
            "--no-private-comments",
            "--json",
        )
    )
    assert added["name"] == "Zendesk acme"
    assert added["webhookUrl"] == f"http://127.0.0.1:8000/webhooks/zendesk/{added['id']}"
    assert (added["mode"], bool(added["jobId"])) == ("api", True)
    assert added["credentials"] == {"token": "••••cdef", "webhook_secret": "••••6789"}
    assert "webhookSecret" not in added  # Zendesk's own secret: never generated, never echoed
    listed = as_json(ok(env, "source", "list", "--json"))
    items = listed["items"] if isinstance(listed, dict) else listed
    assert [(s["type"], s["name"]) for s in items] == [("zendesk", "Zendesk acme")]
    bad = invoke(env, "source", "add", "zendesk", "--subdomain", "Not_A_Subdomain")
    assert bad.exit_code != 0
    assert "subdomain" in bad.stderr
    human = ok(env, "source", "add", "zendesk", "--subdomain", "globex")
    assert "/webhooks/zendesk/" in human.stdout
    assert "zd_token_0123456789abcdef" not in human.stdout + str(added)
