"""The persisted vector tables (index/vector_file.py): a new process starts from the file and catches up
from the change log; any doubt about the file means a full load from the database, which answers
correctly and writes the file again."""

from __future__ import annotations

import json
import logging
import re
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from lightfast.app.container import Services
from lightfast.index import row_count, vector_file
from lightfast.index.base import SearchFilters
from lightfast.index.sqlite import SqliteIndex
from lightfast.index.vector_file import FileIdentity, VectorFileRejected
from lightfast.index.vectors import ChunkRows, Snapshot, VectorTable
from tests.conftest import write

CONFIG = "version: 1\nstore: main\ninclude:\n  - '**/*.md'\n"
WORDS = ["kernel", "cache", "invoice", "refund", "deploy", "helm", "webhook", "retry", "latency", "policy"]


# -- the file alone -----------------------------------------------------------------------------------


def chunk_rows(seqs: list[int], dim: int, salt: int = 0) -> ChunkRows:
    rng = np.random.default_rng([*seqs, salt] if seqs else [salt])
    matrix = rng.standard_normal((len(seqs), dim)).astype(np.float32)
    return ChunkRows(
        seqs=np.array(seqs, dtype=np.int64),
        # Non-ASCII and empty strings: the string columns are UTF-8 with offsets.
        document_ids=np.array([f"doc{s % 5}-é" for s in seqs], dtype=object),
        source_types=np.array([("local", "github", "")[s % 3] for s in seqs], dtype=object),
        paths=np.array([f"p/{s % 7}/ünï.md" for s in seqs], dtype=object),
        updated=rng.uniform(0, 2e9, len(seqs)),
        matrix=matrix,
    )


def live_rows(snapshot: Snapshot) -> dict[int, tuple[str, str, str, float, bytes]]:
    alive = np.flatnonzero(snapshot.alive)
    return {
        int(snapshot.seqs[i]): (
            snapshot.document_ids[i],
            snapshot.source_types[i],
            snapshot.paths[i],
            float(snapshot.updated[i]),
            snapshot.matrix[i].tobytes(),
        )
        for i in alive
    }


IDENTITY = FileIdentity("db1", "st_abc", 6)

operations = st.lists(
    st.tuples(
        st.lists(st.integers(0, 80), max_size=15), st.lists(st.integers(0, 80), max_size=15, unique=True)
    ),
    max_size=20,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operations, st.integers(0, 10**12))
def test_any_table_round_trips(
    tmp_path: Path, steps: list[tuple[list[int], list[int]]], position: int
) -> None:
    table = VectorTable(IDENTITY.dim)
    for salt, (removed, added) in enumerate(steps):
        # As a catch-up does: every seq it adds is one it drops first (a table never holds a seq twice).
        table.apply(np.array(removed + added, dtype=np.int64), chunk_rows(added, IDENTITY.dim, salt))
    path = tmp_path / "t.lfvec"
    assert vector_file.write(path, IDENTITY, table.snapshot(), position) == table.live

    loaded = vector_file.read(path, IDENTITY, lambda n: n + 3)
    restored = VectorTable.adopt(loaded.rows, loaded.storage)
    assert loaded.position == position
    assert len(loaded.storage) == len(loaded.rows) + 3
    assert live_rows(restored.snapshot()) == live_rows(table.snapshot())
    # The restored table takes further changes like any other (it grows past its storage too).
    more = chunk_rows(list(range(100, 110)), IDENTITY.dim)
    restored.apply(np.array([1, 2], dtype=np.int64), more)
    table.apply(np.array([1, 2], dtype=np.int64), more)
    assert live_rows(restored.snapshot()) == live_rows(table.snapshot())


def test_a_large_matrix_is_read_into_anonymous_memory_that_takes_appends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(vector_file, "_PLAIN_ALLOCATION", 0)  # the path of matrices of 64 MiB and more
    table = VectorTable(IDENTITY.dim)
    table.apply(np.empty(0, dtype=np.int64), chunk_rows(list(range(40)), IDENTITY.dim))
    path = tmp_path / "t.lfvec"
    vector_file.write(path, IDENTITY, table.snapshot(), 1)
    loaded = vector_file.read(path, IDENTITY, lambda n: n + 2)
    assert not loaded.storage.flags.owndata  # a view of the anonymous mapping, not a NumPy allocation
    restored = VectorTable.adopt(loaded.rows, loaded.storage)
    more = chunk_rows(list(range(40, 45)), IDENTITY.dim)  # past the storage's capacity: the table grows
    restored.apply(np.empty(0, dtype=np.int64), more)
    table.apply(np.empty(0, dtype=np.int64), more)
    assert live_rows(restored.snapshot()) == live_rows(table.snapshot())


