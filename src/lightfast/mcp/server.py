"""The Lightfast MCP server: ``lightfast_search``, ``lightfast_contents`` and ``lightfast_find_similar`` for
coding agents, over stdio or streamable HTTP (``lightfast mcp``).

It is a thin client of the Lightfast HTTP API (through ``lightfast.sdk``), so it works against any
deployment and never opens the database. Every tool call is made with an API key, which also picks the
workspace:

* stdio: the key the server was started with (``--api-key`` / ``LIGHTFAST_API_KEY``);
* streamable HTTP: the key the MCP client presents as ``Authorization: Bearer <key>``. The header is
  required (401 without it, or with a key the API refuses) and there is no fallback key, so each agent
  acts with its own workspace key; an MCP session stays bound to the key that opened it.

API failures (401, 404, 400, 429, an unreachable API, ...) become MCP tool errors (``isError``) carrying
the API's message; they never end the server.
"""

import hashlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal, TypeVar

from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import ToolAnnotations
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel
from starlette.applications import Starlette

from lightfast import __version__
from lightfast.mcp import documents
from lightfast.sdk import (
    DEFAULT_BASE_URL,
    APIConnectionError,
    APIError,
    AsyncLightfast,
    AuthenticationError,
    LightfastClientError,
    NotFoundError,
)

__all__ = [
    "DEFAULT_HTTP_PORT",
    "DEFAULT_MCP_PATH",
    "ApiKeyVerifier",
    "ContentsResult",
    "DocumentText",
    "RelatedHit",
    "RelatedResults",
    "SearchHit",
    "SearchResults",
    "SimilarHit",
    "SimilarResults",
    "build_server",
    "http_app",
]

log = logging.getLogger("lightfast.mcp")

T = TypeVar("T")
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]

DEFAULT_HTTP_PORT = 8765
DEFAULT_MCP_PATH = "/mcp"
DEFAULT_MAX_CHARS = 20_000
#: How long an API key the API accepted is trusted by the HTTP transport before it is checked again.
#: Only the MCP endpoint's own 401 depends on it: every tool call is still authorized by the API.
KEY_CHECK_TTL = 60.0
_KEY_CACHE_SIZE = 1024
#: The document id the key check asks for: a cheap read-only call that needs a valid key.
_PROBE_ID = "lightfast-mcp-key-check"

INSTRUCTIONS = (
    "Lightfast searches the indexed documents of one workspace (docs, code, notes of a software team). "
    "Start with lightfast_search; read a hit in full with lightfast_contents (pass its documentId); "
    "use lightfast_find_similar to discover similar documents and lightfast_related for the documents "
    "linked to one across sources (fixes, deployments, releases, commits). Snippets mark matched terms "
    "with <mark>."
)

READ_ONLY = ToolAnnotations(read_only_hint=True, idempotent_hint=True, open_world_hint=False)


# -- tool results ------------------------------------------------------------------------------------


