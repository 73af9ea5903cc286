"""Credentials at rest: AES-256-GCM sealing (lightfast.app.secrets), keys from settings, rotation."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lightfast.app.container import build_services
from lightfast.app.credentials import TOKEN, WEBHOOK_SECRET, CredentialService
from lightfast.app.secrets import KEY_FILE, SecretBox, encode_key, key_id, new_key, preview, secret_box
from lightfast.db import credentials as repo
from lightfast.db.engine import make_engine
from lightfast.errors import SecretUnreadable, SettingsError
from lightfast.settings import Settings, settings_from_environment
from tests.conftest import make_settings

KEY_A, KEY_B = bytes(range(32)), bytes(range(1, 33))


@given(st.text(max_size=300), st.text(min_size=1, max_size=60))
def test_sealing_round_trips_and_never_shows_the_plaintext(plaintext: str, context: str) -> None:
    box = SecretBox(KEY_A)
    sealed = box.seal(plaintext, context=context)
    assert box.open(sealed, context=context) == plaintext
    assert sealed.startswith(f"lf1.{key_id(KEY_A)}.")
    if len(plaintext) >= 4:
        assert plaintext not in sealed
    assert "KEY" not in repr(box)
    assert str(KEY_A) not in repr(box)


def test_every_seal_uses_a_fresh_nonce() -> None:
    box = SecretBox(KEY_A)
    sealed = {box.seal("the same token", context="source:s:token") for _ in range(50)}
    assert len(sealed) == 50


def test_a_value_opens_only_for_its_own_row_and_key() -> None:
    box = SecretBox(KEY_A)
    sealed = box.seal("lin_api_secret_value", context="source:src_1:token")
    with pytest.raises(SecretUnreadable):  # copied onto another source's row
        box.open(sealed, context="source:src_2:token")
    with pytest.raises(SecretUnreadable):  # another credential name of the same row
        box.open(sealed, context="source:src_1:webhook_secret")
    with pytest.raises(SecretUnreadable) as unknown:
        SecretBox(KEY_B).open(sealed, context="source:src_1:token")
    assert "not configured" in unknown.value.message
    assert "lin_api" not in unknown.value.message


@given(st.integers(min_value=0, max_value=200), st.integers(min_value=0, max_value=255))
def test_any_tampered_byte_is_refused(position: int, flip: int) -> None:
    box = SecretBox(KEY_A)
    sealed = box.seal("a signing secret", context="c")
    version, kid, body = sealed.split(".", 2)
    raw = bytearray(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    position %= len(raw)
    raw[position] ^= flip or 1
    tampered = f"{version}.{kid}." + base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")
    with pytest.raises(SecretUnreadable):
        box.open(tampered, context="c")


@pytest.mark.parametrize("garbage", ["", "lf1", "lf1.abc", "lf2.x.y", "lf1.00000000.!!!!", "lf1.%s.AAAA"])
def test_malformed_values_are_refused_without_quoting_them(garbage: str) -> None:
    box = SecretBox(KEY_A)
    value = garbage.replace("%s", box.primary_id)
    with pytest.raises(SecretUnreadable):
        box.open(value, context="c")


def test_previews_hide_short_secrets_entirely() -> None:
    assert preview("short") == "••••"
    assert preview("lin_api_0123456789abcdef") == "••••cdef"


def test_production_refuses_to_start_without_a_key(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as refused:
        settings_from_environment(home=tmp_path, environment="production")
    assert "LIGHTFAST_SECRET_KEY" in refused.value.message
    with pytest.raises(SettingsError) as invalid:
        settings_from_environment(home=tmp_path, secret_key="not-a-key")
    assert "LIGHTFAST_SECRET_KEY" in invalid.value.message
    assert "not-a-key" not in invalid.value.message
    good = encode_key(new_key())
    settings = settings_from_environment(home=tmp_path, environment="production", secret_key=good)
    assert secret_box(settings).primary == base64.b64decode(good)


def test_development_generates_one_key_readable_by_its_owner_only(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home")
    first = secret_box(settings)
    path = tmp_path / "home" / KEY_FILE
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert secret_box(settings).primary == first.primary  # generated once, then read


def test_previous_keys_still_open(tmp_path: Path) -> None:
    old = SecretBox(KEY_A).seal("token", context="c")
    settings = Settings(home=tmp_path, secret_key=encode_key(KEY_B), previous_secret_keys=encode_key(KEY_A))
    box = secret_box(settings)
    assert box.open(old, context="c") == "token"
    assert not box.sealed_by_primary(old)


def test_rotation_reseals_every_credential_under_the_new_key(tmp_path: Path, database_url: str) -> None:
    before = make_settings(tmp_path, database_url, secret_key=encode_key(KEY_A))
    services = build_services(before, engine=make_engine(before.resolved_database_url))
    try:
        workspace = services.workspaces.ensure_workspace_id()
        connected = services.vendors.connections.connect(
            workspace,
            "linear",
            name="acme",
            webhook_secret="lin_wh_abcdefghijklmnop",
            token="lin_api_0123456789",
        )
        source_id = connected.source.id
        assert connected.credentials == {TOKEN: "••••6789", WEBHOOK_SECRET: "••••mnop"}
        with services.sessions() as session:
            rows = repo.source_credentials(session, source_id)
            assert {row.key_id for row in rows} == {key_id(KEY_A)}
            assert all("lin_" not in row.sealed for row in rows)
        rotated = CredentialService(services.sessions, SecretBox(KEY_B, (KEY_A,)))
        report = rotated.rotate()
        assert (report.resealed, report.remaining_by_key) == (2, {key_id(KEY_B): 2})
        assert rotated.rotate().resealed == 0  # nothing left to do
        only_new = CredentialService(services.sessions, SecretBox(KEY_B))
        assert only_new.read(source_id, TOKEN) == "lin_api_0123456789"
        with pytest.raises(SecretUnreadable):  # the old key alone no longer opens them
            CredentialService(services.sessions, SecretBox(KEY_A)).read(source_id, TOKEN)
    finally:
        services.close()
