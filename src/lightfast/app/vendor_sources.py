"""Connecting Linear and Notion sources (issue 13): a connection row with typed metadata (seed 004), its
sealed credentials, and its own webhook URL ``/webhooks/{type}/{sourceId}``.

Modes: with an API token the connection backfills through the vendor's API (and a full sync is a
reconciliation); without one it is webhook-only: Linear deliveries carry the entity, so they are indexed
as they come; Notion deliveries carry ids only, so they are recorded and the connection says it cannot
index their content.
"""

from __future__ import annotations

import re
import secrets as random_secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from lightfast.app.credentials import TOKEN, WEBHOOK_SECRET, CredentialService
from lightfast.app.disconnect import DISCONNECT
from lightfast.app.jobs import JobService
from lightfast.app.schedule import make_schedule
from lightfast.db import activities, tenancy
from lightfast.db import jobs as jobs_repo
from lightfast.db import sources as sources_repo
from lightfast.db.models import ConnectedSource
from lightfast.db.transactions import retry_on_conflict
from lightfast.db.types import utcnow
from lightfast.errors import Conflict, InvalidInput, NotFound, UpstreamError
from lightfast.settings import Settings
from lightfast.sources.metadata import LinearSourceMetadata, NotionSourceMetadata

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,99}$")
MAX_CREDENTIAL = 4096
NO_CONTENT_NOTICE = (
    "Notion webhook events carry page ids, not content: without an API token this connection records "
    "them but cannot index pages. Reconnect with --token-env (or token) to index them."
)


@dataclass(frozen=True)
class VendorOption:
    """One vendor-specific connection field (a Zendesk subdomain, a Sentry organization slug): the
    console's connect form renders it, and ``connect`` checks it before the vendor's metadata function
    sees it, so every shell refuses the same values with the same field name."""

    name: str  # the wire name (camelCase), as in the API body and the CLI's --option NAME=VALUE
    label: str
    required: bool = False
    pattern: str | None = None  # the whole value must match (re.fullmatch); also the form's pattern=
    help: str = ""
    max_length: int = 200

    def check(self, value: str | None) -> str | None:
        """The value stripped, or None when absent and optional; InvalidInput naming the field else."""
        value = (value or "").strip()
        if not value:
            if self.required:
                raise InvalidInput(f"{self.name} is required ({self.label})", field=self.name)
            return None
        if len(value) > self.max_length:
            raise InvalidInput(f"{self.name} must be at most {self.max_length} characters", field=self.name)
        if self.pattern is not None and not re.fullmatch(self.pattern, value):
            raise InvalidInput(
                f"{self.name} is not a valid {self.label}: {self.help}".rstrip(": "), field=self.name
            )
        return value


@dataclass(frozen=True)
class VendorKind:
    """What connecting one vendor's sources needs to know; Linear and Notion are built in, the others
    register theirs (``VendorSourceService.kinds``) from lightfast.app.vendors."""

    source_type: str
    display: str  # "Linear": the connection's display name is "<display> <name>"
    # (name, mode, token_env, options) -> the connection's typed metadata (wire form). ``options`` are
    # the vendor's own connection fields (a Sentry organization slug, a Zendesk subdomain), already
    # checked by the API's body model; the function raises InvalidInput naming a bad or missing one.
    metadata: Callable[[str, str, str | None, Mapping[str, str]], dict[str, Any]]
    # A prefix when Lightfast generates the signing secret (the vendor is told it); None when the vendor
    # issues it and the connection must be given it.
    generated_secret_prefix: str | None = None
    # Deliveries carry ids only (Notion): without a token nothing can be indexed.
    content_needs_token: bool = False
    # The vendor's own connection fields, rendered by the console's form and checked by ``connect``.
    options: tuple[VendorOption, ...] = ()


LINEAR = VendorKind(
    "linear",
    "Linear",
    lambda name, mode, token_env, _options: LinearSourceMetadata(
        workspace=name, mode=mode, token_env=token_env
    ).wire(),
    generated_secret_prefix="lin_wh_",
)
NOTION = VendorKind(
    "notion",
    "Notion",
    lambda name, mode, token_env, _options: NotionSourceMetadata(
        notion_workspace_name=name, mode=mode, token_env=token_env
    ).wire(),
    content_needs_token=True,
)


