"""A store's in-memory vector table persisted in the data directory, so a new process starts from the
file and catches up from the change log instead of reading every chunk row from SQLite.

The file is only an accelerator: ``SqliteIndex`` checks everything it can before trusting it and falls
back to loading the store from the database (then writes a new file) when anything is off. Nothing in it
is executable (no pickle): fixed-width little-endian columns, strings as UTF-8 with offsets, a JSON
header. Layout::

    MAGIC | section ... | header JSON | header length (u32) | header CRC-32 (u32) | MAGIC

The header, at the end so it can carry each section's CRC-32 computed while writing, names the format
version, the database's identity, the store, the dimension, the row count, the change-log position the
rows reflect, and each section's offset, length and CRC-32. A file cut short loses its trailing magic;
a flipped byte fails a CRC. CRC-32 over the whole file, the 1.5 GB matrix of a 1M-chunk store included,
costs about 0.2 s here (zlib.crc32 runs at ~7 GB/s): cheap enough to check every byte at start.

Strings are dictionary-encoded: a document's chunks share its id and path, and a store has a few source
types, so a column is its distinct values (UTF-8 bytes and their end offsets) and a u32 code per row.
"""

from __future__ import annotations

import io
import json
import logging
import mmap
import os
import re
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from lightfast.index.vectors import ChunkRows, Snapshot

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
MAGIC = b"LFVEC\x00\x01\n"
SUFFIX = ".lfvec"
_TRAILER = 4 + 4 + len(MAGIC)
_ALIGN = 64  # sections start on cache-line boundaries, so a column can be viewed in place
_MAX_HEADER = 1 << 20  # a header is a few hundred bytes; anything larger is not ours
_WRITE_BLOCK = 32_768  # matrix rows gathered and written at a time (12 MiB at dim 384)
_STALE_TEMP_SECONDS = 3600.0  # a temp file this old was left by a process that died while writing
_PLAIN_ALLOCATION = 64 << 20  # bytes: below this a matrix is a plain NumPy array
_STRING_COLUMNS = ("document_ids", "source_types", "paths")


