"""PostgreSQL: a log of changed chunk rows, so each process's in-memory BM25 index catches up with a write

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-28 12:30:00

SQLite has had this log since 0004 (``vector_changes``). On PostgreSQL, ids from a sequence are handed
out in the order transactions ask, not the order they commit, so a reader that remembered "the last id I
saw" could skip a row committed later with a smaller id. Each row therefore also records its writing
transaction (``xid``: ``pg_current_xact_id()``, 64 bits with the epoch, never wrapping, stored as a
bigint). A reader remembers the oldest transaction still running
when it read (``pg_snapshot_xmin``): every transaction older than that had finished, so its rows were
read; the next catch-up reads the rows of every transaction from there on (some again, which changes
nothing: a catch-up drops a seq and adds its row as it is now).

Statement-level triggers with transition tables write one INSERT per statement, not one per row. The
log keeps about the newest ``KEEP`` changes (``search_change_horizon.keep``): when a write crosses a
multiple of 4,096 ids, the changes of transactions older than the one ``keep`` ids back are deleted and
that transaction is recorded in ``search_change_horizon``; a reader whose position is older rebuilds its
index from the table. ``lightfast index rebuild`` moves the horizon to its own transaction, so every
process rebuilds.
"""

from __future__ import annotations

from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

KEEP = 262_144

_LOG_FUNCTION = """
CREATE FUNCTION lightfast_log_search_changes() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    logged bigint;
    newest bigint;
    horizon bigint;
BEGIN
    INSERT INTO search_changes (seq) SELECT seq FROM changed_rows;
    GET DIAGNOSTICS logged = ROW_COUNT;
    IF logged = 0 THEN
        RETURN NULL;
    END IF;
    newest := currval(pg_get_serial_sequence('search_changes', 'id'));
    IF newest / 4096 <> (newest - logged) / 4096 THEN
        SELECT c.xid INTO horizon FROM search_changes c, search_change_horizon h
        WHERE c.id <= newest - h.keep ORDER BY c.id DESC LIMIT 1;
        IF horizon IS NOT NULL THEN
            DELETE FROM search_changes WHERE xid < horizon;
            UPDATE search_change_horizon SET pruned_below = greatest(pruned_below, horizon);
        END IF;
    END IF;
    RETURN NULL;
END
$$
"""

# The seq of a chunk row never changes (an identity key): an update logs its new image only.
TRIGGERS = {
    "vector_entries_search_insert": "AFTER INSERT ON vector_entries REFERENCING NEW TABLE AS changed_rows",
    "vector_entries_search_update": "AFTER UPDATE ON vector_entries REFERENCING NEW TABLE AS changed_rows",
    "vector_entries_search_delete": "AFTER DELETE ON vector_entries REFERENCING OLD TABLE AS changed_rows",
}


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        "CREATE TABLE search_changes (id bigserial PRIMARY KEY, "
        "xid bigint NOT NULL DEFAULT pg_current_xact_id()::text::bigint, seq bigint NOT NULL)"
    )
    op.execute("CREATE INDEX ix_search_changes_xid ON search_changes (xid)")
    op.execute(
        "CREATE TABLE search_change_horizon "
        "(id integer PRIMARY KEY CHECK (id = 1), pruned_below bigint NOT NULL, keep bigint NOT NULL)"
    )
    op.execute(f"INSERT INTO search_change_horizon (id, pruned_below, keep) VALUES (1, 0, {KEEP})")
    op.execute(_LOG_FUNCTION)
    for name, when in TRIGGERS.items():
        op.execute(
            f"CREATE TRIGGER {name} {when} FOR EACH STATEMENT EXECUTE FUNCTION lightfast_log_search_changes()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name in TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name} ON vector_entries")
    op.execute("DROP FUNCTION IF EXISTS lightfast_log_search_changes()")
    op.execute("DROP TABLE IF EXISTS search_change_horizon")
    op.execute("DROP TABLE IF EXISTS search_changes")