@pytest.fixture
def small_file(tmp_path: Path) -> Path:
    table = VectorTable(IDENTITY.dim)
    table.apply(np.empty(0, dtype=np.int64), chunk_rows(list(range(50)), IDENTITY.dim))
    path = tmp_path / "t.lfvec"
    vector_file.write(path, IDENTITY, table.snapshot(), 7)
    return path


def header_of(path: Path) -> tuple[dict[str, object], int]:
    data = path.read_bytes()
    length = int(np.frombuffer(data[-16:-12], dtype="<u4")[0])
    start = len(data) - 16 - length
    return json.loads(data[start : start + length]), start


def rewrite_header(path: Path, change: dict[str, object]) -> None:
    """A header that is well-formed (its checksum right) but says something else."""
    header, start = header_of(path)
    encoded = json.dumps({**header, **change}).encode()
    trailer = np.array([len(encoded), zlib.crc32(encoded)], dtype="<u4").tobytes() + vector_file.MAGIC
    path.write_bytes(path.read_bytes()[:start] + encoded + trailer)


def test_every_byte_of_a_file_is_checked(small_file: Path) -> None:
    data = small_file.read_bytes()
    header, _ = header_of(small_file)
    padding = set()  # alignment bytes between sections belong to no section and are not checked
    ends = sorted((s["offset"], s["offset"] + s["length"]) for s in header["sections"].values())  # type: ignore[attr-defined]
    previous = len(vector_file.MAGIC)
    for start, end in ends:
        padding.update(range(previous, start))
        previous = end
    for position in range(len(data)):
        if position in padding:
            continue
        damaged = bytearray(data)
        damaged[position] ^= 0x40
        small_file.write_bytes(bytes(damaged))
        with pytest.raises(VectorFileRejected):
            vector_file.read(small_file, IDENTITY, lambda n: n)


@pytest.mark.parametrize("keep", [0, 5, 30, 1000, -17, -1])
def test_a_truncated_file_is_rejected(small_file: Path, keep: int) -> None:
    data = small_file.read_bytes()
    small_file.write_bytes(data[:keep])
    with pytest.raises(VectorFileRejected, match=r"truncated|corrupt|not a vector file"):
        vector_file.read(small_file, IDENTITY, lambda n: n)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"format": 2}, "format version 2"),
        ({"database_id": "db2"}, "another database"),
        ({"store_id": "st_other"}, "of store 'st_other'"),
        ({"dim": 7}, "dimension 7"),
        ({"rows": 51}, "section seqs"),
        ({"position": -1}, "position"),
        ({"sections": {}}, "section seqs is missing"),
    ],
)
def test_a_file_that_says_something_else_is_rejected(
    small_file: Path, change: dict[str, object], reason: str
) -> None:
    rewrite_header(small_file, change)
    with pytest.raises(VectorFileRejected, match=reason):
        vector_file.read(small_file, IDENTITY, lambda n: n)


def test_a_section_pointing_outside_the_file_is_rejected(small_file: Path) -> None:
    header, _ = header_of(small_file)
    sections = dict(header["sections"])  # type: ignore[call-overload]
    sections["matrix"] = {**sections["matrix"], "offset": 10**12}
    rewrite_header(small_file, {"sections": sections})
    with pytest.raises(VectorFileRejected, match="section matrix"):
        vector_file.read(small_file, IDENTITY, lambda n: n)


def test_a_store_id_never_names_a_path_outside_the_directory(tmp_path: Path) -> None:
    path = vector_file.file_path(tmp_path, "../../etc/passwd", 384)
    assert path.parent == tmp_path
    assert path.name.endswith("-384.lfvec")


# -- through the index --------------------------------------------------------------------------------


@pytest.fixture
def services(sqlite_services: Services) -> Services:
    """SQLite only: this is the embedded index."""
    return sqlite_services


def persisting(services: Services) -> SqliteIndex:
    """The service's index, persisting stores of any size (the default skips small ones)."""
    index = services.index
    assert isinstance(index, SqliteIndex)
    assert index.vector_dir is not None
    index.persist_min_rows = 0
    return index


def restarted(services: Services) -> SqliteIndex:
    """What a new process over the same database and home builds."""
    index = SqliteIndex(persisting(services).vector_dir, persist_min_rows=0)
    return index


def corpus(count: int) -> dict[str, str]:
    return {
        f"docs/page{i:02d}.md": f"# Page {i}\n\n"
        + " ".join(WORDS[(i * j) % len(WORDS)] for j in range(40))
        + "\n"
        for i in range(count)
    }


def store(services: Services) -> tuple[str, int]:
    with services.sessions() as session:
        row = session.execute(text("SELECT id, embedding_dim FROM stores")).one()
        return str(row.id), int(row.embedding_dim)