class _Result(BaseModel):
    """camelCase on the wire, like the HTTP API."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, serialize_by_alias=True)


class SearchHit(_Result):
    document_id: str = Field(description="Pass to lightfast_contents or lightfast_find_similar.")
    title: str | None
    path: str | None
    url: str | None
    snippet: str = Field(description="The best matching passage; matched terms are wrapped in <mark>.")
    score: float


class SearchResults(_Result):
    query: str
    total: int = Field(description="How many documents matched in all (results holds the top ones).")
    results: list[SearchHit]


class DocumentText(_Result):
    document_id: str
    title: str | None
    path: str | None
    url: str | None
    text: str
    truncated: bool = Field(description="True when text was cut at max_chars.")
    length: int = Field(description="Length of the whole document, in characters.")


class ContentsResult(_Result):
    documents: list[DocumentText]
    missing: list[str] = Field(description="Requested ids that do not exist in this workspace.")


class SimilarHit(_Result):
    document_id: str
    title: str | None
    path: str | None
    url: str | None
    score: float = Field(description="Cosine similarity to the given document, 0-1.")


class SimilarResults(_Result):
    document_id: str
    results: list[SimilarHit]


class RelatedHit(_Result):
    document_id: str
    title: str | None
    source_type: str
    url: str | None
    direction: str = Field(description="out: the given document points at it; in: it points at it.")
    kind: str = Field(description="fixes, fixed_by, blocks, blocked_by, depends_on, deploys, ...")
    target: str = Field(description='The key the edge named, as "type:key" (e.g. "linear:ENG-7").')
    evidence: str


class RelatedResults(_Result):
    document_id: str
    results: list[RelatedHit]
    unresolved: list[str] = Field(description='Keys it names that nothing indexed has ("type:key").')


# -- errors --------------------------------------------------------------------------------------------


def describe(exc: LightfastClientError, base_url: str) -> str:
    """The tool error text for an SDK error: the API's status, code and message, plus a hint."""
    if isinstance(exc, APIConnectionError):
        return f"{exc.message} (is the Lightfast API running at {base_url}?)"
    text = exc.message.rstrip()
    if isinstance(exc, APIError) and exc.status is not None:
        text = f"{exc.code or 'error'} (HTTP {exc.status}): {text}"
    if isinstance(exc, AuthenticationError | NotFoundError) and not text.endswith((".", "!", "?")):
        text += "."
    if isinstance(exc, AuthenticationError):
        text += " Check the Lightfast API key this MCP server uses (or the one the MCP client sends)."
    elif isinstance(exc, NotFoundError):
        text += " Use a documentId returned by lightfast_search."
    if exc.request_id:
        text += f" [request {exc.request_id}]"
    return text


# -- the server ----------------------------------------------------------------------------------------


