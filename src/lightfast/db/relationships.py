"""The relationship graph's SQL: a document's edges and keys replaced at ingest, commits' changed paths
recorded from pushes, and a document's related documents in either direction (one indexed join each)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import Table, and_, delete, insert, select
from sqlalchemy.orm import Session

from lightfast.db.models import Document, Store
from lightfast.db.relationship_models import CommitChange, DocumentEdge, DocumentKey
from lightfast.relationships.model import GITHUB, GITHUB_COMMIT, Edge, Target

# A GitHub file changed by many pushes is known by its newest commits only: a mention of an old commit
# still finds the files it changed through ``commit_changes``, but the keys stay few.
MAX_COMMIT_KEYS = 50
_VALUE = 255


@dataclass(frozen=True)
class RelatedRow:
    document: Document
    direction: str  # "out": this document points at it; "in": it points at this document
    kind: str
    target: Target  # the key the edge named
    evidence: str


@dataclass(frozen=True)
class UnresolvedRow:
    kind: str
    target: Target
    evidence: str


def _table(model: type[DocumentEdge] | type[DocumentKey]) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table


def _clip(value: str) -> str:
    return value[:_VALUE]


def replace_document(
    session: Session,
    *,
    workspace_id: str,
    store_id: str,
    document_id: str,
    identities: Sequence[Target],
    edges: Sequence[Edge],
    new: bool = False,
) -> None:
    """A document's keys and outgoing edges, replacing those of its previous version (re-ingest); a
    ``new`` document has none to delete. Core statements on the session's connection, one executemany
    each, without the ORM's per-statement work: this runs inside the batch's write transaction, which
    holds SQLite's lock (bench/relationships.py measures it)."""
    connection = session.connection()
    edge_table, key_table = _table(DocumentEdge), _table(DocumentKey)
    if not new:
        connection.execute(delete(edge_table).where(edge_table.c.from_document_id == document_id))
        connection.execute(delete(key_table).where(key_table.c.document_id == document_id))
    keys = [
        {
            "workspace_id": workspace_id,
            "document_id": document_id,
            "key_type": key.type,
            "key": _clip(key.match_key),
            "value": _clip(key.key),
        }
        for key in dict.fromkeys(identities)
    ]
    if keys:
        connection.execute(insert(key_table), keys)
    rows = [
        {
            "workspace_id": workspace_id,
            "store_id": store_id,
            "from_document_id": document_id,
            "kind": edge.kind,
            "target_type": edge.target.type,
            "target_key": _clip(edge.target.match_key),
            "target_value": _clip(edge.target.key),
            "evidence": edge.evidence[:200],
        }
        for edge in edges
    ]
    if rows:
        connection.execute(insert(edge_table), rows)


def commit_keys(session: Session, workspace_id: str, repository: str, path: str) -> list[Target]:
    """The keys a GitHub file has from the pushes that changed it: its newest commits, and the pull
    requests they merged."""
    rows = session.execute(
        select(CommitChange.sha, CommitChange.pull_request)
        .where(
            CommitChange.workspace_id == workspace_id,
            CommitChange.repository == repository,
            CommitChange.path == path,
        )
        .order_by(CommitChange.id.desc())
        .limit(MAX_COMMIT_KEYS)
    )
    keys: list[Target] = []
    for sha, pull in rows:
        keys.append(Target(GITHUB_COMMIT, sha))
        if pull is not None:
            keys.append(Target(GITHUB, f"{repository}#{pull}"))
    return list(dict.fromkeys(keys))


def record_commit_changes(
    session: Session,
    workspace_id: str,
    repository: str,
    commits: Sequence[tuple[str, int | None, Sequence[str]]],
) -> int:
    """Record ``(sha, pull request, paths)`` of pushed commits (a redelivery adds nothing), and give the
    GitHub documents of those paths that already exist their new keys. Returns the rows added."""
    added = 0
    for sha, pull, paths in commits:
        known = set(
            session.scalars(
                select(CommitChange.path).where(
                    CommitChange.workspace_id == workspace_id,
                    CommitChange.sha == sha,
                    CommitChange.repository == repository,
                )
            )
        )
        fresh = [p for p in dict.fromkeys(paths) if p not in known]
        session.add_all(
            CommitChange(workspace_id=workspace_id, repository=repository, sha=sha, path=p, pull_request=pull)
            for p in fresh
        )
        added += len(fresh)
        if not fresh:
            continue
        documents = session.execute(
            select(Document.id, Document.source_metadata)
            .join(Store, Store.id == Document.store_id)
            .where(
                Store.workspace_id == workspace_id, Document.source_type == GITHUB, Document.path.in_(fresh)
            )
        )
        new_keys = [Target(GITHUB_COMMIT, sha)] + ([Target(GITHUB, f"{repository}#{pull}")] if pull else [])
        for document_id, metadata in documents:
            if str((metadata or {}).get("repoFullName", "")).lower() != repository:
                continue
            existing = {
                (t, k)
                for t, k in session.execute(
                    select(DocumentKey.key_type, DocumentKey.value).where(
                        DocumentKey.document_id == document_id
                    )
                )
            }
            session.add_all(
                DocumentKey(
                    workspace_id=workspace_id,
                    document_id=document_id,
                    key_type=key.type,
                    key=_clip(key.match_key),
                    value=_clip(key.key),
                )
                for key in new_keys
                if (key.type, key.key) not in existing
            )
    session.flush()
    return added


