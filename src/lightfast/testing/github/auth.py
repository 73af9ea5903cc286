"""GitHub App authentication for the stand-in: App key pairs and JWT verification."""

from __future__ import annotations

import time
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from .replies import HTTPError


def generate_private_key() -> tuple[str, str]:
    """A fresh RSA 2048 App key pair: (private PEM in PKCS8, public PEM)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private.decode(), public.decode()


def verify_jwt(token: str, public_key: rsa.RSAPublicKey, app_id: int) -> None:
    """Checks an App JWT as GitHub does, raising the error GitHub answers with."""
    options: Any = {"require": ["exp", "iat", "iss"]}
    try:
        claims = jwt.decode(token, public_key, algorithms=["RS256"], leeway=60, options=options)
    except jwt.ExpiredSignatureError:
        raise HTTPError(
            401,
            "'Expiration time' claim ('exp') must be a numeric value representing the future time "
            "at which the assertion expires",
        ) from None
    except jwt.ImmatureSignatureError:
        raise HTTPError(
            401,
            "'Issued at' claim ('iat') must be an Integer representing the time that the assertion "
            "was issued",
        ) from None
    except jwt.PyJWTError:
        raise HTTPError(401, "A JSON web token could not be decoded") from None
    issuer = claims["iss"]
    if isinstance(issuer, bool) or not isinstance(issuer, int | str) or str(issuer) != str(app_id):
        raise HTTPError(401, "A JSON web token could not be decoded")
    # GitHub caps App JWTs at ten minutes; the same 60 s of clock drift as the leeway above.
    if claims["exp"] - claims["iat"] > 660 or claims["exp"] > time.time() + 660:
        raise HTTPError(401, "'Expiration time' claim ('exp') is too far in the future")
