"""Vercel webhook deliveries (vercel.com/docs/webhooks), pure functions over raw bytes, and the
normalising of a deployment as Vercel describes it (webhooks and the REST API give similar shapes).

* ``x-vercel-signature``: hex HMAC-SHA1 keyed by the webhook's secret (an account webhook) or the
  integration's client secret, over the raw body; compared in constant time.
* Envelope ``{type, id, createdAt, payload}``: ``id`` names the delivery (a redelivery keeps it),
  ``createdAt`` is Unix milliseconds. Vercel sends no timestamp header, so the envelope's ``createdAt``
  is what a replay check and the ordering of a deployment's states read.
* ``deployment.created|succeeded|ready|error|canceled`` say a deployment's state; other ``deployment.*``
  types (``promoted``, ``rollback``, check events...) and unknown types are recorded, never refused:
  Vercel adds types without notice. ``project.created|removed`` name a project.

Everything the body says is hostile: ids must look like Vercel's, strings are cut to a bound."""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from lightfast.errors import InvalidInput

SOURCE_TYPE = "vercel"
SIGNATURE_HEADER = "x-vercel-signature"
# A deployment event type -> the state it puts the deployment in (Vercel's readyState names).
DEPLOYMENT_STATES = {
    "deployment.created": "BUILDING",
    "deployment.succeeded": "READY",
    "deployment.ready": "READY",
    "deployment.error": "ERROR",
    "deployment.canceled": "CANCELED",
}
PROJECT_EVENTS = frozenset({"project.created", "project.removed"})
# The states a deployment ends in: it never leaves them (a promotion moves aliases, not the state).
FINAL_STATES = frozenset({"READY", "ERROR", "CANCELED"})
STATES = frozenset({"QUEUED", "INITIALIZING", "BUILDING", "READY", "ERROR", "CANCELED", "DELETED"})
MAX_SHORT = 500  # names, hosts, branches
MAX_MESSAGE = 5_000  # a commit message, an error message
MAX_ALIASES = 20
MAX_MS = 10**14  # year 5138: a createdAt beyond it is not a time
_HEX_SIGNATURE = re.compile(r"[0-9a-f]{40}")
DEPLOYMENT_ID = re.compile(r"dpl_[A-Za-z0-9]{1,60}")
PROJECT_ID = re.compile(r"prj_[A-Za-z0-9]{1,60}")
TEAM_ID = re.compile(r"team_[A-Za-z0-9]{1,60}")
_TYPE = re.compile(r"[a-z][a-z0-9_.-]{0,79}")
_DELIVERY = re.compile(r"[A-Za-z0-9_-]{1,100}")
_HOST = re.compile(r"[a-z0-9][a-z0-9.-]{0,252}", re.IGNORECASE)
_SHA = re.compile(r"[0-9a-f]{7,40}")
_ANSI = re.compile(r"\x1b(?:\[[0-9;?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def sign(secret: str, body: bytes) -> str:
    """The ``x-vercel-signature`` Vercel sends."""
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha1).hexdigest()


def verify_signature(secret: str, body: bytes, header: str | None) -> bool:
    """True when ``header`` is the hex HMAC-SHA1 of ``body`` under ``secret`` (constant time); False,
    never an exception, for anything missing or malformed."""
    if not secret or not isinstance(header, str) or not isinstance(body, bytes | bytearray):
        return False
    given = header.strip().lower()
    if not _HEX_SIGNATURE.fullmatch(given):
        return False
    expected = hmac.new(secret.encode("utf-8", "surrogatepass"), bytes(body), hashlib.sha1).hexdigest()
    return hmac.compare_digest(expected, given)


