"""What a verified GitHub App delivery does: push -> sync job, installation and repository changes ->
source state, everything recorded once as an ingestion event keyed by its delivery id.

Nothing twice: a delivery already recorded is answered as a duplicate before anything runs; the jobs a
delivery enqueues carry idempotency keys derived from its delivery id, so a delivery whose handling was
interrupted before its event row was written does the same work, once, when GitHub redelivers it.

A disconnect is final: a source being disconnected is invisible to every handler, so an event about it
(an unsuspend, a push, a rename) is recorded and changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from lightfast.app.jobs import JobService
from lightfast.app.relationships import RelationshipService
from lightfast.db import activities
from lightfast.db import documents as docs_repo
from lightfast.db import events as events_repo
from lightfast.db import jobs as jobs_repo
from lightfast.db import sources as sources_repo
from lightfast.db.models import ConnectedSource
from lightfast.db.statuses import EventStatus, JobTrigger
from lightfast.db.types import utcnow
from lightfast.errors import Conflict
from lightfast.sources.github.source import SOURCE_TYPE
from lightfast.sources.github.webhooks import (
    classify_push,
    parse_installation,
    parse_push,
    parse_repository,
)

# GitHub puts at most 20 commits in a push payload; a longer push is diffed from the last indexed commit.
PAYLOAD_COMMIT_LIMIT = 20


@dataclass
class Outcome:
    """How a delivery was handled: ``accepted`` (202) when it queued work or is not an event we act on,
    else 200."""

    event: str
    delivery: str
    result: str
    jobs: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    duplicate: bool = False

    @property
    def status_code(self) -> int:
        if self.duplicate:
            return 200
        return 202 if self.jobs or self.result == "unhandled" else 200

    def to_dict(self) -> dict[str, Any]:
        return {
            "event": self.event,
            "delivery": self.delivery,
            "result": self.result,
            "duplicate": self.duplicate,
            "jobs": self.jobs,
            "sources": self.sources,
        }


class GitHubWebhooks:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        jobs: JobService,
        relationships: RelationshipService | None = None,
    ) -> None:
        self.sessions = sessions
        self.jobs = jobs
        # A push's commits and their changed paths: what links a commit key to files (issue 14).
        self.relationships = relationships or RelationshipService(sessions)
        self._handlers: dict[str, Callable[[str, str, dict[str, Any]], Outcome]] = {
            "ping": self._ping,
            "push": self._push,
            "installation": self._installation,
            "installation_repositories": self._installation_repositories,
            "repository": self._repository,
        }

    def receive(self, event: str, delivery: str, payload: dict[str, Any]) -> Outcome:
        """Handle one verified delivery. Malformed payloads raise InvalidInput (-> 400) and record
        nothing, so a fixed redelivery is still handled."""
        with self.sessions() as session:
            seen = events_repo.event_recorded(session, SOURCE_TYPE, delivery)
        if seen:
            duplicate = Outcome(event, delivery, "duplicate", duplicate=True)
            with self.sessions.begin() as session:
                duplicate.sources = events_repo.recorded_sources(session, SOURCE_TYPE, delivery)
                self._delivery_activities(session, duplicate, payload)
            return duplicate
        handler = self._handlers.get(event)
        outcome = handler(event, delivery, payload) if handler else Outcome(event, delivery, "unhandled")
        try:
            with self.sessions.begin() as session:
                events_repo.record_event(
                    session,
                    source_type=SOURCE_TYPE,
                    event_key=delivery,
                    event_type=(
                        f"{event}.{payload['action']}" if isinstance(payload.get("action"), str) else event
                    )[:64],
                    metadata={**outcome.to_dict(), **_details(event, delivery, payload)},
                    origin="webhook",
                    # pending until the jobs it queued end (db.jobs.settle_events), then as they did
                    status=EventStatus.IGNORED
                    if outcome.result in ("ignored", "unhandled")
                    else jobs_repo.event_status(session, outcome.jobs),
                )
                self._delivery_activities(session, outcome, payload)
        except IntegrityError:  # the same delivery handled concurrently: its jobs were keyed the same
            return Outcome(event, delivery, "duplicate", outcome.jobs, duplicate=True)
        return outcome

    def _delivery_activities(self, session: Session, outcome: Outcome, payload: dict[str, Any]) -> None:
        """Each workspace a verified delivery concerned sees it on its timeline with its outcome. A
        delivery refused at the signature is not: GitHub's one endpoint cannot tell whose it was without
        trusting the unverified body, which would let anyone write into any timeline (it is logged, and
        counted in /metrics as ``lightfast_http_request_duration_seconds{route="/webhooks/github",
        status="401"}``)."""
        sender = _sender(payload)
        action = payload.get("action")
        event = f"{outcome.event}.{action}" if isinstance(action, str) else outcome.event
        for source_id in outcome.sources:
            source = sources_repo.find_source(session, source_id)
            if source is None or source.workspace_id is None:
                continue
            activities.record_activity(
                session,
                workspace_id=source.workspace_id,
                actor_type="webhook",
                actor_id=sender,
                category="webhook",
                action="webhook.delivery",
                entity_type="source",
                entity_id=source.id,
                details={
                    "type": SOURCE_TYPE,
                    "event": event[:64],
                    "result": outcome.result,
                    "deliveryId": outcome.delivery,
                    "jobs": outcome.jobs,
                    "name": source.display_name,
                },
            )

    # -- handlers ----------------------------------------------------------------------------------

    def _ping(self, event: str, delivery: str, payload: dict[str, Any]) -> Outcome:
        return Outcome(event, delivery, "pong")

    def _push(self, event: str, delivery: str, payload: dict[str, Any]) -> Outcome:
        push = parse_push(payload)
        outcome = Outcome(event, delivery, "ignored")
        for source in self._connections(repo_id=push.repository_id):
            outcome.sources.append(source.id)
            branch = (source.source_metadata or {}).get("defaultBranch")
            decision = classify_push(payload, default_branch=branch)
            if decision != "sync" or not source.is_active or source.workspace_id is None:
                continue
            self.relationships.record_push(source.workspace_id, push.full_name, payload)
            commits = payload.get("commits") or []
            if push.touches_config:
                mode, changes = "full", None  # re-detect the config and apply it to every file
            elif payload.get("forced") or len(commits) >= PAYLOAD_COMMIT_LIMIT:
                mode, changes = "incremental", None  # the payload may not list everything: diff trees
            else:
                mode, changes = "incremental", push.changes
            try:
                enqueued = self.jobs.enqueue_sync(
                    source.workspace_id,
                    source.id,
                    mode=mode,
                    changes=changes,
                    revision=push.after,
                    base=push.before if changes is not None else None,
                    trigger=JobTrigger.WEBHOOK,
                    triggered_by=f"github:{delivery}",
                    # Seed 001 dedupes pushes by (store, after sha) as well as by delivery id: the same
                    # push redelivered under a new id is one job. The before sha is part of the key so
                    # a later force push back to an earlier commit is a new push, and is synced.
                    idempotency_key=f"github:push:{source.id}:{push.before}..{push.after}",
                    name=f"Push to {push.full_name}"
                    + (" (lightfast.yml changed)" if push.touches_config else ""),
                )
            except Conflict:  # deactivated since it was read
                continue
            outcome.jobs.append(enqueued.job_id)
            outcome.result = "sync_enqueued"
        return outcome

    def _installation(self, event: str, delivery: str, payload: dict[str, Any]) -> Outcome:
        parsed = parse_installation(event, payload)
        sources = self._connections(installation_id=parsed.installation_id)
        outcome = Outcome(event, delivery, "recorded", sources=[s.id for s in sources])
        if parsed.action == "deleted":
            outcome.result = "disconnected"
            outcome.jobs = self._disconnect(sources, delivery, "the GitHub App was uninstalled")
        elif parsed.action in ("suspend", "unsuspend"):
            active = parsed.action == "unsuspend"
            with self.sessions.begin() as session:
                sources_repo.set_active(session, [s.id for s in sources], active)
            outcome.result = ("activated" if active else "deactivated") if sources else "ignored"
        return outcome

    def _installation_repositories(self, event: str, delivery: str, payload: dict[str, Any]) -> Outcome:
        parsed = parse_installation(event, payload)
        outcome = Outcome(event, delivery, "recorded")
        if parsed.action == "removed":
            removed = {repo_id for repo_id, _ in parsed.repositories}
            sources = [
                s
                for s in self._connections(installation_id=parsed.installation_id)
                if int((s.source_metadata or {}).get("githubRepoId", 0)) in removed
            ]
            outcome.sources = [s.id for s in sources]
            outcome.jobs = self._disconnect(sources, delivery, "the repository was removed from the App")
            outcome.result = "disconnected"
        return outcome

    def _repository(self, event: str, delivery: str, payload: dict[str, Any]) -> Outcome:
        parsed = parse_repository(payload)
        sources = self._connections(repo_id=parsed.repository_id)
        outcome = Outcome(event, delivery, "recorded", sources=[s.id for s in sources])
        if parsed.action == "deleted":
            outcome.jobs = self._disconnect(sources, delivery, "the repository was deleted")
            outcome.result = "disconnected"
        elif parsed.action in ("renamed", "transferred"):
            self._follow_rename(sources, payload)
            outcome.result = "renamed"
        elif parsed.action in ("privatized", "publicized"):
            self._update_metadata(sources, {"private": parsed.action == "privatized"})
        elif parsed.action == "edited" and "default_branch" in (payload.get("changes") or {}):
            # Another branch is what gets indexed now: re-read everything from its head.
            branch = str(payload["repository"]["default_branch"])
            self._update_metadata(sources, {"defaultBranch": branch})
            outcome.jobs = self._full_sync(
                sources, delivery, f"Default branch of {parsed.full_name} is {branch}"
            )
            outcome.result = "default_branch_changed"
        return outcome

    # -- effects -----------------------------------------------------------------------------------

    def _connections(
        self, *, repo_id: int | None = None, installation_id: int | None = None
    ) -> list[ConnectedSource]:
        """The sources an event is about, except those being disconnected."""
        with self.sessions() as session:
            if repo_id is not None:
                found = sources_repo.sources_by_external_key(session, SOURCE_TYPE, str(repo_id))
            else:
                found = sources_repo.sources_by_metadata(
                    session, SOURCE_TYPE, "githubInstallationId", str(installation_id)
                )
        return [source for source in found if source.disconnected_at is None]

    def _full_sync(self, sources: list[ConnectedSource], delivery: str, name: str) -> list[str]:
        jobs = []
        for source in sources:
            if source.workspace_id is None or not source.is_active:
                continue
            enqueued = self.jobs.enqueue_sync(
                source.workspace_id,
                source.id,
                mode="full",
                trigger=JobTrigger.WEBHOOK,
                triggered_by=f"github:{delivery}",
                idempotency_key=f"github:{delivery}:{source.id}",
                name=name,
            )
            jobs.append(enqueued.job_id)
        return jobs

    def _disconnect(self, sources: list[ConnectedSource], delivery: str, reason: str) -> list[str]:
        jobs = []
        for source in sources:
            if source.workspace_id is None:
                continue
            with self.sessions.begin() as session:
                row = sources_repo.find_source(session, source.id)
                if row is None:  # disconnected meanwhile
                    continue
                sources_repo.mark_disconnecting(session, row, at=utcnow())
            enqueued = self.jobs.enqueue_disconnect(
                source.workspace_id,
                source.id,
                trigger=JobTrigger.WEBHOOK,
                triggered_by=f"github:{delivery}",
                reason=reason,
            )
            jobs.append(enqueued.job_id)
        return jobs

    def _follow_rename(self, sources: list[ConnectedSource], payload: dict[str, Any]) -> None:
        """The stored name, owner and links follow the repository; documents keep their ids (keyed by
        the repository id), so nothing is re-embedded."""
        repository = payload["repository"]
        full_name = str(repository["full_name"])
        html_url = str(repository.get("html_url") or f"https://github.com/{full_name}")
        with self.sessions.begin() as session:
            for stale in sources:
                source = sources_repo.find_source(session, stale.id)
                if source is None:
                    continue
                old_url = str((source.source_metadata or {}).get("htmlUrl") or "")
                source.display_name = full_name
                source.source_metadata = {
                    **(source.source_metadata or {}),
                    "repoFullName": full_name,
                    "owner": str(repository["owner"]["login"]),
                    "name": str(repository["name"]),
                    "htmlUrl": html_url,
                }
                if old_url and old_url != html_url:
                    _rewrite_links(session, source.id, old_url, html_url, full_name)
                if source.workspace_id is None:
                    continue
                activities.record_activity(
                    session,
                    workspace_id=source.workspace_id,
                    actor_type="webhook",
                    actor_id=_sender(payload),
                    category="source",
                    action="source.renamed",
                    entity_type="source",
                    entity_id=source.id,
                    details={"from": old_url, "to": html_url},
                )

    def _update_metadata(self, sources: list[ConnectedSource], values: dict[str, Any]) -> None:
        with self.sessions.begin() as session:
            for stale in sources:
                source = sources_repo.find_source(session, stale.id)
                if source is not None:
                    source.source_metadata = {**(source.source_metadata or {}), **values}


def _rewrite_links(session: Session, source_id: str, old_url: str, new_url: str, full_name: str) -> None:
    for document in docs_repo.connection_document_rows(session, source_id):
        if document.url and document.url.startswith(old_url + "/"):
            document.url = new_url + document.url[len(old_url) :]
        document.source_metadata = {**(document.source_metadata or {}), "repoFullName": full_name}


def _sender(payload: dict[str, Any]) -> str | None:
    """The GitHub login that caused a delivery (``sender.login``), bounded; None when absent."""
    sender = payload.get("sender")
    login = sender.get("login") if isinstance(sender, dict) else None
    return f"github:{login[:100]}" if isinstance(login, str) and login else None


def _details(event: str, delivery: str, payload: dict[str, Any]) -> dict[str, Any]:
    """What the ingestion event keeps of a delivery (for a push, seed 004's GitHubEventMetadata)."""
    repository = payload.get("repository")
    details: dict[str, Any] = {
        "type": SOURCE_TYPE,
        "deliveryId": delivery,
        "repository": str(repository.get("full_name")) if isinstance(repository, dict) else None,
    }
    if event == "push":
        pusher = payload.get("pusher")
        details |= {
            "action": "push",
            "beforeSha": payload.get("before"),
            "afterSha": payload.get("after"),
            "ref": payload.get("ref"),
            "pusher": pusher.get("name") if isinstance(pusher, dict) else None,
        }
    return details
