"""The relationship graph's application side (issue 14): a document's links written with it, the commits
of a push recorded with their changed paths, and a document's related documents for the API, the CLI,
MCP, search and the console, always within the caller's workspace."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy.orm import Session, sessionmaker

from lightfast.db import relationships as repo
from lightfast.db import tenancy
from lightfast.db.models import SOURCE_TYPES, Document, Store
from lightfast.errors import InvalidInput, NotFound
from lightfast.relationships import EDGE_KINDS, DocumentLinks, document_links
from lightfast.relationships.documents import commit_sha, repository_of
from lightfast.relationships.model import GITHUB
from lightfast.sources.base import SourceFile

Direction = Literal["out", "in", "both"]
DIRECTIONS: tuple[Direction, ...] = ("out", "in", "both")
MAX_LIMIT = 100
DEFAULT_LIMIT = 25
# Search results carry a few related documents each: enough to follow, bounded for a page of results.
SEARCH_RELATED_PER_RESULT = 5
RELINK_BATCH = 200  # documents a transaction when links are extracted again
# A push lists at most 20 commits (GitHub's payload limit), each with at most a few thousand paths.
MAX_PUSH_COMMITS = 20
MAX_PATHS_PER_COMMIT = 3000
_PR_IN_MESSAGE = re.compile(r"\(#(\d{1,9})\)\s*$|^Merge pull request #(\d{1,9})\b", re.MULTILINE)


def write_links(
    session: Session,
    store: Store,
    document_id: str,
    source_type: str,
    file: SourceFile,
    links: DocumentLinks,
    *,
    new: bool = False,
) -> None:
    """Inside the document's write transaction: its keys (with, for a GitHub file, the commits pushes
    recorded for its path) and its outgoing edges, replacing the previous version's."""
    keys = list(links.identities)
    if source_type == GITHUB:
        repository = repository_of(source_type, file.metadata)
        if repository:
            keys.extend(repo.commit_keys(session, store.workspace_id, repository, file.path))
    repo.replace_document(
        session,
        workspace_id=store.workspace_id,
        store_id=store.id,
        document_id=document_id,
        identities=keys,
        edges=links.edges,
        new=new,
    )


def push_commits(payload: Mapping[str, Any]) -> list[tuple[str, int | None, list[str]]]:
    """``(sha, pull request merged, changed paths)`` of each commit a push payload lists (bounded); a
    commit whose id is not a sha is skipped."""
    commits = payload.get("commits")
    out: list[tuple[str, int | None, list[str]]] = []
    for commit in commits[:MAX_PUSH_COMMITS] if isinstance(commits, list) else []:
        if not isinstance(commit, Mapping):
            continue
        sha = commit_sha(commit.get("id") if isinstance(commit.get("id"), str) else None)
        if sha is None or len(sha) != 40:
            continue
        paths: list[str] = []
        for field in ("added", "modified", "removed"):
            listed = commit.get(field)
            if isinstance(listed, list):
                paths.extend(p for p in listed if isinstance(p, str) and p)
        message = commit.get("message") if isinstance(commit.get("message"), str) else ""
        found = _PR_IN_MESSAGE.search(str(message)[:2000])
        pull = int(found.group(1) or found.group(2)) if found else None
        out.append((sha, pull, paths[:MAX_PATHS_PER_COMMIT]))
    return out


@dataclass(frozen=True)
class Related:
    document: Document
    direction: str
    kind: str
    target_type: str
    target_key: str
    evidence: str


@dataclass(frozen=True)
class Unresolved:
    kind: str
    target_type: str
    target_key: str
    evidence: str


@dataclass(frozen=True)
class RelatedPage:
    document: Document
    items: list[Related]
    unresolved: list[Unresolved]


def _check(direction: str, kind: str | None, source_type: str | None, limit: int) -> None:
    if direction not in DIRECTIONS:
        raise InvalidInput(f"direction must be one of {', '.join(DIRECTIONS)}", field="direction")
    if kind is not None and kind not in EDGE_KINDS:
        raise InvalidInput(f"kind must be one of {', '.join(EDGE_KINDS)}", field="kind")
    if source_type is not None and source_type not in (*SOURCE_TYPES, "git"):
        raise InvalidInput(f"sourceType must be one of {', '.join(SOURCE_TYPES)}", field="sourceType")
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}", field="limit")


