"""``lightfast source add linear|notion`` and ``lightfast secrets rotate`` through Typer's runner."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lightfast.app.container import build_services
from lightfast.app.secrets import encode_key, key_id
from lightfast.app.vendor_sources import VendorOption
from lightfast.db.engine import make_engine
from lightfast.errors import InvalidInput
from tests.conftest import make_settings
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


# -- a vendor's own connection fields (VendorKind.options) ------------------------------------------------


@given(st.text(max_size=40), st.booleans())
def test_an_option_keeps_a_matching_value_and_names_itself_when_refusing(value: str, required: bool) -> None:
    option = VendorOption(
        "subdomain", "Subdomain", required=required, pattern="[a-z0-9-]{1,20}", max_length=30
    )
    stripped = value.strip()
    acceptable = re.fullmatch("[a-z0-9-]{1,20}", stripped) is not None if stripped else not required
    if not acceptable:
        with pytest.raises(InvalidInput) as refused:
            option.check(value)
        assert refused.value.field == "subdomain"
        return
    assert option.check(value) == (stripped or None)


def test_connect_checks_the_declared_options_for_every_shell(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    services = build_services(make_settings(tmp_path, url), engine=make_engine(url))
    try:
        seen: list[dict[str, str]] = []
        linear = services.vendors.connections.kinds["linear"]

        def metadata(
            name: str, mode: str, token_env: str | None, options: Mapping[str, str]
        ) -> dict[str, Any]:
            seen.append(dict(options))
            return linear.metadata(name, mode, token_env, options)

        region = VendorOption("region", "Data region", required=True, pattern="[a-z]{2}")
        services.vendors.connections.kinds["linear"] = dataclasses.replace(
            linear, metadata=metadata, options=(region,)
        )
        workspace = services.workspaces.ensure_workspace_id()
        for bad in ({}, {"region": "  "}, {"region": "EU"}, {"region": "x" * 300}):
            with pytest.raises(InvalidInput) as refused:
                services.vendors.connections.connect(workspace, "linear", name="acme", options=bad)
            assert refused.value.field == "region"
        assert seen == []  # refused before the vendor's own function ran
        services.vendors.connections.connect(
            workspace, "linear", name="acme", options={"region": " eu ", "x": "1"}
        )
        assert seen == [{"region": "eu", "x": "1"}]  # stripped; undeclared ones pass through
    finally:
        services.close()
