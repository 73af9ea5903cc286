"""Vercel connections: deployment snapshots, the backfill and reconciliation through the REST API, and
the source the sync opens.

Snapshots (``vendor_entities``): ``deployment:dpl_x`` holds ``{"deployment": fields, "errors": the build
log's error lines or None}``. A version is the time Vercel said a state (a delivery's ``createdAt``) or
the time a listing read it, so an older delivery arriving late changes nothing. A deployment's state
only moves forward (QUEUED/BUILDING to READY, ERROR or CANCELED, and never back): a final state is never
replaced by an earlier one, and replaces an earlier one even when its delivery's clock is behind the
listing that read the earlier one.

The backfill lists each project's newest ``vercel_max_deployments`` deployments (``until`` cursors);
each page's snapshots and the cursor after it are written in one transaction, so a crash resumes at the
next page (lightfast.app.linear_backfill's checkpoint). Then whatever the listing did not see is marked
deleted: deployments removed upstream, and those older than the bound (the index stays bounded too)."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import httpx
from sqlalchemy.orm import Session, sessionmaker

from lightfast.app.credentials import TOKEN, CredentialService
from lightfast.app.linear_backfill import finish_listing, load_checkpoint, save_checkpoint
from lightfast.app.vendor_snapshots import DatabaseSnapshots
from lightfast.app.vendor_sources import VendorKind, VendorOption
from lightfast.db import vendor_entities as entities_repo
from lightfast.db.models import ConnectedSource
from lightfast.db.types import utcnow
from lightfast.errors import InvalidInput, UpstreamError
from lightfast.settings import Settings
from lightfast.sources.base import Source
from lightfast.sources.snapshots import Backfill, Rendered, Snapshot, SnapshotSource, canonical_version
from lightfast.sources.vercel import documents as docs
from lightfast.sources.vercel.client import Page, VercelClient
from lightfast.sources.vercel.metadata import VercelSourceMetadata
from lightfast.sources.vercel.webhooks import FINAL_STATES, TEAM_ID, deployment_fields, error_lines

log = logging.getLogger("lightfast.vercel")
MAX_PROJECTS = 50
MAX_LOG_LINE = 500
QUICK_TIMEOUT = httpx.Timeout(4.0, connect=2.0)
# A project id (prj_...) or name (Vercel: lower-case letters, digits, '.', '_', '-', at most 100).
PROJECT = re.compile(r"^(?:prj_[A-Za-z0-9]{1,60}|[a-z0-9][a-z0-9._-]{0,99})$")
_SPLIT = re.compile(r"[,\s]+")
# One project, then more after commas or spaces (each separator run before a project: no backtracking).
_ONE = r"(?:prj_[A-Za-z0-9]{1,60}|[a-z0-9][a-z0-9._-]{0,99})"
_PROJECT_LIST = rf"{_ONE}(?:[,\s]+{_ONE})*"


def connection_metadata(
    name: str, mode: str, token_env: str | None, options: Mapping[str, str]
) -> dict[str, Any]:
    """A Vercel connection's typed metadata from its options: ``projects`` (required: project ids or
    names, comma-separated) and ``team`` (the team id, for a team's projects)."""
    del name
    projects = [p for p in _SPLIT.split((options.get("projects") or "").strip()) if p]
    if not projects or len(projects) > MAX_PROJECTS or any(not PROJECT.fullmatch(p) for p in projects):
        raise InvalidInput(
            f"projects must be 1 to {MAX_PROJECTS} Vercel project ids (prj_...) or names (lower-case "
            "letters, digits, '.', '_' or '-'), comma-separated",
            field="projects",
        )
    team = (options.get("team") or "").strip() or None
    if team is not None and not TEAM_ID.fullmatch(team):
        raise InvalidInput("team must be a Vercel team id (team_...)", field="team")
    return VercelSourceMetadata(
        vercel_projects=sorted(set(projects)),
        vercel_team_id=team,
        mode="api" if mode == "api" else "webhook-only",
        token_env=token_env,
    ).wire()


# The webhook's secret is Vercel's (shown when the webhook is created), so it is given, never generated.
VERCEL = VendorKind(
    "vercel",
    "Vercel",
    connection_metadata,
    options=(
        VendorOption(
            "projects",
            "Vercel projects",
            required=True,
            pattern=_PROJECT_LIST,
            help="project ids (prj_...) or names separated by commas",
            max_length=MAX_PROJECTS * 101,
        ),
        VendorOption(
            "team",
            "Vercel team id",
            pattern=TEAM_ID.pattern,
            help="team_... (Team Settings > General > Team ID); empty for a personal account's projects",
            max_length=70,
        ),
    ),
)


# vendor_entities.version is String(40); a canonical version is 27 characters.
MAX_VERSION = 40


def _after(version: str) -> str:
    """A version that sorts just after ``version`` (a ``+`` suffix), for a state that must win a tie;
    at the column's length the tie goes to the state stored (it cannot grow without bound)."""
    return version + "+" if len(version) < MAX_VERSION else version


def projects_of(connection: ConnectedSource) -> list[str]:
    found = (connection.source_metadata or {}).get("vercelProjects")
    return [str(p) for p in found] if isinstance(found, list) else []


def team_of(connection: ConnectedSource) -> str | None:
    found = (connection.source_metadata or {}).get("vercelTeamId")
    return str(found) if isinstance(found, str) and TEAM_ID.fullmatch(found) else None


def wanted(connection: ConnectedSource, project_id: str | None, project_name: str | None) -> bool:
    """Whether a delivery is about one of the connection's projects (named by id or by name)."""
    projects = set(projects_of(connection))
    return bool(projects & {project_id, project_name} - {None})


@dataclass(frozen=True)
class Applied:
    """What storing a snapshot did: ``applied`` (``changes`` for the index), ``unchanged`` (a newer
    reading of the same state) or ``stale`` (a newer state is stored)."""

    state: Literal["applied", "unchanged", "stale"]
    changes: dict[str, str]


class VercelSources:
    def __init__(
        self,
        settings: Settings,
        sessions: sessionmaker[Session],
        credentials: CredentialService,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] | None = None,
        page_size: int = 100,
    ) -> None:
        self.settings, self.sessions, self.credentials = settings, sessions, credentials
        self.transport, self.sleep, self.page_size = transport, sleep, page_size

    def client(self, connection: ConnectedSource, *, quick: bool = False) -> VercelClient | None:
        """A client for a connection with a token; None for a webhook-only one. ``quick``: for a webhook
        being answered (short timeouts, one retry, no long rate-limit wait)."""
        token = self.credentials.read(connection.id, TOKEN)
        if token is None:
            return None
        extra: dict[str, Any] = {"sleep": self.sleep} if self.sleep is not None else {}
        if quick:
            extra |= {"max_retries": 1, "max_wait": 2.0, "timeout": QUICK_TIMEOUT}
        return VercelClient(
            self.settings.vercel_base_url,
            token,
            team_id=team_of(connection),
            transport=self.transport,
            page_size=self.page_size,
            **extra,
        )

    def error_lines(self, client: VercelClient, deployment_id: str) -> list[str]:
        """A failed build's error lines, bounded by the settings."""
        limit = self.settings.vercel_max_error_lines
        return error_lines(client.events(deployment_id), limit, MAX_LOG_LINE) if limit else []

    # -- snapshots -----------------------------------------------------------------------------------

    def apply_deployment(
        self,
        session: Session,
        source_id: str,
        deployment: dict[str, Any],
        *,
        version: str,
        errors: list[str] | None = None,
    ) -> Applied:
        """Store a state of a deployment (``deployment``: deployment_fields, merged over the stored ones;
        ``errors``: its build log's error lines when they were read, else the stored ones stay)."""
        entity = docs.entity_id(str(deployment["id"]))
        stored = entities_repo.find_entity(session, source_id, entity)
        before = dict(stored.payload or {}) if stored is not None and not stored.deleted else {}
        old = dict(before.get("deployment") or {})
        old_state, new_state = old.get("state"), deployment.get("state", old.get("state"))
        if old_state in FINAL_STATES and new_state not in FINAL_STATES:
            return Applied("stale", {})  # a late word of an earlier state
        fields = {**old, **deployment}
        kept = errors if errors is not None else before.get("errors")
        payload = {"deployment": fields, "errors": kept if new_state == "ERROR" else None}
        same = stored is not None and not stored.deleted and before == payload
        if stored is not None and not same:
            if new_state in FINAL_STATES and old_state not in FINAL_STATES and version <= stored.version:
                version = _after(stored.version)  # a suffix sorts after its prefix: the final state wins
            elif stored.version.rstrip("+") == version:
                version = _after(stored.version)  # two words in one millisecond: the later arrival wins
        state = entities_repo.apply_snapshot(
            session,
            source_id=source_id,
            entity_id=entity,
            kind="deployment",
            version=version,
            payload=payload,
            deleted=False,
        )
        if state == "stale":
            return Applied("stale", {})
        if same:
            return Applied("unchanged", {})
        return Applied("applied", {docs.path_for("deployment", entity): "upsert"})

    def remove_project(
        self, session: Session, source_id: str, project_id: str | None, name: str | None, version: str
    ) -> dict[str, str]:
        """A removed project's deployments are gone with it: their documents go."""
        changes: dict[str, str] = {}
        live = [e for kind, e in entities_repo.live_entities(session, source_id) if kind == "deployment"]
        for row in entities_repo.live_snapshots(session, source_id, live):
            fields = (row.payload or {}).get("deployment") or {}
            if (project_id and fields.get("project_id") == project_id) or (
                project_id is None and name and fields.get("name") == name
            ):
                entities_repo.apply_snapshot(
                    session,
                    source_id=source_id,
                    entity_id=row.entity_id,
                    kind="deployment",
                    version=max(version, _after(row.version)),
                    payload=dict(row.payload or {}),
                    deleted=True,
                )
                changes[docs.path_for("deployment", row.entity_id)] = "remove"
        return changes

    # -- the backfill --------------------------------------------------------------------------------

    def for_connection(self, connection: ConnectedSource) -> Backfill | None:
        if self.credentials.read(connection.id, TOKEN) is None:
            return None

        def backfill(should_stop: Callable[[], bool]) -> None:
            self.run(connection, should_stop)

        return backfill

    def run(
        self, connection: ConnectedSource, should_stop: Callable[[], bool] = lambda: False
    ) -> dict[str, int]:
        """List each project's newest deployments, resuming from the checkpoint; returns counts
        (``changed``, ``deleted``). On a cancel it stops between pages, the checkpoint kept."""
        client = self.client(connection)
        if client is None:
            return {"changed": 0, "deleted": 0}
        source_id, bound = connection.id, self.settings.vercel_max_deployments
        checkpoint = load_checkpoint(self.sessions, source_id)
        changed = int(checkpoint.get("changed", 0))
        listed_before = "lastReconciliation" in (connection.source_metadata or {})
        try:
            for project in projects_of(connection):
                if project in checkpoint["done"]:
                    continue
                # The cursor: "<until>:<deployments listed so far>" (the bound counts across a resume).
                until_text, _, listed_text = str(checkpoint["cursors"].get(project) or ":0").partition(":")
                until, listed = (int(until_text) if until_text else None), int(listed_text or 0)
                while True:
                    if should_stop():
                        return {"changed": changed, "deleted": 0}
                    try:
                        page = client.deployments_page(project, until, bound - listed)
                    except UpstreamError as exc:
                        if exc.status != 404 or until is not None or not listed_before:
                            raise  # a first listing: a wrong name or a missing team id, said at once
                        # The project is gone since a listing found it (removed upstream while no
                        # project.removed came): list it as empty, so its deployments go with this
                        # reconciliation and the other projects are still listed. Said in the log.
                        log.warning("vercel %s: project %r not found; listed as empty", source_id, project)
                        page = Page([], None)
                    records = [f for f in (deployment_fields(r) for r in page.items[: bound - listed]) if f]
                    errors = self._errors(client, source_id, records)
                    listed += len(records)
                    finished = page.until is None or listed >= bound
                    with self.sessions.begin() as session:
                        changed += self._page(session, source_id, records, errors)
                        checkpoint["cursors"][project] = f"{page.until or ''}:{listed}"
                        checkpoint["changed"] = changed
                        if finished:
                            checkpoint["done"].append(project)
                        save_checkpoint(session, source_id, checkpoint)
                    if finished:
                        break
                    until = page.until
        finally:
            client.close()
        deleted = finish_listing(self.sessions, source_id, checkpoint, docs.KINDS, client.requests)
        log.info("vercel %s: listing changed %d and deleted %d deployments", source_id, changed, deleted)
        return {"changed": changed, "deleted": deleted}

    def _errors(
        self, client: VercelClient, source_id: str, records: list[dict[str, Any]]
    ) -> dict[str, tuple[dict[str, Any] | None, list[str]]]:
        """For the failed deployments not read as failed before: the deployment itself (its error message
        is not in a listing) and its build log's error lines."""
        failed = [r["id"] for r in records if r.get("state") == "ERROR"]
        entities = [docs.entity_id(d) for d in failed]
        with self.sessions() as session:
            rows = entities_repo.live_snapshots(session, source_id, entities)
            known = {
                row.entity_id.partition(":")[2]
                for row in rows
                if isinstance((row.payload or {}).get("errors"), list)
                and ((row.payload or {}).get("deployment") or {}).get("state") == "ERROR"
            }
        found: dict[str, tuple[dict[str, Any] | None, list[str]]] = {}
        for deployment_id in failed:
            if deployment_id not in known:
                given = client.deployment(deployment_id)
                fields = deployment_fields(given) if given is not None else None
                found[deployment_id] = (fields, self.error_lines(client, deployment_id))
        return found

    def _page(
        self,
        session: Session,
        source_id: str,
        records: list[dict[str, Any]],
        errors: dict[str, tuple[dict[str, Any] | None, list[str]]],
    ) -> int:
        changed, seen = 0, []
        listed_at = canonical_version(utcnow().isoformat())
        for record in records:
            detail, lines = errors.get(record["id"], (None, None))
            fields = {**record, **(detail or {})}
            applied = self.apply_deployment(session, source_id, fields, version=listed_at, errors=lines)
            changed += applied.state == "applied"
            seen.append(docs.entity_id(record["id"]))
        entities_repo.touch_entities(session, source_id, seen, utcnow())
        return changed

    # -- the source the sync opens -------------------------------------------------------------------

    def open(self, connection: ConnectedSource) -> Source:
        return SnapshotSource(
            source_type="vercel",
            external_key=connection.external_key,
            name=connection.display_name,
            reader=DatabaseSnapshots(self.sessions, connection.id, docs.path_for),
            render=render,
            entity_of_path=docs.entity_of_path,
            backfill=self.for_connection(connection),
            # Two connections naming one project into one store keep documents of their own.
            id_prefix=connection.id,
        )


def render(snapshot: Snapshot) -> Rendered | None:
    deployment = snapshot.payload.get("deployment")
    if snapshot.kind != "deployment" or not isinstance(deployment, dict) or "id" not in deployment:
        return None
    errors = snapshot.payload.get("errors")
    document = docs.render_deployment(deployment, errors if isinstance(errors, list) else None)
    return Rendered(
        document.path, document.markdown, document.url, document.metadata, None, document.relationships
    )
