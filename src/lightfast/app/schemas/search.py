"""Search, contents and find-similar: the request bodies, the API's answers, and the CLI's ``search
--json`` shape, each built from the search services' results."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, Self

from pydantic import (
    BeforeValidator,
    Field,
    SerializerFunctionWrapHandler,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    WithJsonSchema,
    model_serializer,
)

from lightfast.app.relationships import Related
from lightfast.app.schemas.common import Body, Out, Timestamp
from lightfast.app.schemas.relationships import RelatedItemOut
from lightfast.app.search import (
    DocumentContent,
    SearchMode,
    SearchResponse,
    SearchResult,
    SimilarDocument,
)
from lightfast.errors import InvalidInput
from lightfast.rerank.stage import RerankOutcome

#: Former names of two modes, accepted at the edge (API requests, the CLI's --mode) and nowhere else.
MODE_ALIASES: dict[str, SearchMode] = {"bm25": SearchMode.FAST, "hybrid": SearchMode.BALANCED}


def search_mode(name: str) -> SearchMode:
    """The mode a caller named, by its name or a former one; InvalidInput naming ``mode`` otherwise."""
    if name in MODE_ALIASES:
        return MODE_ALIASES[name]
    try:
        return SearchMode(name)
    except ValueError:
        raise InvalidInput(f"mode must be one of {', '.join(SearchMode)}", field="mode") from None


def _alias_to_mode(value: object) -> object:
    return MODE_ALIASES.get(value, value) if isinstance(value, str) else value


RequestedMode = Annotated[
    SearchMode,
    BeforeValidator(_alias_to_mode),
    WithJsonSchema(
        {
            "type": "string",
            "enum": [*SearchMode, *MODE_ALIASES],
            "description": "fast: keyword retrieval only; balanced: semantic and keyword, fused; dense: "
            "semantic only; rerank: balanced, then the top candidates reordered by the server's reranker. "
            "bm25 and hybrid are accepted as former names of fast and balanced.",
        }
    ),
]


# -- requests --------------------------------------------------------------------------------------


# Strict: a JSON 1 stays an int (not true), "2" stays a string; the service bounds them further.
MetadataScalar = StrictStr | StrictBool | StrictInt | StrictFloat
MetadataValue = MetadataScalar | Annotated[list[MetadataScalar], Field(min_length=1, max_length=20)]


class DateRange(Body):
    from_: datetime | None = Field(default=None, alias="from")
    to: datetime | None = None


class Filters(Body):
    stores: list[str] = Field(default_factory=list, max_length=50)
    source_types: list[str] = Field(default_factory=list, alias="sourceTypes", max_length=10)
    path_prefix: str | None = Field(default=None, alias="pathPrefix", max_length=1024)
    date_range: DateRange | None = Field(default=None, alias="dateRange")
    metadata: dict[str, MetadataValue] | None = Field(
        default=None,
        max_length=8,
        description="Conditions on the documents' source metadata, all of which must hold: a key (e.g. "
        "state, teamKey, labels) and a value, or a list of values any of which will do; a key whose "
        'value is a list matches when the list holds the value. Values are typed ("2" is not 2).',
    )


class SearchBody(Body):
    # The service rejects a blank query itself (with a clearer message); the pattern documents it.
    query: str = Field(min_length=1, max_length=1000, json_schema_extra={"pattern": r"\S"})
    limit: int = Field(default=10, ge=1, le=100, strict=True)
    offset: int = Field(default=0, ge=0, le=1000, strict=True)
    mode: RequestedMode = SearchMode.BALANCED
    filters: Filters = Field(default_factory=Filters)
    include_highlights: bool = Field(default=False, alias="includeHighlights", strict=True)
    rerank: bool = Field(
        default=False,
        strict=True,
        description="Reorder the top fused candidates with the server's reranker, within its latency "
        "budget (the answer's rerank object says whether it did); 400 when the server has no reranker.",
    )
    related: bool = Field(
        default=False,
        strict=True,
        description="Give each result up to 5 of its related documents (both directions, as GET "
        "/v1/documents/{id}/related lists them) in its related field.",
    )


class ContentsBody(Body):
    ids: list[str] = Field(min_length=1, max_length=50)


class FindSimilarBody(Body):
    id: str = Field(min_length=1, max_length=191)
    limit: int = Field(default=10, ge=1, le=50, strict=True)
    threshold: float = Field(default=0.0, ge=0.0, le=1.0, strict=True)


# -- answers ---------------------------------------------------------------------------------------


class SearchSourceOut(Out):
    type: str
    path: str
    store: str


class SearchHitOut(Out):
    id: str
    document_id: str
    title: str
    url: str | None
    snippet: str
    score: float
    source: SearchSourceOut
    highlights: list[str]
    related: list[RelatedItemOut] | None = Field(default=None, description="Present when asked (related).")

    @model_serializer(mode="wrap")
    def _serialize(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data = handler(self)
        if data.get("related", ...) is None:  # only when asked: other answers keep their shape
            del data["related"]
        return dict(data)

    @classmethod
    def from_result(
        cls, result: SearchResult, include_highlights: bool, related: list[Related] | None = None
    ) -> Self:
        marked = include_highlights and "<mark>" in result.snippet
        return cls(
            related=None if related is None else [RelatedItemOut.from_related(r) for r in related],
            id=result.id,
            document_id=result.document_id,
            title=result.title,
            url=result.url,
            snippet=result.snippet,
            score=result.score,
            source=SearchSourceOut(type=result.source_type, path=result.path, store=result.store),
            highlights=[result.snippet] if marked else [],
        )


class SearchMetaOut(Out):
    total: int
    limit: int
    offset: int
    took: float
    mode: SearchMode


class LatencyOut(Out):
    embedding: float
    retrieval: float
    fusion: float
    total: float


class RerankOut(Out):
    """What the rerank stage did: ``applied`` false with ``reason`` ``budget`` (the reranker did not
    answer within the budget) or ``error`` (it failed: ``detail``) means the results are in fused order."""

    applied: bool
    reason: str | None
    provider: str
    model: str
    candidates: int
    took: float  # milliseconds the stage took (part of latency.total)
    detail: str | None = None

    @classmethod
    def from_outcome(cls, outcome: RerankOutcome | None) -> Self | None:
        if outcome is None:
            return None
        return cls(
            applied=outcome.applied,
            reason=outcome.reason,
            provider=outcome.provider,
            model=outcome.model,
            candidates=outcome.candidates,
            took=outcome.milliseconds,
            detail=outcome.detail,
        )


def _without_absent_rerank(data: dict[str, Any]) -> dict[str, Any]:
    # ``rerank`` appears only when the request asked for it: the answer to every other search keeps the
    # shape it always had.
    if data.get("rerank", ...) is None:
        del data["rerank"]
    return data


class SearchOut(Out):
    data: list[SearchHitOut]
    meta: SearchMetaOut
    latency: LatencyOut
    request_id: str
    rerank: RerankOut | None = Field(default=None, description="Present when the request asked for rerank.")

    @model_serializer(mode="wrap")
    def _serialize(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        return _without_absent_rerank(handler(self))

    @classmethod
    def from_response(
        cls,
        response: SearchResponse,
        include_highlights: bool,
        related: Mapping[str, list[Related]] | None = None,
    ) -> Self:
        return cls(
            data=[
                SearchHitOut.from_result(
                    r, include_highlights, None if related is None else related.get(r.document_id, [])
                )
                for r in response.results
            ],
            meta=SearchMetaOut(
                total=response.total,
                limit=response.limit,
                offset=response.offset,
                took=response.latency.total,
                mode=response.mode,
            ),
            latency=LatencyOut.model_validate(response.latency),
            request_id=response.request_id,
            rerank=RerankOut.from_outcome(response.rerank),
        )


class ContentItemOut(Out):
    id: str
    title: str
    path: str
    source_type: str
    url: str | None
    content: str
    metadata: dict[str, Any]
    updated_at: Timestamp | None


class ContentsOut(Out):
    items: list[ContentItemOut]
    missing: list[str]
    request_id: str

    @classmethod
    def from_found(cls, items: list[DocumentContent], missing: list[str], request_id: str) -> Self:
        return cls(
            items=[ContentItemOut.model_validate(i) for i in items], missing=missing, request_id=request_id
        )


class SimilarItemOut(Out):
    id: str
    document_id: str
    title: str
    path: str
    url: str | None
    source_type: str
    score: float

    @classmethod
    def from_similar(cls, item: SimilarDocument) -> Self:
        return cls(
            id=item.document_id,
            document_id=item.document_id,
            title=item.title,
            path=item.path,
            url=item.url,
            source_type=item.source_type,
            score=item.score,
        )


class SimilarOut(Out):
    data: list[SimilarItemOut]
    request_id: str


# -- the CLI's ``lightfast search --json`` -----------------------------------------------------------


class CliSearchResultOut(Out):
    """One result, flat: the document's path, source type and store beside its snippet."""

    id: str
    document_id: str
    title: str
    path: str
    source_type: str
    url: str | None
    snippet: str
    score: float
    store: str


class CliSearchOut(Out):
    results: list[CliSearchResultOut]
    latency: LatencyOut
    request_id: str
    rerank: RerankOut | None = None

    @model_serializer(mode="wrap")
    def _serialize(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        return _without_absent_rerank(handler(self))

    @classmethod
    def from_response(cls, response: SearchResponse) -> Self:
        return cls(
            results=[CliSearchResultOut.model_validate(r) for r in response.results],
            latency=LatencyOut.model_validate(response.latency),
            request_id=response.request_id,
            rerank=RerankOut.from_outcome(response.rerank),
        )
