"""First layer of the GitHub App webhook endpoint: pure functions, no I/O.

* :func:`verify_signature` checks ``X-Hub-Signature-256`` over the raw request bytes.
* :func:`parse_push` / :func:`classify_push` turn a ``push`` delivery into the paths to re-index.
* :func:`parse_installation` / :func:`parse_repository` read ``installation``,
  ``installation_repositories`` and ``repository`` deliveries.

Payloads are the bare JSON bodies GitHub sends (the event name comes from ``X-GitHub-Event``).
A payload missing a required field raises :class:`lightfast.errors.InvalidInput` naming the field
as a dotted path (``repository.id``, ``commits[2].added``).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from lightfast.errors import InvalidInput

__all__ = [
    "CONFIG_FILENAMES",
    "InstallationEvent",
    "PushChanges",
    "PushDecision",
    "RepositoryEvent",
    "classify_push",
    "merge_commit_changes",
    "parse_installation",
    "parse_push",
    "parse_repository",
    "verify_signature",
]

SIGNATURE_PREFIX = "sha256="
_HEX_DIGEST = re.compile(r"[0-9a-fA-F]{64}")

CONFIG_FILENAMES: frozenset[str] = frozenset(
    {"lightfast.yml", ".lightfast.yml", "lightfast.yaml", ".lightfast.yaml"}
)

PushDecision = Literal["sync", "ignore_branch", "ignore_tag", "ignore_delete"]

_BRANCH_PREFIX = "refs/heads/"
_TAG_PREFIX = "refs/tags/"


# --------------------------------------------------------------------------- signature


def verify_signature(secret: bytes | str, body: bytes, header: str | None) -> bool:
    """True when ``header`` is ``sha256=`` + hex HMAC-SHA256(secret, body).

    Returns False (never raises) for a missing header, a wrong prefix, a digest that is not 64 hex
    characters, an empty secret or arguments of the wrong type. Compared in constant time.
    """
    if not isinstance(header, str) or not isinstance(body, bytes | bytearray | memoryview):
        return False
    if isinstance(secret, str):
        secret = secret.encode("utf-8")
    if not isinstance(secret, bytes | bytearray) or not secret:
        return False
    value = header.strip()
    if not value.startswith(SIGNATURE_PREFIX):
        return False
    given = value[len(SIGNATURE_PREFIX) :]
    if not _HEX_DIGEST.fullmatch(given):
        return False
    expected = hmac.new(bytes(secret), bytes(body), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, given.lower())


# --------------------------------------------------------------------------- field helpers


def _missing(field: str, what: str = "is missing") -> InvalidInput:
    return InvalidInput(f"GitHub webhook payload: {field} {what}", field=field)


def _obj(payload: Mapping[str, Any], key: str, field: str) -> Mapping[str, Any]:
    value = payload.get(key) if isinstance(payload, Mapping) else None
    if value is None:
        raise _missing(field)
    if not isinstance(value, Mapping):
        raise _missing(field, "must be an object")
    return value


def _str(payload: Mapping[str, Any], key: str, field: str) -> str:
    value = payload.get(key)
    if value is None:
        raise _missing(field)
    if not isinstance(value, str):
        raise _missing(field, "must be a string")
    return value


def _int(payload: Mapping[str, Any], key: str, field: str) -> int:
    value = payload.get(key)
    if value is None:
        raise _missing(field)
    if not isinstance(value, int) or isinstance(value, bool):
        raise _missing(field, "must be an integer")
    return value


def _list(payload: Mapping[str, Any], key: str, field: str, *, default_empty: bool = False) -> list[Any]:
    value = payload.get(key)
    if value is None:
        if default_empty:
            return []
        raise _missing(field)
    if not isinstance(value, list):
        raise _missing(field, "must be a list")
    return value


def _root(payload: Any) -> Mapping[str, Any]:
    if not isinstance(payload, Mapping):
        raise InvalidInput("GitHub webhook payload must be a JSON object", field="payload")
    return payload


# --------------------------------------------------------------------------- push


@dataclass(frozen=True)
class PushChanges:
    """What a ``push`` delivery changed.

    ``changes`` maps each path to ``"upsert"`` or ``"remove"``: the commits replayed in order, the
    last change to a path wins. ``touches_config`` is True when any changed path (removals included)
    is a lightfast config file at the repository root.
    """

    repository_id: int
    full_name: str
    ref: str
    branch: str | None
    before: str
    after: str
    head_commit: str | None
    changes: dict[str, str]
    touches_config: bool


def merge_commit_changes(commits: list[Any], *, field: str = "commits") -> dict[str, str]:
    """Replay the commits' ``added``/``modified``/``removed`` lists into ``path -> upsert|remove``.

    Within one commit ``added`` then ``modified`` then ``removed`` are applied (GitHub never lists a
    path twice in one commit). Missing lists count as empty.
    """
    changes: dict[str, str] = {}
    for index, commit in enumerate(commits):
        where = f"{field}[{index}]"
        if not isinstance(commit, Mapping):
            raise _missing(where, "must be an object")
        for key, op in (("added", "upsert"), ("modified", "upsert"), ("removed", "remove")):
            paths = _list(commit, key, f"{where}.{key}", default_empty=True)
            for path in paths:
                if not isinstance(path, str) or not path:
                    raise _missing(f"{where}.{key}", "must list non-empty path strings")
                changes[path] = op
    return changes


def parse_push(payload: dict[str, Any]) -> PushChanges:
    """Parse a ``push`` delivery body."""
    payload_map = _root(payload)
    repository = _obj(payload_map, "repository", "repository")
    ref = _str(payload_map, "ref", "ref")
    head = payload_map.get("head_commit")
    head_commit: str | None = None
    if head is not None:
        if not isinstance(head, Mapping):
            raise _missing("head_commit", "must be an object or null")
        head_commit = _str(head, "id", "head_commit.id")
    changes = merge_commit_changes(_list(payload_map, "commits", "commits"))
    return PushChanges(
        repository_id=_int(repository, "id", "repository.id"),
        full_name=_str(repository, "full_name", "repository.full_name"),
        ref=ref,
        branch=ref[len(_BRANCH_PREFIX) :] if ref.startswith(_BRANCH_PREFIX) else None,
        before=_str(payload_map, "before", "before"),
        after=_str(payload_map, "after", "after"),
        head_commit=head_commit,
        changes=changes,
        touches_config=any(path in CONFIG_FILENAMES for path in changes),
    )


def classify_push(payload: dict[str, Any], default_branch: str | None = None) -> PushDecision:
    """Decide what to do with a ``push`` delivery.

    Checked in this order: ``deleted: true`` (branch or tag) -> ``ignore_delete``; ``refs/tags/*`` ->
    ``ignore_tag``; ``refs/heads/<default branch>`` -> ``sync``; anything else -> ``ignore_branch``.
    The default branch is ``repository.default_branch`` unless ``default_branch`` is given.
    """
    payload_map = _root(payload)
    ref = _str(payload_map, "ref", "ref")
    if payload_map.get("deleted") is True:
        return "ignore_delete"
    if ref.startswith(_TAG_PREFIX):
        return "ignore_tag"
    if default_branch is None:
        repository = _obj(payload_map, "repository", "repository")
        default_branch = _str(repository, "default_branch", "repository.default_branch")
    if ref == _BRANCH_PREFIX + default_branch:
        return "sync"
    return "ignore_branch"


# --------------------------------------------------------------------------- installation


@dataclass(frozen=True)
class InstallationEvent:
    """An ``installation`` or ``installation_repositories`` delivery.

    ``repositories`` holds ``(id, full_name)`` pairs: for ``installation`` the repositories listed in
    the delivery (empty when absent, e.g. ``suspend``); for ``installation_repositories`` the ones
    added (action ``added``) or removed (action ``removed``).
    """

    action: str
    installation_id: int
    repositories: list[tuple[int, str]]


def _repo_pairs(items: list[Any], field: str) -> list[tuple[int, str]]:
    pairs: list[tuple[int, str]] = []
    for index, item in enumerate(items):
        where = f"{field}[{index}]"
        if not isinstance(item, Mapping):
            raise _missing(where, "must be an object")
        pairs.append((_int(item, "id", f"{where}.id"), _str(item, "full_name", f"{where}.full_name")))
    return pairs


def parse_installation(event: str, payload: dict[str, Any]) -> InstallationEvent:
    """Parse an ``installation`` or ``installation_repositories`` delivery (``event`` is X-GitHub-Event)."""
    payload_map = _root(payload)
    action = _str(payload_map, "action", "action")
    installation = _obj(payload_map, "installation", "installation")
    installation_id = _int(installation, "id", "installation.id")
    if event == "installation":
        items = _list(payload_map, "repositories", "repositories", default_empty=True)
        repositories = _repo_pairs(items, "repositories")
    elif event == "installation_repositories":
        if action == "added":
            key = "repositories_added"
        elif action == "removed":
            key = "repositories_removed"
        else:
            raise InvalidInput(f"unknown installation_repositories action {action!r}", field="action")
        repositories = _repo_pairs(_list(payload_map, key, key), key)
    else:
        raise InvalidInput(f"not an installation event: {event!r}", field="event")
    return InstallationEvent(action=action, installation_id=installation_id, repositories=repositories)


# --------------------------------------------------------------------------- repository


@dataclass(frozen=True)
class RepositoryEvent:
    """A ``repository`` delivery. ``previous_name``/``previous_full_name`` are set when the delivery's
    ``changes.repository.name.from`` is present (action ``renamed``); the owner is the current one."""

    action: str
    repository_id: int
    full_name: str
    owner_login: str
    previous_name: str | None = None
    previous_full_name: str | None = None


def parse_repository(payload: dict[str, Any]) -> RepositoryEvent:
    """Parse a ``repository`` delivery body."""
    payload_map = _root(payload)
    action = _str(payload_map, "action", "action")
    repository = _obj(payload_map, "repository", "repository")
    owner = _obj(repository, "owner", "repository.owner")
    owner_login = _str(owner, "login", "repository.owner.login")
    previous_name: str | None = None
    changes = payload_map.get("changes")
    if isinstance(changes, Mapping):
        repo_changes = changes.get("repository")
        name_change = repo_changes.get("name") if isinstance(repo_changes, Mapping) else None
        if isinstance(name_change, Mapping):
            old = name_change.get("from")
            if isinstance(old, str) and old:
                previous_name = old
    return RepositoryEvent(
        action=action,
        repository_id=_int(repository, "id", "repository.id"),
        full_name=_str(repository, "full_name", "repository.full_name"),
        owner_login=owner_login,
        previous_name=previous_name,
        previous_full_name=f"{owner_login}/{previous_name}" if previous_name is not None else None,
    )
