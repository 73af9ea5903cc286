"""Documents found by what they are: the lookup by source id and a document's children."""

from __future__ import annotations

from typing import Any, Self

from lightfast.app.schemas.common import Out, Timestamp
from lightfast.db.models import Document


class DocumentRefOut(Out):
    id: str
    title: str
    source_type: str
    source_id: str
    url: str | None
    parent_doc_id: str | None
    source_metadata: dict[str, Any]
    updated_at: Timestamp | None

    @classmethod
    def from_row(cls, row: Document) -> Self:
        return cls(
            id=row.id,
            title=row.title,
            source_type=row.source_type,
            source_id=row.source_id,
            url=row.url,
            parent_doc_id=row.parent_doc_id,
            source_metadata=dict(row.source_metadata or {}),
            updated_at=row.updated_at,
        )


class DocumentRefListOut(Out):
    items: list[DocumentRefOut]
