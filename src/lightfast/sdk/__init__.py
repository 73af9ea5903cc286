"""The Python SDK of the Lightfast HTTP API v1.

Imports only httpx, pydantic and the standard library (never the server)::

    from lightfast.sdk import Lightfast, NotFoundError

    with Lightfast("lf_key", base_url="http://127.0.0.1:8000") as lf:
        hits = lf.search("how do we rotate keys", limit=5, include_highlights=True)
        for hit in hits.data:
            print(f"{hit.score:.3f} {hit.title} {hit.source.path}")
"""

from lightfast.sdk._base import DEFAULT_BASE_URL, USER_AGENT
from lightfast.sdk._events import Event
from lightfast.sdk.async_client import AsyncJobs, AsyncLightfast, AsyncSources
from lightfast.sdk.client import Jobs, Lightfast, Sources
from lightfast.sdk.errors import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    JobWaitTimeoutError,
    LightfastClientError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
)
from lightfast.sdk.models import (
    Activity,
    ActivityPage,
    ConnectedSource,
    ContentsResponse,
    DetectConfigResult,
    Document,
    Job,
    JobDetail,
    JobFailure,
    JobPage,
    JobPercentiles,
    JobProgress,
    JobStatistics,
    JobStep,
    LightfastModel,
    NotificationTarget,
    SearchLatency,
    SearchMeta,
    SearchMode,
    SearchRerank,
    SearchResponse,
    SearchResult,
    SearchSource,
    SimilarDocument,
    SimilarResponse,
    Source,
    TimeSeries,
    WorkspaceHealth,
    WorkspaceStatistics,
)

__all__ = [
    "DEFAULT_BASE_URL",
    "USER_AGENT",
    "APIConnectionError",
    "APIError",
    "APIResponseValidationError",
    "APITimeoutError",
    "Activity",
    "ActivityPage",
    "AsyncJobs",
    "AsyncLightfast",
    "AsyncSources",
    "AuthenticationError",
    "BadRequestError",
    "ConflictError",
    "ConnectedSource",
    "ContentsResponse",
    "DetectConfigResult",
    "Document",
    "Event",
    "Job",
    "JobDetail",
    "JobFailure",
    "JobPage",
    "JobPercentiles",
    "JobProgress",
    "JobStatistics",
    "JobStep",
    "JobWaitTimeoutError",
    "Jobs",
    "Lightfast",
    "LightfastClientError",
    "LightfastModel",
    "NotFoundError",
    "NotificationTarget",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "RateLimitError",
    "SearchLatency",
    "SearchMeta",
    "SearchMode",
    "SearchRerank",
    "SearchResponse",
    "SearchResult",
    "SearchSource",
    "ServerError",
    "SimilarDocument",
    "SimilarResponse",
    "Source",
    "Sources",
    "TimeSeries",
    "WorkspaceHealth",
    "WorkspaceStatistics",
]
