"""SQLite: a log of changed chunk rows, so an in-process vector index catches up with a write

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 03:30:00

Each process searches a store's vectors in memory (``lightfast.index.sqlite``). Triggers append the
``(store_id, seq)`` of every inserted, deleted or updated ``vector_entries`` row to ``vector_changes``
in the writing transaction, cascaded deletes included; a process reads the log past the position it
last saw and reloads only those rows. SQLite reuses the seq of a deleted row at the top of the table,
so a seq alone cannot tell a new row from an old one: the log names every seq whose row changed.

The log keeps the newest ``KEEP`` changes: every 4,096th change deletes those before them. A process
that has fallen further behind finds the rows after its position gone and reloads the whole store.
A migration that recreates ``vector_entries`` (batch mode) must recreate these triggers, like the FTS5
ones of 0001. PostgreSQL searches in the database and needs no log.
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

KEEP = 262_144
TRIGGERS = {
    "vector_entries_changes_insert": "AFTER INSERT ON vector_entries BEGIN "
    "INSERT INTO vector_changes (store_id, seq) VALUES (new.store_id, new.seq); END",
    "vector_entries_changes_delete": "AFTER DELETE ON vector_entries BEGIN "
    "INSERT INTO vector_changes (store_id, seq) VALUES (old.store_id, old.seq); END",
    "vector_entries_changes_update": "AFTER UPDATE ON vector_entries BEGIN "
    "INSERT INTO vector_changes (store_id, seq) VALUES (old.store_id, old.seq); "
    "INSERT INTO vector_changes (store_id, seq) VALUES (new.store_id, new.seq); END",
    "vector_changes_prune": "AFTER INSERT ON vector_changes WHEN new.id % 4096 = 0 BEGIN "
    f"DELETE FROM vector_changes WHERE id <= new.id - {KEEP}; END",
}


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    # AUTOINCREMENT: ids only grow, even if the log is emptied, so a reader's position stays meaningful.
    op.execute(
        "CREATE TABLE vector_changes (id INTEGER PRIMARY KEY AUTOINCREMENT, "
        "store_id VARCHAR(191) NOT NULL, seq INTEGER NOT NULL)"
    )
    for name, body in TRIGGERS.items():
        op.execute(f"CREATE TRIGGER {name} {body}")


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for name in TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.execute("DROP TABLE IF EXISTS vector_changes")
