"""Sentry connections: entity snapshots (issues with their latest event, comments), the backfill and
reconciliation through the REST API, and the source the sync opens.

Snapshots (``vendor_entities``): ``issue:N`` holds ``{"issue": fields, "event": latest event}``, and
``comment:N`` one comment with the few issue fields its document shows. Sentry's issues carry no
``updatedAt``: a version is the time Sentry said it (``Sentry-Hook-Timestamp``) or the time a listing
read it, so an older delivery arriving late changes nothing. Two different deliveries within one second
(Sentry's timestamps are whole seconds) are ordered by arrival: the later one gets a version just after
the stored one (``version_after``).

The backfill lists each project's issues (the connection's projects, or every project of the
organization), each with its latest event and comments; each page's snapshots and the cursor after it
are written in one transaction, so a crash resumes at the next page (lightfast.app.linear_backfill's
checkpoint). Then whatever the listing did not see is marked deleted: the reconciliation."""

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
from lightfast.errors import InvalidInput
from lightfast.settings import Settings
from lightfast.sources.base import Source
from lightfast.sources.sentry import documents as docs
from lightfast.sources.sentry.client import SLUG, SentryClient
from lightfast.sources.sentry.metadata import SentrySourceMetadata
from lightfast.sources.sentry.webhooks import as_id, comment_fields, event_fields, issue_fields
from lightfast.sources.snapshots import Backfill, Rendered, Snapshot, SnapshotSource, canonical_version

log = logging.getLogger("lightfast.sentry")
MAX_PROJECTS = 100
QUICK_TIMEOUT = httpx.Timeout(4.0, connect=2.0)
MAX_COMMENTS = 200  # per issue listed; an issue's discussion beyond it is rarely what search needs
# The few issue fields a comment's document shows (its title says which issue it is about).
_COMMENT_ISSUE_FIELDS = ("short_id", "title", "project", "permalink")
_SPLIT = re.compile(r"[,\s]+")
# One slug, then more after commas or spaces (each separator run before a slug: no backtracking).
_PROJECT_LIST = r"[a-z0-9][a-z0-9_-]{0,49}(?:[,\s]+[a-z0-9][a-z0-9_-]{0,49})*"


def connection_metadata(
    name: str, mode: str, token_env: str | None, options: Mapping[str, str]
) -> dict[str, Any]:
    """A Sentry connection's typed metadata from its options: ``organization`` (required: the slug) and
    ``projects`` (project slugs, comma-separated; none: every project of the organization)."""
    organization = (options.get("organization") or "").strip().lower()
    if not SLUG.fullmatch(organization):
        raise InvalidInput(
            "organization must be the Sentry organization's slug: 1-50 lower-case letters, digits, "
            "dashes or underscores",
            field="organization",
        )
    projects = [p for p in _SPLIT.split((options.get("projects") or "").strip().lower()) if p]
    if len(projects) > MAX_PROJECTS or any(not SLUG.fullmatch(p) for p in projects):
        raise InvalidInput(
            f"projects must be at most {MAX_PROJECTS} project slugs (lower-case letters, digits, dashes or "
            "underscores), comma-separated",
            field="projects",
        )
    unique = sorted(set(projects))
    return SentrySourceMetadata(
        sentry_organization_slug=organization,
        sentry_project_slugs=unique or None,
        sentry_project_slug=unique[0] if len(unique) == 1 else None,
        mode="api" if mode == "api" else "webhook-only",
        token_env=token_env,
    ).wire()


# The client secret is Sentry's (shown on the integration's page), so it is given, never generated.
SENTRY = VendorKind(
    "sentry",
    "Sentry",
    connection_metadata,
    options=(
        VendorOption(
            "organization",
            "Sentry organization slug",
            required=True,
            pattern=SLUG.pattern.strip("^$"),
            help="acme for sentry.io/organizations/acme: lower-case letters, digits, dashes, underscores",
            max_length=50,
        ),
        VendorOption(
            "projects",
            "project slugs",
            pattern=_PROJECT_LIST,
            help="project slugs separated by commas; empty for every project of the organization",
            max_length=MAX_PROJECTS * 51,
        ),
    ),
)


def _meta(connection: ConnectedSource) -> dict[str, Any]:
    return dict(connection.source_metadata or {})


def organization_of(connection: ConnectedSource) -> str:
    return str(_meta(connection).get("sentryOrganizationSlug") or "invalid")


