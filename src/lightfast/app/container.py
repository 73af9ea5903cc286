"""Wiring: builds the services every shell (CLI, API, workers) uses from one Settings object. It only
composes: what a service does lives in that service."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from lightfast.app.activity_log import ActivityLog
from lightfast.app.clock import Clock, SystemClock
from lightfast.app.disconnect import DisconnectRunner
from lightfast.app.embedding_switch import EmbeddingSwitches
from lightfast.app.github_webhooks import GitHubWebhooks
from lightfast.app.idempotency import IdempotencyService
from lightfast.app.index_maintenance import IndexMaintenance
from lightfast.app.ingest import IngestService
from lightfast.app.insights import InsightService
from lightfast.app.jobs import JobService
from lightfast.app.keys import ApiKeyService
from lightfast.app.live import LiveFeed
from lightfast.app.memberships import MembershipService
from lightfast.app.notifications import NotificationService, insight_health
from lightfast.app.organizations import OrganizationService
from lightfast.app.pipeline import Pipeline
from lightfast.app.relationships import RelationshipService
from lightfast.app.search import DocumentService, SearchService
from lightfast.app.search_pool import SearchPool
from lightfast.app.sources import SourceService
from lightfast.app.sync import SyncRunner
from lightfast.app.usage import UsageService
from lightfast.app.users import UserService
from lightfast.app.vendors import Vendors, build_vendors
from lightfast.app.workspaces import WorkspaceService
from lightfast.db.engine import make_engine, make_session_factory, migrate
from lightfast.embed import Embedder, Tokenizer, make_embedder, make_tokenizer
from lightfast.embed.http import ProviderUsage
from lightfast.embed.registry import EmbedderPool
from lightfast.index import SearchIndex, make_index
from lightfast.rerank import make_rerank_stage
from lightfast.settings import Settings
from lightfast.sources.registry import SourceOpener


@dataclass
class Services:
    settings: Settings
    clock: Clock
    engine: Engine
    sessions: sessionmaker[Session]
    embedder: Embedder
    tokenizer: Tokenizer
    index: SearchIndex
    pipeline: Pipeline
    runner: SyncRunner
    disconnects: DisconnectRunner
    opener: SourceOpener
    ingest: IngestService
    jobs: JobService
    sources: SourceService
    organizations: OrganizationService
    documents: DocumentService
    workspaces: WorkspaceService
    api_keys: ApiKeyService
    search: SearchService
    index_maintenance: IndexMaintenance  # lightfast index verify|rebuild
    github_webhooks: GitHubWebhooks
    idempotency: IdempotencyService
    usage: UsageService
    activity: ActivityLog
    live: LiveFeed  # job progress and activities as events (the console, GET /v1/events)
    insights: InsightService
    notifications: NotificationService  # outgoing webhooks: job failures, health changes
    users: UserService  # console users, memberships, sessions, invitations
    memberships: MembershipService  # a user's organizations; revoking invitations
    vendors: Vendors  # Linear and Notion: credentials, connections, webhooks
    provider_usage: ProviderUsage  # requests and tokens of hosted model providers, for /metrics
    relationships: RelationshipService  # the graph between documents of every source (issue 14)
    embedders: EmbedderPool  # each store's own embedding model (issue 15); ``embedder`` is the default
    embedding_switches: EmbeddingSwitches  # a store's switch to another model, without downtime

    def close(self) -> None:
        self.search.close()
        if self.search.reranker is not None:
            self.search.reranker.close()
        self.embedder.close()
        self.embedders.close()
        self.live.close()
        self.notifications.close()
        self.jobs.close()
        self.opener.close()
        self.engine.dispose()


def build_services(
    settings: Settings,
    *,
    embedder: Embedder | None = None,
    tokenizer: Tokenizer | None = None,
    engine: Engine | None = None,
    opener: SourceOpener | None = None,
    clock: Clock | None = None,
) -> Services:
    settings.home_dir.mkdir(parents=True, exist_ok=True)  # the jobs database and worker lock live here
    clock = clock or SystemClock()
    engine = engine or make_engine(settings.resolved_database_url)
    migrate(engine)
    sessions = make_session_factory(engine)
    provider_usage = ProviderUsage()
    embedder = embedder or make_embedder(settings, provider_usage)
    embedders = EmbedderPool(settings, embedder, usage=provider_usage)
    tokenizer = tokenizer or make_tokenizer(settings)
    index = make_index(engine, settings.home_dir / "index" / "vectors")
    pipeline = Pipeline(
        sessions,
        embedder,
        tokenizer,
        max_file_bytes=settings.max_file_bytes,
        batch_documents=settings.ingest_batch_documents,
        embedders=embedders,
    )
    opener = opener or SourceOpener(settings)
    runner = SyncRunner(settings, sessions, pipeline, opener)
    jobs = JobService(settings, sessions, clock)
    sources = SourceService(settings, sessions, opener, jobs)
    relationships = RelationshipService(sessions)
    return Services(
        settings=settings,
        clock=clock,
        engine=engine,
        sessions=sessions,
        embedder=embedder,
        tokenizer=tokenizer,
        index=index,
        pipeline=pipeline,
        runner=runner,
        disconnects=DisconnectRunner(sessions),
        opener=opener,
        ingest=IngestService(settings, sessions, runner),
        jobs=jobs,
        sources=sources,
        organizations=OrganizationService(settings, sessions, sources),
        documents=DocumentService(sessions, index),
        workspaces=WorkspaceService(settings, sessions, embedder.spec, jobs),
        api_keys=ApiKeyService(sessions),
        search=SearchService(
            sessions,
            embedder,
            index,
            reranker=make_rerank_stage(settings, provider_usage),
            embedders=embedders,
        ),
        index_maintenance=IndexMaintenance(engine, sessions, index),
        github_webhooks=GitHubWebhooks(sessions, jobs, relationships),
        idempotency=IdempotencyService(sessions),
        usage=UsageService(sessions),
        activity=ActivityLog(sessions),
        live=LiveFeed(sessions, clock),
        insights=InsightService(sessions, clock),
        notifications=NotificationService(
            settings, sessions, clock, health=insight_health(InsightService(sessions, clock))
        ),
        users=UserService(settings, sessions, clock),
        memberships=MembershipService(sessions, clock, settings.default_workspace),
        vendors=build_vendors(settings, sessions, jobs, opener, clock),
        provider_usage=provider_usage,
        relationships=relationships,
        embedders=embedders,
        embedding_switches=EmbeddingSwitches(settings, sessions, embedders),
    )


def start_search_processes(services: Services, wait: bool = False) -> SearchPool | None:
    """Start the worker processes that answer ``services``' searches, if the settings ask for any
    (``LIGHTFAST_SEARCH_PROCESSES``): ``lightfast serve`` does, not the one-shot commands, which would
    spawn processes that load every store for one search. ``wait``: return once they are ready."""
    count = services.settings.search_processes
    if not count or services.search.pool is not None:
        return services.search.pool
    pool = SearchPool(services.settings, count, services.provider_usage)
    services.search.pool = pool
    pool.start(wait)
    return pool
