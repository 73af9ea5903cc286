"""The relationship graph on the wire: a document's related documents, each with the edge that relates
them (its kind, its direction, the key it named and the words that said so), and the edges no document
answers to yet."""

from __future__ import annotations

from typing import Self

from pydantic import Field

from lightfast.app.relationships import Related, RelatedPage, Unresolved
from lightfast.app.schemas.common import Out
from lightfast.app.schemas.documents import DocumentRefOut


class EdgeTargetOut(Out):
    type: str = Field(description="github, github_commit, linear, sentry, zendesk, vercel or notion.")
    key: str = Field(description='What the edge named: "acme/api#42", "ENG-7", a commit sha, "dpl_...".')


class RelatedItemOut(Out):
    document: DocumentRefOut
    direction: str = Field(description="out: this document points at it; in: it points at this document.")
    kind: str = Field(description="fixes, fixed_by, blocks, blocked_by, depends_on, relates_to, ...")
    target: EdgeTargetOut
    evidence: str = Field(description="The words around the mention, or the metadata that gave the edge.")

    @classmethod
    def from_related(cls, item: Related) -> Self:
        return cls(
            document=DocumentRefOut.from_row(item.document),
            direction=item.direction,
            kind=item.kind,
            target=EdgeTargetOut(type=item.target_type, key=item.target_key),
            evidence=item.evidence,
        )


class UnresolvedEdgeOut(Out):
    kind: str
    target: EdgeTargetOut
    evidence: str

    @classmethod
    def from_unresolved(cls, item: Unresolved) -> Self:
        return cls(
            kind=item.kind,
            target=EdgeTargetOut(type=item.target_type, key=item.target_key),
            evidence=item.evidence,
        )


class RelatedOut(Out):
    document: DocumentRefOut
    items: list[RelatedItemOut]
    unresolved: list[UnresolvedEdgeOut] = Field(
        description="This document's edges to keys no document of the workspace has (yet)."
    )

    @classmethod
    def from_page(cls, page: RelatedPage) -> Self:
        return cls(
            document=DocumentRefOut.from_row(page.document),
            items=[RelatedItemOut.from_related(i) for i in page.items],
            unresolved=[UnresolvedEdgeOut.from_unresolved(u) for u in page.unresolved],
        )