def projects_of(connection: ConnectedSource) -> list[str] | None:
    found = _meta(connection).get("sentryProjectSlugs")
    return [str(p) for p in found] if isinstance(found, list) and found else None


@dataclass(frozen=True)
class Applied:
    """What storing a snapshot did: ``applied`` (``changes`` for the index), ``unchanged`` (a newer
    reading of the same state: the version moved, nothing to index) or ``stale`` (a newer one is stored)."""

    state: Literal["applied", "unchanged", "stale"]
    changes: dict[str, str]


# An issue's latest event (None when it has none) and its comments, as the API answered.
Details = tuple[dict[str, Any] | None, list[dict[str, Any]]]


def version_after(stored: str | None, version: str, same: bool) -> str:
    """``version``, unless the stored one is that same second and says something else: then just after
    the stored one (a suffix sorts after its prefix), so the later arrival wins a tie."""
    if stored is not None and not same and stored.rstrip("+") == version:
        return stored + "+"
    return version


class SentrySources:
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

    @property
    def web_url(self) -> str:
        return self.settings.sentry_base_url.rstrip("/")

    def client(self, connection: ConnectedSource, *, quick: bool = False) -> SentryClient | None:
        """A client for a connection with a token; None for a webhook-only one. ``quick``: for a webhook
        being answered (short timeouts, one retry, no long rate-limit wait)."""
        token = self.credentials.read(connection.id, TOKEN)
        if token is None:
            return None
        extra: dict[str, Any] = {"sleep": self.sleep} if self.sleep is not None else {}
        if quick:
            extra |= {"max_retries": 1, "max_wait": 2.0, "timeout": QUICK_TIMEOUT}
        return SentryClient(self.web_url, token, transport=self.transport, page_size=self.page_size, **extra)

    # -- snapshots -----------------------------------------------------------------------------------

    def apply_issue(
        self,
        session: Session,
        source_id: str,
        *,
        version: str,
        issue: dict[str, Any] | None = None,
        event: dict[str, Any] | None = None,
        replace_event: bool = False,
        comments: list[str] | None = None,
    ) -> Applied:
        """Store an issue's version: its fields (``issue``, merged over what is stored) and/or its latest
        event (``event``: kept when it is newer than the stored one, or ``replace_event``). ``comments``:
        the ids of all its comments, when a listing read them (else the stored list stays: apply_comment
        keeps it current)."""
        issue_id = str((issue or {}).get("id") or (event or {}).get("issue_id"))
        entity = docs.entity_id("issue", issue_id)
        stored = entities_repo.find_entity(session, source_id, entity)
        before = dict(stored.payload or {}) if stored is not None else {}
        fields = {**(before.get("issue") or {"id": issue_id}), **(issue or {})}
        latest = before.get("event")
        if event is not None and (replace_event or _newer_event(event, latest)):
            latest = event
        if issue is None and event is not None:  # what an event says of its issue, when nothing else did
            for key in ("title", "culprit", "level", "platform"):
                if key not in fields and event.get(key):
                    fields[key] = event[key]
        known = comments if comments is not None else before.get("comments")
        comment_ids = sorted({str(c) for c in known}) if isinstance(known, list) else []
        payload = {"issue": fields, "event": latest, "comments": comment_ids}
        same = stored is not None and not stored.deleted and before == payload
        state = entities_repo.apply_snapshot(
            session,
            source_id=source_id,
            entity_id=entity,
            kind="issue",
            version=version_after(stored.version if stored else None, version, same),
            payload=payload,
            deleted=False,
        )
        if state == "stale":
            return Applied("stale", {})
        if same:  # a newer reading of the same state: its version moves, the index has nothing to do
            return Applied("unchanged", {})
        changes = {docs.path_for("issue", entity): "upsert"}
        if state == "applied":
            # The comments show the issue's short id and title: bring them along when those change (or
            # arrive after the comments did).
            old = {k: (before.get("issue") or {}).get(k) for k in _COMMENT_ISSUE_FIELDS}
            new = {k: fields.get(k) for k in _COMMENT_ISSUE_FIELDS}
            if old != new:
                # Comments delivered before their issue was known are in no list yet: looked for once.
                ids = comment_ids if stored is not None or comments is not None else None
                changes |= self._retitle_comments(session, source_id, entity, fields, ids)
        return Applied("applied", changes)

    def _retitle_comments(
        self, session: Session, source_id: str, parent: str, issue: dict[str, Any], ids: list[str] | None
    ) -> dict[str, str]:
        about = {k: issue[k] for k in _COMMENT_ISSUE_FIELDS if k in issue}
        if ids is not None:
            comments = [docs.entity_id("comment", i) for i in ids]
        else:
            comments = [e for kind, e in entities_repo.live_entities(session, source_id) if kind == "comment"]
        changes: dict[str, str] = {}
        for row in entities_repo.live_snapshots(session, source_id, comments):
            if ((row.payload or {}).get("data") or {}).get("issueId") == parent:
                row.payload = {**(row.payload or {}), "issue": about}
                changes[docs.path_for("comment", row.entity_id)] = "upsert"
        return changes

    def apply_comment(
        self,
        session: Session,
        source_id: str,
        comment: dict[str, Any],
        *,
        version: str,
        removed: bool = False,
    ) -> Applied:
        entity = docs.entity_id("comment", str(comment["id"]))
        parent = docs.entity_id("issue", str(comment["issue_id"]))
        stored = entities_repo.find_entity(session, source_id, entity)
        issue_row = entities_repo.find_entity(session, source_id, parent)
        issue = dict((issue_row.payload or {}).get("issue") or {}) if issue_row is not None else {}
        fields = {**((stored.payload or {}).get("comment") or {} if stored is not None else {}), **comment}
        # ``data.issueId`` is the parent key entities_repo.follow_parent reads for every vendor.
        payload = {
            "data": {"issueId": parent},
            "comment": fields,
            "issue": {k: issue[k] for k in _COMMENT_ISSUE_FIELDS if k in issue},
        }
        same = stored is not None and stored.payload == payload and stored.deleted == removed
        state = entities_repo.apply_snapshot(
            session,
            source_id=source_id,
            entity_id=entity,
            kind="comment",
            version=version_after(stored.version if stored else None, version, same),
            payload=payload,
            deleted=removed,
        )
        if state == "stale":
            return Applied("stale", {})
        if same:
            return Applied("unchanged", {})
        if issue_row is not None:  # the issue's list of its comments, which a reconciliation relies on
            listed = set((issue_row.payload or {}).get("comments") or [])
            listed = listed - {str(comment["id"])} if removed else listed | {str(comment["id"])}
            issue_row.payload = {**(issue_row.payload or {}), "comments": sorted(listed)}
        return Applied("applied", {docs.path_for("comment", entity): "remove" if removed else "upsert"})

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
        """List everything, resuming from the checkpoint; returns counts (``changed``, ``deleted``). On a
        cancel it stops between pages, the checkpoint kept, nothing reconciled."""
        client = self.client(connection)
        if client is None:
            return {"changed": 0, "deleted": 0}
        source_id, organization = connection.id, organization_of(connection)
        checkpoint = load_checkpoint(self.sessions, source_id)
        changed = int(checkpoint.get("changed", 0))
        try:
            projects = projects_of(connection) or client.projects(organization)
            for project in projects:
                if project in checkpoint["done"]:
                    continue
                cursor = checkpoint["cursors"].get(project)
                while True:
                    if should_stop():
                        return {"changed": changed, "deleted": 0}
                    page = client.issues_page(organization, project, cursor)
                    unchanged = self._unchanged(source_id, page.items)
                    details: dict[str, Details] = {}
                    for record in page.items:
                        if should_stop():
                            return {"changed": changed, "deleted": 0}
                        issue_id = as_id(record.get("id"))
                        if issue_id is not None and issue_id not in unchanged:
                            details[issue_id] = (
                                client.latest_event(organization, issue_id),
                                client.comments(issue_id, MAX_COMMENTS),
                            )
                    with self.sessions.begin() as session:
                        changed += self._page(session, source_id, page.items, details)
                        checkpoint["cursors"][project] = page.cursor
                        checkpoint["changed"] = changed
                        if page.cursor is None:
                            checkpoint["done"].append(project)
                        save_checkpoint(session, source_id, checkpoint)
                    if page.cursor is None:
                        break
                    cursor = page.cursor
        finally:
            client.close()
        deleted = finish_listing(self.sessions, source_id, checkpoint, docs.KINDS, client.requests)
        log.info("sentry %s: listing changed %d and deleted %d entities", source_id, changed, deleted)
        return {"changed": changed, "deleted": deleted}

    def _unchanged(self, source_id: str, records: list[dict[str, Any]]) -> dict[str, list[str]]:
        """The listed issues whose latest event and comments need not be read again: stored with an
        event and a list of comments, and neither ``lastSeen`` (moved by every new event) nor
        ``numComments`` moved since. Issue id -> its stored comment ids (the listing saw them too).
        A comment edited while webhooks were not arriving waits for the issue's next change."""
        listed = {i["id"]: i for i in (issue_fields(r) for r in records) if i is not None}
        entities = [docs.entity_id("issue", i) for i in listed]
        with self.sessions() as session:
            rows = entities_repo.live_snapshots(session, source_id, entities)
            stored = {row.entity_id.partition(":")[2]: dict(row.payload or {}) for row in rows}
        found: dict[str, list[str]] = {}
        for issue_id, payload in stored.items():
            before, now = payload.get("issue") or {}, listed[issue_id]
            comments = payload.get("comments")
            if (
                isinstance(payload.get("event"), dict)
                and isinstance(comments, list)
                and now.get("last_seen") is not None
                and before.get("last_seen") == now.get("last_seen")
                and before.get("comment_count") == now.get("comment_count")
                and now.get("comment_count") == len(comments)
            ):
                found[issue_id] = [str(c) for c in comments]
        return found

    def _page(
        self,
        session: Session,
        source_id: str,
        records: list[dict[str, Any]],
        details: dict[str, Details],
    ) -> int:
        changed, seen = 0, []
        listed_at = canonical_version(utcnow().isoformat())
        for record in records:
            issue = issue_fields(record)
            if issue is None:
                continue
            seen.append(docs.entity_id("issue", issue["id"]))
            if issue["id"] not in details:  # unchanged since the last listing: its fields only
                found = self.apply_issue(session, source_id, version=listed_at, issue=issue)
                changed += found.state == "applied"
                stored = entities_repo.find_entity(session, source_id, docs.entity_id("issue", issue["id"]))
                known = (stored.payload or {}).get("comments") if stored is not None else None
                seen += [docs.entity_id("comment", str(c)) for c in known or []]
                continue
            given, notes = details[issue["id"]]
            event = event_fields(given) if given is not None else None
            listed = [c for c in (comment_fields({**n, "issue_id": issue["id"]}) for n in notes) if c]
            found = self.apply_issue(
                session,
                source_id,
                version=listed_at,
                issue=issue,
                event=event,
                replace_event=True,
                comments=[c["id"] for c in listed],
            )
            changed += found.state == "applied"
            for comment in listed:
                applied = self.apply_comment(session, source_id, comment, version=listed_at)
                changed += applied.state == "applied"
                seen.append(docs.entity_id("comment", comment["id"]))
        entities_repo.touch_entities(session, source_id, seen, utcnow())
        return changed

    # -- the source the sync opens -------------------------------------------------------------------

    def open(self, connection: ConnectedSource) -> Source:
        organization = organization_of(connection)
        return SnapshotSource(
            source_type="sentry",
            external_key=connection.external_key,
            name=connection.display_name,
            reader=DatabaseSnapshots(self.sessions, connection.id, docs.path_for),
            render=lambda snapshot: render(snapshot, organization, self.web_url),
            entity_of_path=docs.entity_of_path,
            backfill=self.for_connection(connection),
            # "<connection id>:issue:N": two connections of one organization (say, of two projects
            # sets) into one store keep documents of their own.
            id_prefix=connection.id,
        )


def _newer_event(event: dict[str, Any], stored: Any) -> bool:
    """Whether ``event`` is later than the stored latest event (by its time; ties go to the newcomer)."""
    if not isinstance(stored, dict):
        return True
    if stored.get("id") == event.get("id"):
        return True
    try:
        return canonical_version(str(event.get("datetime"))) >= canonical_version(str(stored.get("datetime")))
    except ValueError:
        return True


def render(snapshot: Snapshot, organization: str, web_url: str) -> Rendered | None:
    payload = snapshot.payload
    document: docs.SentryDocument | None = None
    if snapshot.kind == "issue" and isinstance(payload.get("issue"), dict):
        event = payload.get("event") if isinstance(payload.get("event"), dict) else None
        document = docs.render_issue(payload["issue"], event, organization=organization, web_url=web_url)
    elif snapshot.kind == "comment" and isinstance(payload.get("comment"), dict):
        issue = payload.get("issue") if isinstance(payload.get("issue"), dict) else None
        document = docs.render_comment(payload["comment"], issue, organization=organization, web_url=web_url)
    if document is None:
        return None
    return Rendered(
        document.path,
        document.markdown,
        document.url,
        document.metadata,
        document.parent_id,
        document.relationships,
    )