def document_in_workspace(session: Session, workspace_id: str, document_id: str) -> Document | None:
    return session.scalar(
        select(Document)
        .join(Store, Store.id == Document.store_id)
        .where(Store.workspace_id == workspace_id, Document.id == document_id)
    )


def outgoing(
    session: Session,
    workspace_id: str,
    document_id: str,
    *,
    kind: str | None,
    source_type: str | None,
    limit: int,
) -> list[RelatedRow]:
    """The documents this one's edges resolve to."""
    query = (
        select(DocumentEdge, DocumentKey.value, Document)
        .join(
            DocumentKey,
            and_(
                DocumentKey.workspace_id == DocumentEdge.workspace_id,
                DocumentKey.key_type == DocumentEdge.target_type,
                DocumentKey.key == DocumentEdge.target_key,
            ),
        )
        .join(Document, Document.id == DocumentKey.document_id)
        .where(
            DocumentEdge.workspace_id == workspace_id,
            DocumentEdge.from_document_id == document_id,
            DocumentKey.document_id != document_id,
        )
        .order_by(DocumentEdge.id, Document.id)
    )
    if kind:
        query = query.where(DocumentEdge.kind == kind)
    if source_type:
        query = query.where(Document.source_type == source_type)
    return _rows(session, query, "out", limit)


def incoming(
    session: Session,
    workspace_id: str,
    document_id: str,
    *,
    kind: str | None,
    source_type: str | None,
    limit: int,
) -> list[RelatedRow]:
    """The documents whose edges resolve to this one: its keys, then the edges naming them."""
    query = (
        select(DocumentEdge, DocumentKey.value, Document)
        .select_from(DocumentKey)
        .join(
            DocumentEdge,
            and_(
                DocumentEdge.workspace_id == DocumentKey.workspace_id,
                DocumentEdge.target_type == DocumentKey.key_type,
                DocumentEdge.target_key == DocumentKey.key,
            ),
        )
        .join(Document, Document.id == DocumentEdge.from_document_id)
        .where(
            DocumentKey.workspace_id == workspace_id,
            DocumentKey.document_id == document_id,
            DocumentEdge.from_document_id != document_id,
        )
        .order_by(DocumentEdge.id)
    )
    if kind:
        query = query.where(DocumentEdge.kind == kind)
    if source_type:
        query = query.where(Document.source_type == source_type)
    return _rows(session, query, "in", limit)


def _rows(session: Session, query: object, direction: str, limit: int) -> list[RelatedRow]:
    """Rows of an edge/key join, a commit's abbreviation checked against the full sha of the other side
    (seven hex chars match, the rest must agree), one per (document, kind); at most ``limit``."""
    found: dict[tuple[str, str], RelatedRow] = {}
    # Read a bounded window past the limit: rows dropped by the prefix check or as duplicates are few.
    for edge, key_value, document in session.execute(query.limit(limit * 4 + 20)):  # type: ignore[attr-defined]
        target = Target(edge.target_type, edge.target_value)
        if not target.same_as(Target(edge.target_type, key_value)):
            continue
        found.setdefault(
            (document.id, edge.kind), RelatedRow(document, direction, edge.kind, target, edge.evidence)
        )
        if len(found) >= limit:
            break
    return list(found.values())


def unresolved(session: Session, workspace_id: str, document_id: str, limit: int) -> list[UnresolvedRow]:
    """This document's edges no document of the workspace answers to (yet)."""
    resolved = (
        select(DocumentKey.id)
        .where(
            DocumentKey.workspace_id == DocumentEdge.workspace_id,
            DocumentKey.key_type == DocumentEdge.target_type,
            DocumentKey.key == DocumentEdge.target_key,
            DocumentKey.document_id != document_id,
        )
        .exists()
    )
    rows = session.scalars(
        select(DocumentEdge)
        .where(
            DocumentEdge.from_document_id == document_id, DocumentEdge.workspace_id == workspace_id, ~resolved
        )
        .order_by(DocumentEdge.id)
        .limit(limit)
    )
    return [UnresolvedRow(r.kind, Target(r.target_type, r.target_value), r.evidence) for r in rows]


def keys_of(session: Session, document_ids: Iterable[str]) -> dict[str, list[Target]]:
    ids = list(document_ids)
    out: dict[str, list[Target]] = {i: [] for i in ids}
    if not ids:
        return out
    for row in session.scalars(select(DocumentKey).where(DocumentKey.document_id.in_(ids))):
        out[row.document_id].append(Target(row.key_type, row.value))
    return out


def document_page(session: Session, workspace_id: str | None, after: str, size: int) -> list[Document]:
    """Documents by id after ``after`` (keyset pagination), of one workspace or of all: a relink's batch."""
    query = select(Document).where(Document.id > after).order_by(Document.id).limit(size)
    if workspace_id is not None:
        query = query.join(Store, Store.id == Document.store_id).where(Store.workspace_id == workspace_id)
    return list(session.scalars(query))