def from_ms(value: Any) -> datetime | None:
    """Unix milliseconds (Vercel's times) as a UTC time; None when it is not one."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < MAX_MS:
        return None
    return datetime.fromtimestamp(value / 1000, UTC)


def iso_ms(value: Any) -> str | None:
    when = from_ms(value)
    return when.strftime("%Y-%m-%dT%H:%M:%S.%fZ") if when is not None else None


def is_fresh(created: datetime, now: datetime, max_age_seconds: int) -> bool:
    """Whether the envelope's time lies within ``max_age_seconds`` of now either side; 0 accepts any
    (replaying recorded deliveries)."""
    return max_age_seconds == 0 or abs((now - created).total_seconds()) <= max_age_seconds


# -- normalising ------------------------------------------------------------------------------------


def text(value: Any, limit: int = MAX_SHORT) -> str | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        return None
    return _CONTROL.sub(" ", value.strip())[:limit]


def matching(value: Any, pattern: re.Pattern[str]) -> str | None:
    return value if isinstance(value, str) and pattern.fullmatch(value) else None


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def strip_ansi(line: str) -> str:
    """A log line without terminal colours and cursor codes (Vercel's build output keeps them)."""
    return _CONTROL.sub("", _ANSI.sub("", line))


def deployment_fields(
    given: dict[str, Any],
    *,
    state: str | None = None,
    project_id: Any = None,
    team_id: Any = None,
    created: Any = None,
) -> dict[str, Any] | None:
    """A deployment (a webhook's ``payload.deployment``, an item of ``GET /v6/deployments`` or the answer
    of ``GET /v13/deployments/{id}``) as the bounded, snake_case fields a snapshot keeps; None without a
    Vercel deployment id. Fields a shape does not carry are left out (a merge keeps the stored ones)."""
    deployment_id = matching(given.get("id"), DEPLOYMENT_ID) or matching(given.get("uid"), DEPLOYMENT_ID)
    if deployment_id is None:
        return None
    meta = _obj(given.get("meta"))
    found: dict[str, Any] = {"id": deployment_id}
    state = state or text(given.get("readyState"), 20) or text(given.get("state"), 20)
    if state and state.upper() in STATES:
        found["state"] = state.upper()
    host = text(given.get("url"), 253)
    if host and _HOST.fullmatch(host):
        found["url"] = host.lower()
    for key, value in (
        ("name", text(given.get("name"), 100)),
        ("project_id", matching(project_id or given.get("projectId"), PROJECT_ID)),
        ("team_id", matching(team_id or given.get("teamId") or given.get("ownerId"), TEAM_ID)),
        ("created_at", iso_ms(created or given.get("createdAt") or given.get("created"))),
        ("building_at", iso_ms(given.get("buildingAt"))),
        ("ready_at", iso_ms(given.get("ready"))),
        ("inspector_url", _https(given.get("inspectorUrl"))),
        ("error_code", text(given.get("errorCode"), 100)),
        ("error_message", text(given.get("errorMessage"), MAX_MESSAGE)),
        ("source", text(given.get("source"), 40)),
    ):
        if value is not None:
            found[key] = value
    if "target" in given:
        found["target"] = text(given.get("target"), 60)  # None: a preview
    creator = _obj(given.get("creator"))
    author = text(meta.get("githubCommitAuthorName"), 200) or text(meta.get("gitlabCommitAuthorName"), 200)
    author = author or text(creator.get("username"), 200) or text(creator.get("githubLogin"), 200)
    if author:
        found["author"] = author
    sha = (
        text(meta.get("githubCommitSha"), 40)
        or text(meta.get("gitlabCommitSha"), 40)
        or text(meta.get("bitbucketCommitSha"), 40)
    )
    if sha and _SHA.fullmatch(sha.lower()):
        found["commit_sha"] = sha.lower()
    for key, names in (
        ("commit_message", ("githubCommitMessage", "gitlabCommitMessage", "bitbucketCommitMessage")),
        ("branch", ("githubCommitRef", "gitlabCommitRef", "bitbucketCommitRef")),
        ("repo_owner", ("githubCommitOrg", "githubOrg", "gitlabProjectNamespace", "bitbucketRepoOwner")),
        ("repo_name", ("githubCommitRepo", "githubRepo", "gitlabProjectName", "bitbucketRepoName")),
        ("pull_request", ("githubPrId",)),
    ):
        value = next((v for v in (text(meta.get(n), MAX_MESSAGE) for n in names) if v), None)
        if value is not None:
            found[key] = value if key == "commit_message" else value[:200]
    aliases = given.get("alias")
    if isinstance(aliases, list):
        found["aliases"] = [a.lower() for a in (text(x, 253) for x in aliases[:MAX_ALIASES]) if a]
    return found


def _https(value: Any) -> str | None:
    found = text(value, 1000)
    return found if found and found.startswith("https://") and " " not in found else None


@dataclass(frozen=True)
class VercelDelivery:
    type: str
    delivery_id: str
    created: datetime
    deployment: dict[str, Any] | None  # deployment_fields of a deployment event
    project_id: str | None
    project_name: str | None
    team_id: str | None

    @property
    def created_ms(self) -> str:
        return self.created.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_delivery(body: dict[str, Any]) -> VercelDelivery:
    """A delivery's envelope and what it says, checked; InvalidInput naming the field otherwise. A
    ``deployment.*`` type carrying no deployment is refused; unknown types parse with no deployment."""
    kind = body.get("type")
    if not isinstance(kind, str) or not _TYPE.fullmatch(kind):
        raise InvalidInput("type must be a Vercel event type such as deployment.created", field="type")
    delivery_id = body.get("id")
    if not isinstance(delivery_id, str) or not _DELIVERY.fullmatch(delivery_id):
        raise InvalidInput("id must be the delivery's id: 1-100 letters, digits, _ or -", field="id")
    created = from_ms(body.get("createdAt"))
    if created is None:
        raise InvalidInput("createdAt must be a time in Unix milliseconds", field="createdAt")
    payload = body.get("payload")
    if not isinstance(payload, dict):
        raise InvalidInput("payload must be an object", field="payload")
    project = _obj(payload.get("project"))
    project_id = matching(project.get("id"), PROJECT_ID) or matching(payload.get("projectId"), PROJECT_ID)
    team_id = matching(_obj(payload.get("team")).get("id"), TEAM_ID)
    deployment = None
    if kind in DEPLOYMENT_STATES:
        given = payload.get("deployment")
        if not isinstance(given, dict):
            raise InvalidInput(f"{kind} must carry payload.deployment", field="payload.deployment")
        deployment = deployment_fields(
            {**given, "alias": payload.get("alias", given.get("alias"))},
            state=DEPLOYMENT_STATES[kind],
            project_id=project_id,
            team_id=team_id,
            created=body["createdAt"] if kind == "deployment.created" else None,
        )
        if deployment is None:
            raise InvalidInput(
                "payload.deployment.id must be a Vercel deployment id (dpl_...)",
                field="payload.deployment.id",
            )
        if "target" in payload:  # the webhook says the target beside the deployment, not in it
            deployment["target"] = text(payload.get("target"), 60)
    # A deployment's name is its project's: a connection naming projects by name recognises it so.
    name = text(project.get("name"), 100) or text(payload.get("name"), 100) or (deployment or {}).get("name")
    return VercelDelivery(kind, delivery_id, created, deployment, project_id, name, team_id)


def error_lines(events: Any, max_lines: int, max_line: int) -> list[str]:
    """A failed build's error lines from ``GET /v3/deployments/{id}/events`` (a list of ``{type,
    created, payload: {text}}``; older answers put ``text`` beside ``type``): the ``stderr`` lines and the
    output lines that say error, without terminal codes, each cut to ``max_line``, the last
    ``max_lines`` (a build log ends with what failed)."""
    if not isinstance(events, list):
        return []
    found: list[str] = []
    for event in events[-20_000:]:
        if not isinstance(event, dict):
            continue
        kind = event.get("type")
        given = _obj(event.get("payload")).get("text", event.get("text"))
        body = given[:20_000] if isinstance(given, str) else None  # raw: its escape codes go below
        if body is None or kind not in ("stderr", "stdout", "command", "fatal"):
            continue
        for raw in body.splitlines()[:200]:
            line = " ".join(strip_ansi(raw).split())
            if line and (kind in ("stderr", "fatal") or _says_error(line)):
                found.append(line[:max_line])
    return found[-max_lines:] if max_lines > 0 else []


_ERROR_WORDS = re.compile(r"\b(?:error|failed|failure|fatal|exception|cannot|unable)\b|\bERR!", re.IGNORECASE)


def _says_error(line: str) -> bool:
    return _ERROR_WORDS.search(line) is not None
