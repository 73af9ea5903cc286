"""A local directory or git working tree as a source (``source_type = "local"``)."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from lightfast.errors import InvalidInput
from lightfast.ingest.config import SourceConfig, list_matching_files, load_config
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
    def external_key(self) -> str:
        return str(self.root)

    @property
    def name(self) -> str:
        return self.root.name or str(self.root)

    def config(self) -> SourceConfig:
        return load_config(self.root)

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

    def paths(self, config: SourceConfig) -> list[str]:
        """Every path the configuration includes, relative and sorted."""
        return list_matching_files(self.root, config)

    def source_id(self, path: str) -> str:
        return f"{self.root}:{path}"

    def files(self, paths: list[str]) -> list[SourceFile]:
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