def nearest(services: Services, index: SqliteIndex, query: str) -> str | None:
    store_id, _ = store(services)
    with services.sessions() as session:
        vector = services.embedder.embed([query])[0]
        hits = index.vector_search(session, [store_id], vector, 1, SearchFilters())
        if not hits:
            return None
        return session.scalar(text("SELECT path FROM documents WHERE id = :id"), {"id": hits[0].document_id})


def live_count(services: Services, index: SqliteIndex) -> int:
    store_id, dim = store(services)
    with services.sessions() as session:
        return index.live_rows(session, store_id, dim)


def database_rows(services: Services) -> int:
    with services.sessions() as session:
        return int(session.scalar(text("SELECT count(*) FROM vector_entries")) or 0)


@pytest.fixture
def persisted(services: Services, tmp_path: Path) -> tuple[Path, Path]:
    """A store ingested, loaded by the index, and its file written: (repo, file)."""
    repo = write(tmp_path / "repo", {"lightfast.yml": CONFIG, **corpus(12)})
    services.ingest.ingest_path(repo)
    index = persisting(services)
    assert nearest(services, index, "kernel cache") is not None
    index.wait_files()
    store_id, dim = store(services)
    assert index.vector_dir is not None
    path = vector_file.file_path(index.vector_dir, store_id, dim)
    assert path.exists()
    return repo, path


def test_a_restart_answers_from_the_file_and_finds_later_changes(
    services: Services, persisted: tuple[Path, Path]
) -> None:
    repo, _ = persisted
    write(repo, {"docs/zygote.md": "# Zygote\n\nThe zygote divides; a zygote is a fertilised cell.\n"})
    (repo / "docs/page03.md").unlink()
    services.ingest.ingest_path(repo)

    index = restarted(services)
    assert nearest(services, index, "zygote cell") == "docs/zygote.md"
    assert index.stats.full_loads == 0
    assert index.stats.file_loads == 1
    assert live_count(services, index) == database_rows(services)
    assert nearest(services, index, "kernel cache") != "docs/page03.md"