class VectorFileRejected(Exception):
    """The file cannot stand for the store now; ``reason`` says why in one line."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class FileIdentity:
    """What a file must have been taken from to be used: this database, this store, this dimension."""

    database_id: str
    store_id: str
    dim: int


@dataclass(frozen=True)
class LoadedVectors:
    rows: ChunkRows  # rows.matrix is storage[: len(rows)]
    storage: np.ndarray  # float32 (capacity, dim): the table's matrix, read in place, room to grow
    position: int  # the last vector_changes id the rows reflect


def file_path(directory: Path, store_id: str, dim: int) -> Path:
    """Store ids are ``st_<hex>``; anything else is hashed so an id never names a path outside."""
    safe = (
        store_id
        if re.fullmatch(r"[A-Za-z0-9_-]{1,100}", store_id)
        else f"x{zlib.crc32(store_id.encode()):08x}"
    )
    return directory / f"{safe}-{dim}{SUFFIX}"


def store_files(directory: Path, store_id: str) -> list[Path]:
    """The files of every dimension of the store."""
    stem = file_path(directory, store_id, 0).name.removesuffix(f"-0{SUFFIX}")
    return sorted(
        p for p in directory.glob(f"{stem}-*{SUFFIX}") if p.name[len(stem) + 1 : -len(SUFFIX)].isdigit()
    )


def remove_all(directory: Path) -> int:
    """Delete every vector file (``index rebuild``); returns how many there were."""
    removed = 0
    if directory.is_dir():
        for path in directory.glob(f"*{SUFFIX}"):
            path.unlink(missing_ok=True)
            removed += 1
    return removed


# -- writing ------------------------------------------------------------------------------------------


def write(path: Path, identity: FileIdentity, snapshot: Snapshot, position: int) -> int:
    """Write the snapshot's live rows atomically (temp file, fsync, rename, fsync of the directory);
    returns the row count. A snapshot never changes once published, so this may run in any thread."""
    if snapshot.matrix.shape[1:] != (identity.dim,):
        raise ValueError(f"a snapshot of dimension {snapshot.matrix.shape[1:]} for a file of {identity.dim}")
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temps(path)
    temp = path.with_name(f".{path.name}.{os.getpid()}.{time.monotonic_ns()}.tmp")
    live = np.flatnonzero(snapshot.alive)
    try:
        with open(temp, "wb") as out:
            writer = _SectionWriter(out)
            writer.section("seqs", [np.ascontiguousarray(snapshot.seqs[live], dtype="<i8").tobytes()])
            writer.section("updated", [np.ascontiguousarray(snapshot.updated[live], dtype="<f8").tobytes()])
            for name in _STRING_COLUMNS:
                codes, offsets, blob = _encode_strings(getattr(snapshot, name)[live])
                writer.section(f"{name}.codes", [codes.tobytes()])
                writer.section(f"{name}.offsets", [offsets.tobytes()])
                writer.section(f"{name}.values", [blob])
            writer.section("matrix", _matrix_blocks(snapshot.matrix, live))
            header = {
                "format": FORMAT_VERSION,
                "database_id": identity.database_id,
                "store_id": identity.store_id,
                "dim": identity.dim,
                "rows": len(live),
                "position": position,
                "written_at": time.time(),
                "sections": writer.sections,
            }
            encoded = json.dumps(header, separators=(",", ":")).encode()
            out.write(encoded)
            out.write(np.array([len(encoded), zlib.crc32(encoded)], dtype="<u4").tobytes())
            out.write(MAGIC)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    _fsync_directory(path.parent)
    return len(live)


class _SectionWriter:
    def __init__(self, out: BinaryIO) -> None:
        self.out = out
        self.offset = 0
        self.sections: dict[str, dict[str, int]] = {}
        self._write(MAGIC)

    def _write(self, data: bytes | memoryview) -> None:
        self.out.write(data)
        self.offset += len(data)

    def section(self, name: str, parts: Iterator[bytes] | list[bytes]) -> None:
        self._write(b"\x00" * (-self.offset % _ALIGN))
        start, crc = self.offset, 0
        for part in parts:
            crc = zlib.crc32(part, crc)
            self._write(part)
        self.sections[name] = {"offset": start, "length": self.offset - start, "crc32": crc}


def _matrix_blocks(matrix: np.ndarray, live: np.ndarray) -> Iterator[bytes]:
    # Gathered a block at a time: a copy of a 1M-row matrix's live rows would double its 1.5 GB.
    for start in range(0, len(live), _WRITE_BLOCK):
        yield np.ascontiguousarray(matrix[live[start : start + _WRITE_BLOCK]], dtype="<f4").tobytes()


def _encode_strings(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, bytes]:
    """(u32 code per row, u64 end offset per distinct value, the distinct values' UTF-8 bytes)."""
    index: dict[str, int] = {}
    codes = np.fromiter((index.setdefault(v, len(index)) for v in values), dtype="<u4", count=len(values))
    encoded = [v.encode() for v in index]
    offsets = np.cumsum([len(e) for e in encoded], dtype="<u8") if encoded else np.empty(0, dtype="<u8")
    return codes, offsets.astype("<u8", copy=False), b"".join(encoded)


def _fsync_directory(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # some platforms cannot open a directory; the rename is durable enough there
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove_stale_temps(path: Path) -> None:
    for temp in path.parent.glob(f".{path.name}.*.tmp"):
        try:
            if time.time() - temp.stat().st_mtime > _STALE_TEMP_SECONDS:
                temp.unlink()
        except OSError:
            continue


class BackgroundWriter:
    """Writes files in threads of their own, one at a time per file. The threads are not daemons: a
    process that exits right after its first search still leaves its file. A failure is logged, never
    raised: the file is only an accelerator."""

    def __init__(self) -> None:
        self._threads: dict[Path, threading.Thread] = {}
        self._lock = threading.Lock()
        self.written = 0

    def submit(self, path: Path, identity: FileIdentity, snapshot: Snapshot, position: int) -> bool:
        """Start writing; False (nothing done) while the previous write of ``path`` runs."""
        with self._lock:
            running = self._threads.get(path)
            if running is not None and running.is_alive():
                return False
            thread = threading.Thread(
                target=self._write, args=(path, identity, snapshot, position), name=f"vector-file {path.name}"
            )
            self._threads[path] = thread
            thread.start()
            return True

    def wait(self) -> None:
        with self._lock:
            threads = list(self._threads.values())
        for thread in threads:
            thread.join()

    def _write(self, path: Path, identity: FileIdentity, snapshot: Snapshot, position: int) -> None:
        started = time.perf_counter()
        try:
            rows = write(path, identity, snapshot, position)
            for other in store_files(path.parent, identity.store_id):
                if other != path:  # the store's vectors of a model it no longer uses
                    other.unlink(missing_ok=True)
        except Exception:
            log.warning("could not write %s (the next start loads from the database)", path, exc_info=True)
            return
        with self._lock:
            self.written += 1
        log.info(
            "wrote %s: %d vectors at change-log id %d in %.2f s",
            path,
            rows,
            position,
            time.perf_counter() - started,
        )


# -- reading ------------------------------------------------------------------------------------------


def read(path: Path, identity: FileIdentity, capacity: Callable[[int], int]) -> LoadedVectors:
    """The file's rows, the matrix read straight into a ``(capacity(rows), dim)`` array. Raises
    ``VectorFileRejected`` for a missing, foreign, truncated or corrupt file."""
    try:
        with open(path, "rb") as source:
            return _read(source, os.fstat(source.fileno()).st_size, identity, capacity)
    except FileNotFoundError:
        raise VectorFileRejected("no file") from None
    except OSError as exc:
        raise VectorFileRejected(f"unreadable: {exc}") from None


def _read(
    source: io.BufferedReader, size: int, identity: FileIdentity, capacity: Callable[[int], int]
) -> LoadedVectors:
    header, header_start = _header(source, size)
    _check_identity(header, identity)
    n, dim = header["rows"], identity.dim
    sections = _sections(header, header_start, n, dim)
    seqs = np.frombuffer(_section(source, sections, "seqs"), dtype="<i8").astype(np.int64, copy=False)
    if len(np.unique(seqs)) != n:
        raise VectorFileRejected("a chunk seq appears twice")
    updated = np.frombuffer(_section(source, sections, "updated"), dtype="<f8").astype(np.float64, copy=False)
    strings = {name: _strings(source, sections, name, n) for name in _STRING_COLUMNS}
    storage = _matrix_storage(max(capacity(n), n), dim)
    _read_matrix(source, sections["matrix"], storage[:n])
    rows = ChunkRows(
        seqs=seqs,
        document_ids=strings["document_ids"],
        source_types=strings["source_types"],
        paths=strings["paths"],
        updated=updated,
        matrix=storage[:n],
    )
    return LoadedVectors(rows, storage, int(header["position"]))


def _matrix_storage(rows: int, dim: int) -> np.ndarray:
    """A (rows, dim) float32 array to read the matrix into. Large ones are anonymous memory without
    transparent huge pages: NumPy asks for huge pages on large arrays, and in a fresh process the
    kernel's compaction to find them made reading the 1.5 GB matrix of a 1M-chunk store take 0.8-3.1 s
    (three runs), against 1.0-1.2 s with 4 KiB pages, the file in the page cache either way."""
    nbytes = rows * dim * 4
    if nbytes < _PLAIN_ALLOCATION:
        return np.empty((rows, dim), dtype=np.float32)
    region = mmap.mmap(-1, nbytes)
    if hasattr(mmap, "MADV_NOHUGEPAGE"):  # Linux
        region.madvise(mmap.MADV_NOHUGEPAGE)
    # The array keeps the mapping alive (its base); the table dropping the array unmaps it.
    return np.frombuffer(region, dtype=np.float32).reshape(rows, dim)


def _header(source: io.BufferedReader, size: int) -> tuple[dict[str, Any], int]:
    if size < len(MAGIC) + _TRAILER:
        raise VectorFileRejected(f"truncated: {size} bytes")
    if source.read(len(MAGIC)) != MAGIC:
        raise VectorFileRejected("not a vector file (its first bytes are not the magic)")
    source.seek(size - _TRAILER)
    trailer = source.read(_TRAILER)
    if trailer[8:] != MAGIC:
        raise VectorFileRejected("truncated or corrupt: the trailing magic is missing")
    length, crc = (int(v) for v in np.frombuffer(trailer[:8], dtype="<u4"))
    header_start = size - _TRAILER - length
    if length > _MAX_HEADER or header_start < len(MAGIC):
        raise VectorFileRejected(f"corrupt: a header of {length} bytes in a file of {size}")
    source.seek(header_start)
    encoded = source.read(length)
    if zlib.crc32(encoded) != crc:
        raise VectorFileRejected("corrupt: the header's checksum does not match")
    try:
        header = json.loads(encoded)
    except ValueError:
        raise VectorFileRejected("corrupt: the header is not JSON") from None
    if not isinstance(header, dict):
        raise VectorFileRejected("corrupt: the header is not an object")
    return header, header_start


def _check_identity(header: dict[str, Any], identity: FileIdentity) -> None:
    if header.get("format") != FORMAT_VERSION:
        raise VectorFileRejected(
            f"format version {header.get('format')!r}, this version reads {FORMAT_VERSION}"
        )
    if header.get("database_id") != identity.database_id:
        raise VectorFileRejected(
            f"taken from another database ({header.get('database_id')!r}, "
            f"this one is {identity.database_id!r})"
        )
    if header.get("store_id") != identity.store_id or header.get("dim") != identity.dim:
        raise VectorFileRejected(
            f"of store {header.get('store_id')!r} dimension {header.get('dim')!r}, "
            f"not {identity.store_id!r} dimension {identity.dim}"
        )
    for key in ("rows", "position"):
        value = header.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise VectorFileRejected(f"corrupt: {key} is {value!r}")


def _sections(header: dict[str, Any], end: int, n: int, dim: int) -> dict[str, tuple[int, int, int]]:
    """Each section's (offset, length, crc32), checked to lie inside the file and to fit ``n`` rows."""
    raw = header.get("sections")
    if not isinstance(raw, dict):
        raise VectorFileRejected("corrupt: no section table")
    expected: dict[str, int | None] = {"seqs": 8 * n, "updated": 8 * n, "matrix": 4 * n * dim}
    for name in _STRING_COLUMNS:
        expected |= {f"{name}.codes": 4 * n, f"{name}.offsets": None, f"{name}.values": None}
    sections: dict[str, tuple[int, int, int]] = {}
    for name, length in expected.items():
        entry = raw.get(name)
        if not isinstance(entry, dict):
            raise VectorFileRejected(f"corrupt: section {name} is missing")
        numbers = [entry.get(k) for k in ("offset", "length", "crc32")]
        if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in numbers):
            raise VectorFileRejected(f"corrupt: section {name} is {entry!r}")
        offset, size, crc = (int(v) for v in numbers)  # type: ignore[arg-type]  # ints, checked above
        if offset < len(MAGIC) or offset + size > end or (length is not None and size != length):
            raise VectorFileRejected(f"corrupt: section {name} at {offset}+{size} (expected {length} bytes)")
        sections[name] = (offset, size, crc)
    return sections


def _section(source: io.BufferedReader, sections: dict[str, tuple[int, int, int]], name: str) -> bytes:
    offset, size, crc = sections[name]
    source.seek(offset)
    data = source.read(size)
    if len(data) != size:
        raise VectorFileRejected(f"truncated: section {name}")
    if zlib.crc32(data) != crc:
        raise VectorFileRejected(f"corrupt: section {name}'s checksum does not match")
    return data


def _read_matrix(source: io.BufferedReader, section: tuple[int, int, int], into: np.ndarray) -> None:
    offset, size, crc = section
    source.seek(offset)
    view = into.reshape(-1).view(np.uint8).data  # the C-contiguous rows as bytes, no copy
    if source.readinto(view) != size:
        raise VectorFileRejected("truncated: section matrix")
    if zlib.crc32(view) != crc:
        raise VectorFileRejected("corrupt: section matrix's checksum does not match")


def _strings(
    source: io.BufferedReader, sections: dict[str, tuple[int, int, int]], name: str, n: int
) -> np.ndarray:
    codes = np.frombuffer(_section(source, sections, f"{name}.codes"), dtype="<u4")
    raw_offsets = _section(source, sections, f"{name}.offsets")
    if len(raw_offsets) % 8:
        raise VectorFileRejected(f"corrupt: {name}.offsets")
    ends = np.frombuffer(raw_offsets, dtype="<u8").astype(np.int64)
    blob = _section(source, sections, f"{name}.values")
    starts = np.concatenate(([0], ends[:-1])) if len(ends) else ends
    if (len(ends) and (np.any(ends < starts) or ends[-1] != len(blob))) or (not len(ends) and blob):
        raise VectorFileRejected(f"corrupt: {name}.offsets do not cut its values")
    if n and (not len(ends) or int(codes.max()) >= len(ends)):
        raise VectorFileRejected(f"corrupt: a code of {name} names no value")
    try:
        values = [blob[s:e].decode() for s, e in zip(starts.tolist(), ends.tolist(), strict=True)]
    except UnicodeDecodeError:
        raise VectorFileRejected(f"corrupt: a value of {name} is not UTF-8") from None
    distinct = np.empty(len(values), dtype=object)
    distinct[:] = values
    return distinct[codes] if n else np.empty(0, dtype=object)