class RelationshipService:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def record_push(self, workspace_id: str, repository: str, payload: Mapping[str, Any]) -> int:
        """Record a push's commits and the paths they changed, so each commit key resolves to the GitHub
        documents of those paths (and the pull request a commit merged, to them as well)."""
        commits = push_commits(payload)
        if not commits:
            return 0
        with self.sessions.begin() as session:
            return repo.record_commit_changes(session, workspace_id, repository.lower(), commits)

    def related(
        self,
        workspace_id: str,
        document_id: str,
        *,
        direction: str = "both",
        kind: str | None = None,
        source_type: str | None = None,
        limit: int = DEFAULT_LIMIT,
    ) -> RelatedPage:
        """What a document points at and what points at it; a document of another workspace is as absent
        as a missing one."""
        _check(direction, kind, source_type, limit)
        with self.sessions() as session:
            document = repo.document_in_workspace(session, workspace_id, document_id)
            if document is None:
                raise NotFound(f"document {document_id!r} does not exist")
            rows: list[repo.RelatedRow] = []
            if direction in ("out", "both"):
                rows += repo.outgoing(
                    session, workspace_id, document_id, kind=kind, source_type=source_type, limit=limit
                )
            if direction in ("in", "both"):
                rows += repo.incoming(
                    session, workspace_id, document_id, kind=kind, source_type=source_type, limit=limit
                )
            pending = (
                repo.unresolved(session, workspace_id, document_id, limit)
                if direction in ("out", "both") and source_type is None
                else []
            )
            items = [
                Related(r.document, r.direction, r.kind, r.target.type, r.target.key, r.evidence)
                for r in rows[:limit]
            ]
            if kind is not None:
                pending = [p for p in pending if p.kind == kind]
            session.expunge_all()  # the rows are read whole; the page outlives the session
        return RelatedPage(
            document,
            items,
            [Unresolved(p.kind, p.target.type, p.target.key, p.evidence) for p in pending],
        )

    def relink(self, workspace_id: str | None = None, batch: int = RELINK_BATCH) -> int:
        """Extract every stored document's links again from its stored text and metadata, a batch of
        documents a transaction: for documents indexed before the graph existed (migration 0016), whose
        unchanged content the next sync skips, or after the patterns change. Returns the documents read."""
        done, after = 0, ""
        while True:
            with self.sessions.begin() as session:
                documents = repo.document_page(session, workspace_id, after, batch)
                for document in documents:
                    metadata = dict(document.source_metadata or {})
                    file = SourceFile(document.source_id, document.path, lambda: b"", metadata=metadata)
                    links = document_links(
                        document.source_type,
                        document.source_id,
                        document.path,
                        document.content or "",
                        metadata,
                        document.relationships,
                    )
                    store = tenancy.find_store(session, document.store_id)
                    if store is None:  # pragma: no cover - the foreign key keeps it
                        continue
                    write_links(session, store, document.id, document.source_type, file, links)
                    document.relationships = links.relationships or None
            if not documents:
                return done
            done += len(documents)
            after = documents[-1].id

    def related_many(
        self, workspace_id: str, document_ids: Sequence[str], per_document: int = SEARCH_RELATED_PER_RESULT
    ) -> dict[str, list[Related]]:
        """A few related documents of each of ``document_ids`` (a page of search results, already of the
        workspace), both directions, read in one session; the edges themselves are workspace-scoped."""
        out: dict[str, list[Related]] = {}
        with self.sessions() as session:
            for document_id in dict.fromkeys(document_ids):
                rows = repo.outgoing(
                    session, workspace_id, document_id, kind=None, source_type=None, limit=per_document
                )
                if len(rows) < per_document:
                    rows += repo.incoming(
                        session,
                        workspace_id,
                        document_id,
                        kind=None,
                        source_type=None,
                        limit=per_document - len(rows),
                    )
                out[document_id] = [
                    Related(r.document, r.direction, r.kind, r.target.type, r.target.key, r.evidence)
                    for r in rows
                ]
            session.expunge_all()
        return out
