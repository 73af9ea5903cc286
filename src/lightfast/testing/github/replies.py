"""What the stand-in answers: a reply, and the error that carries GitHub's error body."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

DOCS_URL = "https://docs.github.com/rest"


@dataclass
class Reply:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


class HTTPError(Exception):
    """An error answer in GitHub's shape: ``{"message", "documentation_url", "status"}``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.reply = Reply(status, {"message": message, "documentation_url": DOCS_URL, "status": str(status)})
