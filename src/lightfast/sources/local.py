"""A local directory or git working tree as a source (``source_type = "local"``)."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from lightfast.errors import InvalidInput
from lightfast.ingest.config import (
    ConfigReport,
    SourceConfig,
    find_config_file,
    list_matching_files,
    load_config,
    validate_config,
)
from lightfast.sources.base import SourceFile

SOURCE_TYPE = "local"


@dataclass(frozen=True)
class LocalSource:
    root: Path

    @classmethod
    def open(cls, path: str | Path) -> LocalSource:
        root = Path(path).expanduser().resolve()
        if not root.is_dir():
            raise InvalidInput(f"{path} is not a directory", field="path")
        return cls(root)

    @property
    def source_type(self) -> str:
        return SOURCE_TYPE

    @property
    def external_key(self) -> str:
        return str(self.root)

    @property
    def name(self) -> str:
        return self.root.name or str(self.root)

    def config(self) -> SourceConfig:
        return load_config(self.root)

    def head(self) -> str | None:
        return None  # a directory is always read as it is now

    def inspect_config(self, revision: str | None) -> ConfigReport:
        found = find_config_file(self.root)
        problems = validate_config(self.root)
        errors = tuple(p for p in problems if p.message != "matches no file")
        warnings = tuple(p for p in problems if p.message == "matches no file")
        config = None if errors else load_config(self.root)
        return ConfigReport(found.name if found else None, config, errors, warnings)

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
            read=absolute.read_bytes,
            url=absolute.as_uri(),
            metadata=metadata,
        )
