"""Credentials at rest: AES-256-GCM under the key from settings (``LIGHTFAST_SECRET_KEY``).

A sealed value reads ``lf1.<key id>.<base64url(nonce || ciphertext || tag)>``:

* the nonce is 96 random bits, fresh for every encryption (GCM must never reuse a nonce under one key;
  2^-32 collision odds are reached only after ~2^32 encryptions, far beyond any credential count);
* the key id (the first 8 hex digits of the key's SHA-256) says which key sealed it, so a rotation can
  read values sealed under an earlier key (``LIGHTFAST_PREVIOUS_SECRET_KEYS``) while it re-seals them;
* the associated data names what the value is for (a source id and a credential name): a ciphertext
  copied onto another source's row does not decrypt.

Plaintexts never appear in a message, a log line or a ``repr``; people see a ``preview`` only.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from lightfast.errors import SecretUnreadable, SettingsError
from lightfast.settings import Settings, is_secret_key

log = logging.getLogger("lightfast.secrets")

FORMAT = "lf1"
NONCE_BYTES = 12
KEY_BYTES = 32
KEY_FILE = "secret.key"
# The longest plaintext sealed: credentials are tokens and signing secrets, a few hundred bytes at most.
MAX_PLAINTEXT_BYTES = 16 * 1024


def key_id(key: bytes) -> str:
    """A short public name of a key: it identifies, never reveals (8 hex digits of its SHA-256)."""
    return hashlib.sha256(key).hexdigest()[:8]


def new_key() -> bytes:
    return os.urandom(KEY_BYTES)


def encode_key(key: bytes) -> str:
    return base64.b64encode(key).decode("ascii")


def preview(secret: str) -> str:
    """What may be shown of a credential: its last four characters when it is long enough that they
    give nothing useful away, else nothing."""
    if len(secret) < 16:
        return "••••"
    return "••••" + secret[-4:]


@dataclass(frozen=True)
class SecretBox:
    """Seals and opens credentials. ``primary`` seals; every key (the primary and ``previous``) opens."""

    primary: bytes = field(repr=False)
    previous: tuple[bytes, ...] = field(default=(), repr=False)

    def __post_init__(self) -> None:
        for key in (self.primary, *self.previous):
            if len(key) != KEY_BYTES:
                raise SettingsError("a secret key must be 32 bytes (AES-256)")

    @property
    def primary_id(self) -> str:
        return key_id(self.primary)

    def _keys(self) -> dict[str, bytes]:
        keys = {key_id(key): key for key in self.previous}
        keys[self.primary_id] = self.primary
        return keys

    def seal(self, plaintext: str, *, context: str) -> str:
        """``plaintext`` encrypted under the primary key, bound to ``context`` (what it belongs to)."""
        data = plaintext.encode("utf-8")
        if len(data) > MAX_PLAINTEXT_BYTES:
            raise SecretUnreadable(f"a credential may hold at most {MAX_PLAINTEXT_BYTES} bytes")
        nonce = os.urandom(NONCE_BYTES)
        sealed = AESGCM(self.primary).encrypt(nonce, data, context.encode("utf-8"))
        body = base64.urlsafe_b64encode(nonce + sealed).decode("ascii").rstrip("=")
        return f"{FORMAT}.{self.primary_id}.{body}"

    def open(self, token: str, *, context: str) -> str:
        """The plaintext of a sealed value. SecretUnreadable when its key is unknown, or when the value
        or its context is not what was sealed (the message never quotes the value)."""
        try:
            version, kid, body = token.split(".", 2)
        except ValueError:
            raise SecretUnreadable("a stored credential is not in the sealed format") from None
        if version != FORMAT:
            raise SecretUnreadable(f"a stored credential has an unknown format {version[:8]!r}")
        key = self._keys().get(kid)
        if key is None:
            raise SecretUnreadable(
                f"a stored credential was sealed under key {kid[:8]!r}, which is not configured: set it in "
                "LIGHTFAST_SECRET_KEY or LIGHTFAST_PREVIOUS_SECRET_KEYS"
            )
        try:
            raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        except ValueError:
            raise SecretUnreadable("a stored credential is damaged") from None
        if len(raw) < NONCE_BYTES + 16:
            raise SecretUnreadable("a stored credential is damaged")
        try:
            data = AESGCM(key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], context.encode("utf-8"))
        except InvalidTag:
            raise SecretUnreadable("a stored credential does not verify (damaged, or moved)") from None
        return data.decode("utf-8")

    def sealed_by_primary(self, token: str) -> bool:
        """Whether a sealed value is under the primary key already (a rotation leaves it as it is)."""
        parts = token.split(".", 2)
        return len(parts) == 3 and parts[0] == FORMAT and parts[1] == self.primary_id


def _decode(text: str, variable: str) -> bytes:
    if not is_secret_key(text):
        raise SettingsError(f"{variable}: expected the base64 encoding of exactly 32 bytes")
    return base64.b64decode(text.strip(), validate=True)


def development_key(home: Path) -> bytes:
    """The development install's key: generated once into ``home/secret.key``, readable by its owner
    only (0600), created exclusively so two processes starting together agree on one key."""
    path = home / KEY_FILE
    home.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _decode(path.read_text(encoding="ascii"), str(path))
    with os.fdopen(descriptor, "w", encoding="ascii") as handle:
        handle.write(encode_key(new_key()) + "\n")
    log.info("generated a secret key for credentials at rest in %s", path)
    return _decode(path.read_text(encoding="ascii"), str(path))


def secret_box(settings: Settings) -> SecretBox:
    """The box for these settings: ``LIGHTFAST_SECRET_KEY`` (required in production), else in development
    a key generated once into LIGHTFAST_HOME. Earlier keys from ``LIGHTFAST_PREVIOUS_SECRET_KEYS`` still
    open what they sealed."""
    previous: list[bytes] = []
    if settings.previous_secret_keys is not None:
        for part in settings.previous_secret_keys.get_secret_value().split(","):
            if part.strip():
                previous.append(_decode(part, "LIGHTFAST_PREVIOUS_SECRET_KEYS"))
    if settings.secret_key is not None:
        primary = _decode(settings.secret_key.get_secret_value(), "LIGHTFAST_SECRET_KEY")
    elif settings.environment == "production":
        raise SettingsError("LIGHTFAST_SECRET_KEY is required in production")
    else:
        primary = development_key(settings.home_dir)
    return SecretBox(primary, tuple(key for key in previous if key != primary))