def webhook_path(source_type: str, source_id: str) -> str:
    return f"/webhooks/{source_type}/{source_id}"


@dataclass(frozen=True)
class VendorConnected:
    source: ConnectedSource
    webhook_url: str
    mode: str
    credentials: dict[str, str]  # name -> preview
    job_id: str | None = None  # the backfill, when a token was given
    # The signing secret Lightfast generated, shown once at creation (the vendor needs it); else None.
    generated_webhook_secret: str | None = None
    notice: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.source.id,
            "type": self.source.source_type,
            "name": self.source.display_name,
            "webhookUrl": self.webhook_url,
            "mode": self.mode,
            "credentials": self.credentials,
            "jobId": self.job_id,
        }
        if self.generated_webhook_secret is not None:
            out["webhookSecret"] = self.generated_webhook_secret
        if self.notice:
            out["notice"] = self.notice
        return out


def _credential(value: str | None, field: str) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if not value or len(value) > MAX_CREDENTIAL or any(ord(c) < 33 or ord(c) == 127 for c in value):
        raise InvalidInput(
            f"{field} must be 1 to {MAX_CREDENTIAL} printable characters without spaces", field=field
        )
    return value


def _checked_options(kind: VendorKind, given: Mapping[str, str]) -> dict[str, str]:
    """The declared options checked (required, pattern, length); undeclared ones pass through to the
    vendor's metadata function, which vendors without declared options still check themselves."""
    checked = dict(given)
    for option in kind.options:
        value = option.check(given.get(option.name))
        if value is None:
            checked.pop(option.name, None)
        else:
            checked[option.name] = value
    return checked