def _bearer(headers: Any) -> str | None:
    value = headers.get("authorization") if headers is not None else None
    if not isinstance(value, str):
        return None
    scheme, _, token = value.partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def build_server(
    base_url: str = DEFAULT_BASE_URL,
    api_key: str | None = None,
    *,
    timeout: float = 30.0,
    auth: bool = False,
    log_level: LogLevel = "WARNING",
) -> MCPServer[Any]:
    """The MCP server with the three tools, calling the Lightfast API at ``base_url``.

    ``api_key`` is used when the request carries none (stdio). With ``auth`` (streamable HTTP) every
    HTTP request must present ``Authorization: Bearer <key>``, checked against the API, and the tools
    use that key."""
    base_url = base_url.rstrip("/")
    verifier = ApiKeyVerifier(base_url, timeout=timeout) if auth else None
    server: MCPServer[Any] = MCPServer(
        "lightfast",
        title="Lightfast",
        instructions=INSTRUCTIONS,
        version=__version__,
        token_verifier=verifier,
        # The API issues the keys; without resource_server_url no OAuth metadata is published.
        auth=AuthSettings(issuer_url=base_url, resource_server_url=None) if auth else None,
        log_level=log_level,
    )

    def key_for(ctx: Context[Any, Any]) -> str:
        token = get_access_token()  # the key the HTTP client presented, once checked
        if token is not None:
            key: str | None = token.token
        elif auth:
            key = _bearer(ctx.headers)
        else:
            key = api_key
        if not key:
            raise ToolError(
                "no Lightfast API key: start the server with --api-key (or LIGHTFAST_API_KEY), or send "
                "Authorization: Bearer <key> over HTTP"
            )
        return key

    async def call(ctx: Context[Any, Any], run: Callable[[AsyncLightfast], Awaitable[T]]) -> T:
        try:
            async with AsyncLightfast(key_for(ctx), base_url, timeout=timeout) as client:
                return await run(client)
        except LightfastClientError as exc:
            raise ToolError(describe(exc, base_url)) from exc
        except ValueError as exc:  # an argument the SDK refuses
            raise ToolError(str(exc)) from exc

    @server.tool(name="lightfast_search", title="Search the workspace", annotations=READ_ONLY)
    async def lightfast_search(
        query: Annotated[
            str,
            Field(
                min_length=1,
                max_length=1000,
                description="What to look for, in natural language or keywords, e.g. 'how do we rotate "
                "API keys' or 'retry backoff policy'.",
            ),
        ],
        ctx: Context[Any, Any],
        limit: Annotated[int, Field(ge=1, le=20, description="How many results to return (1-20).")] = 5,
        mode: Annotated[
            Literal["fast", "balanced"],
            Field(
                description="'balanced' (default) fuses semantic and keyword retrieval and suits most "
                "questions; 'fast' is keyword-only, quicker, best for exact names and identifiers."
            ),
        ] = "balanced",
        path_prefix: Annotated[
            str | None,
            Field(max_length=1000, description="Only documents whose path starts with this, e.g. 'docs/'."),
        ] = None,
        rerank: Annotated[
            bool,
            Field(
                description="Reorder the best candidates with the server's reranker for sharper precision "
                "(slower; only when the server has one configured, else the call fails)."
            ),
        ] = False,
        metadata: Annotated[
            dict[str, str | int | float | bool | list[str | int | float | bool]] | None,
            Field(
                max_length=8,
                description="Only documents whose source metadata has these values, e.g. "
                '{"state": "In Progress", "teamKey": "ENG"}; a list takes any of its values.',
            ),
        ] = None,
    ) -> SearchResults:
        """Search the team's indexed documents (docs, code, notes) of this workspace and return the best
        matches, most relevant first, each with its title, path, url, documentId, a snippet (matched
        terms in <mark>) and a relevance score. Use it before answering questions about the project;
        then read promising hits in full with lightfast_contents."""
        response = await call(
            ctx,
            lambda lf: lf.search(
                query, limit=limit, mode=mode, path_prefix=path_prefix, rerank=rerank, metadata=metadata
            ),
        )
        return SearchResults(
            query=query,
            total=response.meta.total,
            results=[
                SearchHit(
                    document_id=hit.document_id or hit.id,
                    title=hit.title,
                    path=hit.source.path,
                    url=hit.url,
                    snippet=hit.snippet,
                    score=round(hit.score, 6),
                )
                for hit in response.data
            ],
        )

    @server.tool(name="lightfast_contents", title="Read documents", annotations=READ_ONLY)
    async def lightfast_contents(
        ids: Annotated[
            list[Annotated[str, Field(min_length=1, max_length=191)]],
            Field(
                min_length=1,
                max_length=20,
                description="1-20 documentIds, as returned by lightfast_search or lightfast_find_similar.",
            ),
        ],
        ctx: Context[Any, Any],
        max_chars: Annotated[
            int,
            Field(
                ge=100,
                le=200_000,
                description="Cut each document's text after this many characters (default 20000).",
            ),
        ] = DEFAULT_MAX_CHARS,
    ) -> ContentsResult:
        """Read the full text of documents by documentId (from lightfast_search or
        lightfast_find_similar), with their title, path and url. Ids that do not exist in this
        workspace are listed in `missing`."""
        response = await call(ctx, lambda lf: lf.contents(ids))
        documents = []
        for doc in response.items:
            url = (doc.model_extra or {}).get("url")
            documents.append(
                DocumentText(
                    document_id=doc.id,
                    title=doc.title,
                    path=doc.path,
                    url=url if isinstance(url, str) else None,
                    text=doc.content[:max_chars],
                    truncated=len(doc.content) > max_chars,
                    length=len(doc.content),
                )
            )
        return ContentsResult(documents=documents, missing=list(response.missing))

    @server.tool(name="lightfast_find_similar", title="Find similar documents", annotations=READ_ONLY)
    async def lightfast_find_similar(
        id: Annotated[
            str,
            Field(
                min_length=1,
                max_length=191,
                description="The documentId to compare with (from lightfast_search).",
            ),
        ],
        ctx: Context[Any, Any],
        limit: Annotated[int, Field(ge=1, le=20, description="How many documents to return (1-20).")] = 5,
        threshold: Annotated[
            float,
            Field(ge=0.0, le=1.0, description="Minimum similarity, 0-1 (default 0: no minimum)."),
        ] = 0.0,
    ) -> SimilarResults:
        """Find the documents of this workspace most similar in meaning to a given document (the
        document itself excluded), most similar first: related docs, duplicates, other parts of the
        same topic."""
        response = await call(ctx, lambda lf: lf.find_similar(id, limit=limit, threshold=threshold))
        return SimilarResults(
            document_id=id,
            results=[
                SimilarHit(
                    document_id=hit.document_id or hit.id,
                    title=hit.title,
                    path=hit.path,
                    url=hit.url,
                    score=round(hit.score, 6),
                )
                for hit in response.data
            ],
        )

    @server.tool(name="lightfast_related", title="Related documents", annotations=READ_ONLY)
    async def lightfast_related(
        id: Annotated[
            str,
            Field(min_length=1, max_length=191, description="The documentId (from lightfast_search)."),
        ],
        ctx: Context[Any, Any],
        direction: Annotated[
            Literal["out", "in", "both"],
            Field(description="out: what it points at; in: what points at it; both (default)."),
        ] = "both",
        kind: Annotated[
            str | None, Field(max_length=16, description="Only edges of this kind, e.g. fixes or deploys.")
        ] = None,
        limit: Annotated[int, Field(ge=1, le=50, description="How many related documents (1-50).")] = 20,
    ) -> RelatedResults:
        """The documents linked to a given one across sources: the pull request that fixes a Linear issue,
        the deployment of a commit, the Sentry issues of a release, the files a commit changed, the tickets
        naming an error. Each with the edge's kind, direction and the words that said so."""
        response = await call(ctx, lambda lf: lf.related(id, direction=direction, kind=kind, limit=limit))
        return RelatedResults(
            document_id=id,
            results=[
                RelatedHit(
                    document_id=item.document.id,
                    title=item.document.title,
                    source_type=item.document.source_type,
                    url=item.document.url,
                    direction=item.direction,
                    kind=item.kind,
                    target=f"{item.target.type}:{item.target.key}",
                    evidence=item.evidence,
                )
                for item in response.items
            ],
            unresolved=[f"{u.target.type}:{u.target.key}" for u in response.unresolved],
        )

    documents.register(server, call, READ_ONLY)
    return server


