"""Documents by what they are: a source's id (``sourceType=linear&sourceId=ENG-123``) and a document's
children, scoped to the caller's workspace."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from lightfast.db import document_lookup as repo
from lightfast.db.models import SOURCE_TYPES, Document
from lightfast.errors import InvalidInput, NotFound

MAX_SOURCE_ID = 1024


class DocumentLookup:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def by_source(self, workspace_id: str, source_type: str, source_id: str) -> list[Document]:
        if source_type not in (*SOURCE_TYPES, "git"):
            raise InvalidInput(f"sourceType must be one of {', '.join(SOURCE_TYPES)}", field="sourceType")
        if not source_id or len(source_id) > MAX_SOURCE_ID or "\x00" in source_id:
            raise InvalidInput(f"sourceId must be 1 to {MAX_SOURCE_ID} characters", field="sourceId")
        with self.sessions() as session:
            return repo.by_source_id(session, workspace_id, source_type, source_id)

    def children(self, workspace_id: str, document_id: str) -> list[Document]:
        with self.sessions() as session:
            found = repo.children(session, workspace_id, document_id)
        if found is None:
            raise NotFound(f"document {document_id!r} does not exist")
        return found