class VendorSourceService:
    def __init__(
        self,
        settings: Settings,
        sessions: sessionmaker[Session],
        jobs: JobService,
        credentials: CredentialService,
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.jobs = jobs
        self.credentials = credentials
        # Registers a Linear webhook with the API token (token, url, secret) -> webhook id; set by
        # lightfast.app.vendors. Used only when LIGHTFAST_PUBLIC_URL says where Linear can reach us.
        self.register_linear_webhook: Callable[[str, str, str], str] | None = None
        self.kinds: dict[str, VendorKind] = {LINEAR.source_type: LINEAR, NOTION.source_type: NOTION}

    def webhook_url(self, source_type: str, source_id: str) -> str:
        base = self.settings.public_url or f"http://{self.settings.host}:{self.settings.port}"
        return base.rstrip("/") + webhook_path(source_type, source_id)

    def connect(
        self,
        workspace_id: str,
        source_type: str,
        *,
        name: str | None = None,
        webhook_secret: str | None = None,
        token: str | None = None,
        token_env: str | None = None,
        triggered_by: str | None = None,
        options: Mapping[str, str] | None = None,
    ) -> VendorConnected:
        """Connect (or reconnect, replacing the credentials given) a source of a registered vendor."""
        kind = self.kinds.get(source_type)
        if kind is None:
            raise InvalidInput(f"type must be one of {', '.join(sorted(self.kinds))}", field="type")
        # The vendor's own fields first: a name defaulted from one (a Zendesk subdomain) must be refused
        # naming that field, not the name the caller never gave.
        checked = _checked_options(kind, options or {})
        name = (name or source_type).strip()
        if not NAME.fullmatch(name):
            raise InvalidInput(
                "name must be 1-100 letters, digits, spaces, dots, dashes or underscores", field="name"
            )
        webhook_secret = _credential(webhook_secret, "webhookSecret")
        token = _credential(token, "token")
        generated: list[str] = []
        mode = "api" if token else "webhook-only"
        metadata = kind.metadata(name, mode, token_env, checked)
        display = f"{kind.display} {name}"
        notice = NO_CONTENT_NOTICE if kind.content_needs_token and mode != "api" else None

        def connect() -> tuple[str, bool]:
            with self.sessions.begin() as session:
                workspace = tenancy.find_workspace_by_id(session, workspace_id)
                if workspace is None:
                    raise NotFound(f"workspace {workspace_id!r} does not exist")
                existing = sources_repo.sources_by_external_key(session, source_type, name)
                previous = next((s for s in existing if s.workspace_id == workspace_id), None)
                if previous is not None and previous.disconnected_at is not None:
                    raise Conflict(f"{display} is being disconnected; connect it again when that job ends")
                source = sources_repo.ensure_source(
                    session,
                    organization_id=workspace.organization_id,
                    workspace_id=workspace_id,
                    source_type=source_type,
                    external_key=name,
                    display_name=display,
                    metadata={**(previous.source_metadata if previous else {}), **metadata},
                )
                source.is_active = True
                every = self.settings.vendor_reconcile_seconds
                if token is not None and every and "schedule" not in (source.source_metadata or {}):
                    # The backstop of webhooks: a full sync (list everything, repair what was missed).
                    schedule = make_schedule(every_seconds=max(every, 60), since=utcnow())
                    source.source_metadata = {**(source.source_metadata or {}), "schedule": schedule}
                source.config_status = "pending" if notice else "configured"
                source.config_message = notice
                if webhook_secret is not None:
                    self.credentials.put(session, source.id, WEBHOOK_SECRET, webhook_secret)
                elif kind.generated_secret_prefix and not self.credentials.has(
                    session, source.id, WEBHOOK_SECRET
                ):
                    # Generated once; reconnecting keeps it (a new one would break the vendor's webhook).
                    generated[:] = [kind.generated_secret_prefix + random_secrets.token_urlsafe(32)]
                    self.credentials.put(session, source.id, WEBHOOK_SECRET, generated[0])
                if token is not None:
                    self.credentials.put(session, source.id, TOKEN, token)
                activities.record_change(  # by a key, a console user (user:ID) or the CLI
                    session,
                    workspace_id,
                    triggered_by,
                    action="source.connected",
                    entity_type="source",
                    entity_id=source.id,
                    details={"type": source_type, "name": display, "mode": mode},
                )
                return source.id, previous is None

        source_id, _ = retry_on_conflict(connect)
        if source_type == "linear" and token is not None:
            notice = self._register(source_id, token) or notice
        job_id = None
        if token is not None:
            job_id = self.jobs.enqueue_sync(
                workspace_id, source_id, triggered_by=triggered_by, name=f"Backfill {display}"
            ).job_id
        with self.sessions() as session:
            source = sources_repo.find_source(session, source_id)
            assert source is not None
        return VendorConnected(
            source=source,
            webhook_url=self.webhook_url(source_type, source_id),
            mode=mode,
            credentials=self.credentials.previews(source_id),
            job_id=job_id,
            generated_webhook_secret=generated[0] if generated else None,
            notice=notice,
        )

    def _register(self, source_id: str, token: str) -> str | None:
        """Create the Linear webhook when this server has a public address; what to tell when it could
        not (the connection stands: the webhook can be added by hand with the URL and secret)."""
        if self.register_linear_webhook is None or not self.settings.public_url:
            if self.settings.public_url:
                return None
            return (
                "set LIGHTFAST_PUBLIC_URL for Lightfast to register the webhook; until then add it in "
                "Linear with this URL and secret"
            )
        secret = self.credentials.read(source_id, WEBHOOK_SECRET)
        if secret is None:
            return None
        try:
            webhook_id = self.register_linear_webhook(token, self.webhook_url("linear", source_id), secret)
        except UpstreamError as exc:
            return f"the webhook could not be registered at Linear ({exc.message}); add it by hand"
        with self.sessions.begin() as session:
            source = sources_repo.find_source(session, source_id)
            if source is not None:
                source.source_metadata = {**(source.source_metadata or {}), "webhookId": webhook_id}
        return None

    def find(self, source_type: str, source_id: str) -> ConnectedSource | None:
        """The connection a webhook URL names, unless it is of another type or being disconnected."""
        if len(source_id) > 191:
            return None
        with self.sessions() as session:
            source = sources_repo.find_source(session, source_id)
            if source is None or source.source_type != source_type or source.disconnected_at is not None:
                return None
            if any(j.input.get("kind") == DISCONNECT for j in jobs_repo.active_jobs(session, source.id)):
                return None
            return source
