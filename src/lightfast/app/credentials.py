"""Sources' credentials, sealed at rest (lightfast.app.secrets): store, read, preview, rotate.

The associated data of every sealed value is ``source:{source id}:{name}``, so a value only opens on
the row it was written for. Plaintexts leave this service only towards the code that uses them (a
signature check, an API client); the API, CLI and console show ``preview`` values.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from lightfast.app.secrets import SecretBox, preview
from lightfast.db import credentials as repo

TOKEN = "token"
WEBHOOK_SECRET = "webhook_secret"
VERIFICATION_TOKEN = "verification_token"
ROTATE_BATCH = 200


def context(source_id: str, name: str) -> str:
    return f"source:{source_id}:{name}"


@dataclass(frozen=True)
class RotationReport:
    key_id: str  # the key everything is sealed under now
    resealed: int
    remaining_by_key: dict[str, int]


class CredentialService:
    def __init__(self, sessions: sessionmaker[Session], box: SecretBox) -> None:
        self.sessions = sessions
        self.box = box

    def put(self, session: Session, source_id: str, name: str, plaintext: str) -> str:
        """Seal and store a credential in the caller's transaction; returns its preview."""
        shown = preview(plaintext)
        repo.put_credential(
            session,
            source_id=source_id,
            name=name,
            sealed=self.box.seal(plaintext, context=context(source_id, name)),
            key_id=self.box.primary_id,
            preview=shown,
        )
        return shown

    def has(self, session: Session, source_id: str, name: str) -> bool:
        return repo.find_credential(session, source_id, name) is not None

    def store(self, source_id: str, name: str, plaintext: str) -> str:
        with self.sessions.begin() as session:
            return self.put(session, source_id, name, plaintext)

    def read(self, source_id: str, name: str) -> str | None:
        """The plaintext of a source's credential, or None when it has none of that name.
        SecretUnreadable when it cannot be opened (its key is gone, or the row was tampered with)."""
        with self.sessions() as session:
            row = repo.find_credential(session, source_id, name)
            if row is None:
                return None
            sealed = row.sealed
        return self.box.open(sealed, context=context(source_id, name))

    def previews(self, source_id: str) -> dict[str, str]:
        with self.sessions() as session:
            return {row.name: row.preview for row in repo.source_credentials(session, source_id)}

    def rotate(self) -> RotationReport:
        """Re-seal every credential not under the primary key, in batches (each its own transaction:
        a crash mid-way leaves every row readable, sealed under one key or the other)."""
        resealed = 0
        while True:
            with self.sessions.begin() as session:
                rows = repo.credentials_not_under(session, self.box.primary_id, ROTATE_BATCH)
                for row in rows:
                    where = context(row.source_id, row.name)
                    plaintext = self.box.open(row.sealed, context=where)
                    row.sealed = self.box.seal(plaintext, context=where)
                    row.key_id = self.box.primary_id
                resealed += len(rows)
            if len(rows) < ROTATE_BATCH:
                break
        with self.sessions() as session:
            remaining = repo.count_by_key(session)
        return RotationReport(self.box.primary_id, resealed, remaining)
