"""What every source hands the pipeline: files (or items) to index, by their id in the source."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class SourceFile:
    source_id: str  # unique within a store and source type; e.g. "acme/docs:guide/intro.md"
    path: str  # location inside the source, used by the path-prefix filter
    read: Callable[[], bytes]
    url: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
