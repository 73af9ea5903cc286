"""MCP tools for documents by what they are (issue 13, seed 004's query patterns): ``lightfast_document``
finds a document by its source's own id (a Linear ``ENG-7``), ``lightfast_children`` lists a document's
children (an issue's comments). Registered by ``build_server``; each is one SDK call."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal, TypeVar

from mcp.server.mcpserver import Context, MCPServer
from mcp_types import ToolAnnotations
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from lightfast.sdk import AsyncLightfast, DocumentRef

T = TypeVar("T")
Caller = Callable[[Context[Any, Any], Callable[[AsyncLightfast], Awaitable[T]]], Awaitable[T]]
SourceType = Literal["linear", "notion", "github", "sentry", "vercel", "zendesk", "local", "git"]


class DocumentHit(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, serialize_by_alias=True)

    document_id: str = Field(
        description="Pass to lightfast_contents, lightfast_children or lightfast_related."
    )
    title: str
    source_type: str
    source_id: str
    url: str | None
    parent_document_id: str | None = Field(description="The parent's documentId (a comment's issue).")
    metadata: dict[str, Any] = Field(description="The source's metadata: state, teamKey, labels, ...")

    @classmethod
    def of(cls, ref: DocumentRef) -> DocumentHit:
        return cls(
            document_id=ref.id,
            title=ref.title,
            source_type=ref.source_type,
            source_id=ref.source_id,
            url=ref.url,
            parent_document_id=ref.parent_doc_id,
            metadata=ref.source_metadata,
        )


class DocumentHits(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, serialize_by_alias=True)

    documents: list[DocumentHit]


def register(server: MCPServer[Any], call: Caller[Any], annotations: ToolAnnotations) -> None:
    @server.tool(name="lightfast_document", title="Find a document by its source id", annotations=annotations)
    async def lightfast_document(
        source_type: Annotated[SourceType, Field(description="The source: linear, notion, github, ...")],
        source_id: Annotated[
            str,
            Field(
                min_length=1,
                max_length=1024,
                description="The source's own id: a Linear issue key such as ENG-7 (or its id), a Notion "
                "page id, a GitHub file path.",
            ),
        ],
        ctx: Context[Any, Any],
    ) -> DocumentHits:
        """Find the indexed document a source calls by this id, e.g. the Linear issue ENG-7, with its
        metadata (state, team, labels) and documentId; empty when it is not indexed."""
        found: list[DocumentRef] = await call(ctx, lambda lf: lf.find_documents(source_type, source_id))
        return DocumentHits(documents=[DocumentHit.of(ref) for ref in found])

    @server.tool(name="lightfast_children", title="A document's children", annotations=annotations)
    async def lightfast_children(
        id: Annotated[
            str, Field(min_length=1, max_length=191, description="The documentId (from lightfast_search).")
        ],
        ctx: Context[Any, Any],
    ) -> DocumentHits:
        """The documents under a given one, oldest first: a Linear issue's comments, a Notion page's
        comments. Read them in full with lightfast_contents."""
        found: list[DocumentRef] = await call(ctx, lambda lf: lf.children(id))
        return DocumentHits(documents=[DocumentHit.of(ref) for ref in found])
