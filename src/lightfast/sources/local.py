"""A local directory or git working tree as a source (``source_type = "local"``)."""

from __future__ import annotations

import errno
import functools
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from lightfast.errors import ConfigError, DocumentRejected, InvalidInput
from lightfast.ingest.config import (
    VCS_DIRS,
    ConfigReport,
    SourceConfig,
    find_config_file,
    list_matching_files,
    load_config,
    validate_config,
)
from lightfast.sources.base import (
    DEFAULT_MAX_FILE_BYTES,
    SourceFile,
    Unlisted,
    oversized_config,
    too_large,
)

SOURCE_TYPE = "local"
_PATH_MAX = 4096  # Linux's limit on a path handed to the kernel, in bytes
_TOO_LONG = f"path is longer than this system allows ({_PATH_MAX:,} bytes)"
_TOO_LONG_DIR = f"the directory's {_TOO_LONG}: its files cannot be read"
_TOO_LONG_FILE = f"the file's {_TOO_LONG}: it cannot be read"


def _size(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except OSError:
        return None  # gone or unreadable: reading it reports why


def read_at_most(path: Path, limit: int) -> bytes:
    """The file's bytes, never more than ``limit`` of them in memory: a file past the limit (one that
    grew after it was listed) raises DocumentRejected ``too_large`` after reading at most limit + 1."""
    with path.open("rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        if size > limit:
            raise DocumentRejected(too_large(size, limit), reason="too_large")
        # Not read(limit + 1): Python allocates the whole size asked for before reading.
        data = handle.read(size + 1)
        if len(data) > size:  # it grew since: the rest, up to one byte past the limit
            data += handle.read(limit + 1 - len(data))
    if len(data) > limit:
        raise DocumentRejected(too_large(None, limit), reason="too_large")
    return data


@dataclass(frozen=True)
class LocalSource:
    root: Path
    # No file larger than this is read, documents or lightfast.yml; the registry passes the setting.
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES

    @classmethod
    def open(cls, path: str | Path, *, max_file_bytes: int = DEFAULT_MAX_FILE_BYTES) -> LocalSource:
        root = Path(path).expanduser().resolve()
        if not root.is_dir():
            raise InvalidInput(f"{path} is not a directory", field="path")
        return cls(root, max_file_bytes)

    @property
    def source_type(self) -> str:
        return SOURCE_TYPE

    @property
    def external_key(self) -> str:
        return str(self.root)

    @property
    def name(self) -> str:
        return self.root.name or str(self.root)

    def _oversized_config(self) -> ConfigReport | None:
        """The report on a config file too large to read, from its size on disk, or None."""
        found = find_config_file(self.root)
        size = _size(found) if found is not None else None
        if found is None or size is None:
            return None
        return oversized_config(found.name, size, self.max_file_bytes)

    def config(self) -> SourceConfig:
        oversized = self._oversized_config()
        if oversized is not None:
            raise ConfigError(list(oversized.problems), path=oversized.path)
        return load_config(self.root)

    def head(self) -> str | None:
        return None  # a directory is always read as it is now

    def inspect_config(self, revision: str | None) -> ConfigReport:
        oversized = self._oversized_config()
        if oversized is not None:
            return oversized
        found = find_config_file(self.root)
        problems = validate_config(self.root)
        errors = tuple(p for p in problems if p.message != "matches no file")
        warnings = tuple(p for p in problems if p.message == "matches no file")
        config = None if errors else load_config(self.root)
        text = _config_text(found)
        return ConfigReport(found.name if found else None, config, errors, warnings, text)

    def head_commit(self) -> str | None:
        if not (self.root / ".git").exists():
            return None
        try:
            result = subprocess.run(
                ["git", "-C", str(self.root), "rev-parse", "HEAD"],
                capture_output=True,
                text=True,
                timeout=10,
                check=True,
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return result.stdout.strip() or None

    def paths(self, config: SourceConfig, revision: str | None = None) -> list[str]:
        """Every path the configuration includes, relative and sorted."""
        return list_matching_files(self.root, config)

    def unlisted(self, revision: str | None = None) -> list[Unlisted]:
        """Directories the listing could not enter and files whose absolute path is longer than the
        system allows (PATH_MAX): the walk of ``paths`` passes over them without a word."""
        found: list[Unlisted] = []

        def relative(path: str) -> str:
            return Path(os.path.relpath(path, self.root)).as_posix()

        def record(error: OSError) -> None:
            if error.filename is None:  # pragma: no cover - os.walk always names the directory
                return
            if error.errno == errno.ENAMETOOLONG:
                found.append(Unlisted(relative(error.filename), "path_too_long", _TOO_LONG_DIR))
            else:
                message = f"the directory cannot be listed: {error.strerror or error}"
                found.append(Unlisted(relative(error.filename), "unreadable", message))

        for dirpath, dirnames, filenames in os.walk(self.root, onerror=record, followlinks=False):
            dirnames[:] = [d for d in dirnames if d not in VCS_DIRS]
            for name in filenames:
                full = os.path.join(dirpath, name)
                if len(os.fsencode(full)) >= _PATH_MAX:
                    found.append(Unlisted(relative(full), "path_too_long", _TOO_LONG_FILE))
        return sorted(found, key=lambda u: u.path)

    def source_id(self, path: str) -> str:
        return f"{self.root}:{path}"

    def versions(self, revision: str | None) -> dict[str, str]:
        return {}  # no cheap version id: the pipeline compares content hashes

    def changes(self, base: str, revision: str) -> dict[str, str] | None:
        return None

    def files(self, paths: list[str], revision: str | None = None) -> list[SourceFile]:
        commit = self.head_commit()
        return [self._file(path, commit) for path in paths]

    def _file(self, path: str, commit: str | None) -> SourceFile:
        absolute = self.root / path
        metadata: dict[str, str] = {"type": SOURCE_TYPE, "path": path, "root": str(self.root)}
        if commit:
            metadata["commitSha"] = commit
        return SourceFile(
            source_id=self.source_id(path),
            path=path,
            read=functools.partial(read_at_most, absolute, self.max_file_bytes),
            url=absolute.as_uri(),
            metadata=metadata,
            size=_size(absolute),  # the pipeline refuses a file past its limit without reading it
        )


def _config_text(found: Path | None) -> str | None:
    """The config file's text for display; None when there is none or it is not readable UTF-8 (its
    problem is reported already)."""
    if found is None:
        return None
    try:
        return found.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