def http_app(
    base_url: str = DEFAULT_BASE_URL,
    *,
    host: str = "127.0.0.1",
    path: str = DEFAULT_MCP_PATH,
    timeout: float = 30.0,
    log_level: LogLevel = "WARNING",
) -> Starlette:
    """The streamable HTTP app (an ASGI app; its lifespan runs the MCP session manager). Bound to a
    loopback ``host``, it also refuses requests whose Host or Origin is not loopback (DNS rebinding)."""
    server = build_server(base_url, None, timeout=timeout, auth=True, log_level=log_level)
    return server.streamable_http_app(streamable_http_path=path, host=host)


# -- HTTP authentication ---------------------------------------------------------------------------------


class ApiKeyVerifier:
    """The ``TokenVerifier`` of the HTTP transport: a bearer token is accepted when the Lightfast API
    accepts it as an API key (a read-only probe call), remembered for ``KEY_CHECK_TTL`` seconds.

    Only a 401 from the API refuses a key: when the API cannot answer (down, rate limited) the key is let
    through unverified, so the tools report the actual problem instead of a misleading 401."""

    def __init__(self, base_url: str, *, timeout: float = 30.0, ttl: float = KEY_CHECK_TTL) -> None:
        self.base_url = base_url
        self.timeout = timeout
        self.ttl = ttl
        self._valid_until: dict[str, float] = {}

    async def verify_token(self, token: str) -> AccessToken | None:
        digest = hashlib.sha256(token.encode("utf-8")).hexdigest()
        access = AccessToken(token=token, client_id=f"lightfast-key-{digest[:24]}", scopes=[])
        now = time.monotonic()
        if self._valid_until.get(digest, 0.0) > now:
            return access
        try:
            async with AsyncLightfast(token, self.base_url, timeout=self.timeout, max_retries=0) as client:
                await client.contents([_PROBE_ID])
        except AuthenticationError:
            self._valid_until.pop(digest, None)
            return None
        except LightfastClientError as exc:
            log.warning("could not check an API key with the Lightfast API: %s", exc)
            return access
        except ValueError:  # not a usable header value
            return None
        if len(self._valid_until) >= _KEY_CACHE_SIZE:
            self._valid_until = {k: t for k, t in self._valid_until.items() if t > now}
            if len(self._valid_until) >= _KEY_CACHE_SIZE:
                self._valid_until.clear()
        self._valid_until[digest] = now + self.ttl
        return access
