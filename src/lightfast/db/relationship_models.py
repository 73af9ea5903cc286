"""Tables of the relationship graph (issue 14). Imported at the end of ``lightfast.db.models`` so they are
part of its metadata (migration 0016 creates them).

An edge names its target by key (``("linear", "ENG-7")``), not by document: the target may not exist
yet, and one key may be several documents (a commit is every file it changed). What each document IS is
in ``document_keys``; an edge resolves by joining the two on (workspace, type, key), both sides indexed,
so a document arriving later is found by the mentions made before it, and a document deleted takes its
keys and its edges with it (ON DELETE CASCADE) and stops being found."""

from __future__ import annotations

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from lightfast.db.models import Base


class DocumentEdge(Base):
    """One edge from a document: its kind, the target's type and key, and the words that said so."""

    __tablename__ = "document_edges"
    __table_args__ = (
        Index("ix_document_edges_from", "from_document_id"),
        # "What points at this": the keys of a document, then this index.
        Index("ix_document_edges_target", "workspace_id", "target_type", "target_key"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    store_id: Mapped[str] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"))
    from_document_id: Mapped[str] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    target_type: Mapped[str] = mapped_column(String(16))
    # The key matched on (a commit's first seven hex), and the key as written (a commit's full sha).
    target_key: Mapped[str] = mapped_column(String(255))
    target_value: Mapped[str] = mapped_column(String(255))
    evidence: Mapped[str] = mapped_column(String(200), default="")


class DocumentKey(Base):
    """One key a document is known by: a Linear issue its identifier, a deployment its id and commit, a
    GitHub file each recent commit that changed it."""

    __tablename__ = "document_keys"
    __table_args__ = (
        Index("ix_document_keys_document", "document_id"),
        Index("ix_document_keys_key", "workspace_id", "key_type", "key"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"))
    key_type: Mapped[str] = mapped_column(String(16))
    key: Mapped[str] = mapped_column(String(255))
    value: Mapped[str] = mapped_column(String(255))


class CommitChange(Base):
    """A path a pushed commit added, modified or removed (the push payload's ``commits[]``), and the pull
    request the commit merged when its message says so: what makes a commit key resolve to files."""

    __tablename__ = "commit_changes"
    __table_args__ = (
        Index("ix_commit_changes_path", "workspace_id", "repository", "path"),
        Index("ix_commit_changes_sha", "workspace_id", "sha"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    repository: Mapped[str] = mapped_column(String(200))  # owner/repo, lowercase
    sha: Mapped[str] = mapped_column(String(40))
    path: Mapped[str] = mapped_column(String(1024))
    pull_request: Mapped[int | None] = mapped_column(Integer)