def test_the_file_is_written_again_once_the_table_moved_far_past_it(
    services: Services, persisted: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo, path = persisted
    before = header_of(path)[0]["position"]
    monkeypatch.setattr("lightfast.index.sqlite._REWRITE_CHANGES", 0)
    # More changed rows than a tenth of the table (the other bound, _REWRITE_CHANGES, patched to 0).
    write(repo, {f"docs/zygote{i}.md": f"# Zygote {i}\n\nzygote\n" for i in range(3)})
    services.ingest.ingest_path(repo)
    index = persisting(services)
    nearest(services, index, "zygote")
    index.wait_files()
    assert header_of(path)[0]["position"] > before  # type: ignore[operator]
    fresh = restarted(services)
    assert nearest(services, fresh, "zygote") in {f"docs/zygote{i}.md" for i in range(3)}
    assert fresh.stats.rows_loaded == 0  # nothing to catch up


@pytest.mark.parametrize("background", [True, False], ids=["counted-in-background", "counted-after"])
def test_a_write_between_the_catch_up_and_the_check_is_caught_up_not_rejected(
    services: Services, persisted: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch, background: bool
) -> None:
    repo, _ = persisted
    index = restarted(services)
    if not background:  # the count then sees the write: the table must catch up to the count's log id
        monkeypatch.setattr(row_count, "count_in_background", lambda *_: lambda: None)
    catch_up = SqliteIndex._catch_up
    writes: list[int] = []

    def catch_up_then_write(self: SqliteIndex, *args: Any) -> None:
        catch_up(self, *args)
        if not writes:  # another process commits right after the restore's catch-up, before its count
            writes.append(1)
            write(repo, {"docs/zygote.md": "# Zygote\n\nzygote fertilised cell\n"})
            services.ingest.ingest_path(repo)

    monkeypatch.setattr(SqliteIndex, "_catch_up", catch_up_then_write)
    # The first answer is as of the log's head it read, or later: the write may or may not be in it.
    nearest(services, index, "zygote cell")
    assert writes
    assert nearest(services, index, "zygote cell") == "docs/zygote.md"
    assert index.stats.full_loads == 0
    assert index.stats.file_rejections == 0
    assert live_count(services, index) == database_rows(services)


def damage_byte(path: Path) -> None:
    header, _ = header_of(path)
    data = bytearray(path.read_bytes())
    data[header["sections"]["matrix"]["offset"] + 5] ^= 1  # type: ignore[index]  # one bit of a vector
    path.write_bytes(bytes(data))


def forget_log(services: Services) -> None:
    """What pruning does to changes the file has not seen."""
    with services.sessions.begin() as session:
        session.execute(text("DELETE FROM vector_changes"))


def claim_position(path: Path, offset: int) -> None:
    header, _ = header_of(path)
    rewrite_header(path, {"position": int(header["position"]) + offset})  # type: ignore[call-overload]


def drop_a_row_from_the_file(path: Path) -> None:
    """A file whose rows disagree with the database at the same log position (a diverged history)."""
    index_dir, name = path.parent, path.name
    store_id, dim = name.removesuffix(".lfvec").rsplit("-", 1)
    header, _ = header_of(path)
    identity = FileIdentity(str(header["database_id"]), store_id, int(dim))
    loaded = vector_file.read(path, identity, lambda n: n)
    table = VectorTable.adopt(loaded.rows, loaded.storage)
    table.apply(loaded.rows.seqs[:1].copy(), ChunkRows.empty(int(dim)))
    vector_file.write(index_dir / name, identity, table.snapshot(), loaded.position)


@pytest.mark.parametrize(
    ("spoil", "reason", "after"),
    [
        (damage_byte, "checksum", None),
        (lambda path: path.write_bytes(path.read_bytes()[:-100]), "truncated|corrupt", None),
        (lambda path: rewrite_header(path, {"database_id": "another"}), "another database", None),
        (lambda path: claim_position(path, 10_000), "past the database's newest", None),
        (lambda path: None, "pruned past its position", forget_log),
        (drop_a_row_from_the_file, "after catching up it holds", None),
    ],
    ids=["corrupt-byte", "truncated", "other-database", "position-ahead", "pruned-log", "row-count"],
)
def test_a_file_in_doubt_means_a_full_load_that_answers_and_replaces_it(
    services: Services,
    persisted: tuple[Path, Path],
    caplog: pytest.LogCaptureFixture,
    spoil: object,
    reason: str,
    after: object,
) -> None:
    repo, path = persisted
    write(repo, {"docs/zygote.md": "# Zygote\n\nzygote fertilised cell\n"})
    services.ingest.ingest_path(repo)
    spoil(path)  # type: ignore[operator]
    if after is not None:
        after(services)  # type: ignore[operator]
    spoiled = path.read_bytes()

    index = restarted(services)
    with caplog.at_level(logging.WARNING, logger="lightfast.index.sqlite"):
        assert nearest(services, index, "zygote cell") == "docs/zygote.md"
    assert index.stats.full_loads == 1
    assert index.stats.file_loads == 0
    assert index.stats.file_rejections == 1
    [line] = [r.getMessage() for r in caplog.records if "not used" in r.getMessage()]
    assert re.search(reason, line), line
    assert live_count(services, index) == database_rows(services)

    index.wait_files()
    assert path.read_bytes() != spoiled  # replaced by the full load's table
    again = restarted(services)
    assert nearest(services, again, "zygote cell") == "docs/zygote.md"
    assert again.stats.full_loads == 0
    assert again.stats.file_loads == 1


def test_small_stores_are_not_persisted(services: Services, tmp_path: Path) -> None:
    services.ingest.ingest_path(write(tmp_path / "repo", {"lightfast.yml": CONFIG, **corpus(3)}))
    index = services.index
    assert isinstance(index, SqliteIndex)
    assert index.vector_dir is not None
    nearest(services, index, "kernel")
    index.wait_files()
    assert not list(index.vector_dir.glob("*.lfvec"))


def test_no_directory_means_no_files(services: Services, persisted: tuple[Path, Path]) -> None:
    index = SqliteIndex(None, persist_min_rows=0)
    assert nearest(services, index, "kernel cache") is not None
    assert index.stats.full_loads == 1
    assert index.stats.file_loads == 0


def test_a_write_failure_is_logged_and_ignored(
    services: Services, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    services.ingest.ingest_path(write(tmp_path / "repo", {"lightfast.yml": CONFIG, **corpus(4)}))
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    index = SqliteIndex(blocker / "vectors", persist_min_rows=0)
    with caplog.at_level(logging.WARNING, logger="lightfast.index.vector_file"):
        assert nearest(services, index, "kernel cache") is not None
        index.wait_files()
    assert any("could not write" in r.getMessage() for r in caplog.records)


def test_rebuild_removes_the_files(services: Services, persisted: tuple[Path, Path]) -> None:
    _, path = persisted
    index = persisting(services)
    with services.sessions() as session:
        workspace_id = str(session.scalar(text("SELECT workspace_id FROM stores")))
    seen: list[tuple[str, bool]] = []
    state = services.index_maintenance.rebuild(
        workspace_id, progress=lambda line: seen.append((line, path.exists()))
    )
    assert state.consistent
    # Gone before the rebuild loads the vectors again (that load, a full one, writes a new file).
    [(_, exists)] = [(line, exists) for line, exists in seen if line.startswith("loading vectors")]
    assert not exists
    assert any(line.startswith("deleted 1 persisted") for line, _ in seen)
    assert index.stats.full_loads == 2
    assert index.stats.file_loads == 0
