"""``lightfast source add linear|notion`` and ``lightfast secrets rotate`` through Typer's runner."""

from __future__ import annotations

from pathlib import Path

from lightfast.app.secrets import encode_key, key_id
from tests.test_cli import as_json, cli_env, invoke, ok

KEY_A, KEY_B = bytes(range(32)), bytes(range(2, 34))


def test_add_linear_prints_the_webhook_url_and_the_secret_once(tmp_path: Path) -> None:
    env = cli_env(tmp_path) | {
        "LIGHTFAST_SECRET_KEY": encode_key(KEY_A),
        "LINEAR_KEY": "lin_api_0123456789abcdef",
    }
    added = as_json(
        ok(env, "source", "add", "linear", "--name", "acme", "--token-env", "LINEAR_KEY", "--json")
    )
    assert added["webhookUrl"] == f"http://127.0.0.1:8000/webhooks/linear/{added['id']}"
    assert added["mode"] == "api"
    assert added["jobId"]
    assert added["credentials"] == {
        "token": "••••cdef",
        "webhook_secret": "••••" + added["webhookSecret"][-4:],
    }
    again = as_json(ok(env, "source", "add", "linear", "--name", "acme", "--json"))
    assert again["id"] == added["id"]
    assert "webhookSecret" not in again
    human = ok(env, "source", "add", "notion", "--name", "acme")
    assert "/webhooks/notion/" in human.stdout
    assert "ids, not content" in human.stdout
    missing = invoke(env, "source", "add", "linear", "--token-env", "NOT_SET_ANYWHERE")
    assert missing.exit_code == 2
    assert "NOT_SET_ANYWHERE" in missing.stderr
    assert "lin_api_0123456789abcdef" not in added.__repr__() + human.stdout


def test_secrets_rotate_reseals_under_the_new_key(tmp_path: Path) -> None:
    env = cli_env(tmp_path) | {"LIGHTFAST_SECRET_KEY": encode_key(KEY_A)}
    ok(env, "source", "add", "linear", "--webhook-secret", "lin_wh_0123456789abcdef", "--json")
    rotated = env | {
        "LIGHTFAST_SECRET_KEY": encode_key(KEY_B),
        "LIGHTFAST_PREVIOUS_SECRET_KEYS": encode_key(KEY_A),
    }
    report = as_json(ok(rotated, "secrets", "rotate", "--json"))
    assert report == {"keyId": key_id(KEY_B), "resealed": 1, "remainingByKey": {key_id(KEY_B): 1}}
    assert as_json(ok(rotated, "secrets", "rotate", "--json"))["resealed"] == 0
    # Without the key that sealed them, nothing can be read, and the error says which key is missing.
    lost = cli_env(tmp_path) | {"LIGHTFAST_SECRET_KEY": encode_key(KEY_A)}
    failed = invoke(lost, "secrets", "rotate")
    assert failed.exit_code == 1
    assert key_id(KEY_B) in failed.stderr
