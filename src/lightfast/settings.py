"""The one typed Settings object. Built once at start-up and passed in; nothing reads the environment
elsewhere."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from lightfast.errors import SettingsError

EmbeddingProvider = Literal["local", "fake"]


class Settings(BaseSettings):
    """Every setting of Lightfast, read from ``LIGHTFAST_*`` environment variables."""

    model_config = SettingsConfigDict(env_prefix="LIGHTFAST_", extra="ignore", frozen=True)

    home: Path = Field(default=Path("~/.lightfast"), description="Directory for data (database, logs).")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default is a SQLite file under LIGHTFAST_HOME."
    )
    environment: Literal["development", "production"] = "development"

    embedding_provider: EmbeddingProvider = "local"
    embedding_model: str = "all-MiniLM-L6-v2"
    embedding_batch_size: int = Field(default=64, ge=1, le=1024)
    embedding_threads: int | None = Field(default=None, ge=1, description="Torch threads; default all cores.")

    chunk_size: int | None = Field(
        default=None, ge=16, le=8192, description="Tokens per chunk; default derived from the model."
    )
    chunk_overlap: int | None = Field(default=None, ge=0, le=1024)

    max_file_bytes: int = Field(default=5 * 1024 * 1024, ge=1)
    ingest_batch_documents: int = Field(default=32, ge=1, le=10_000)

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    default_organization: str = "default"
    default_workspace: str = "default"

    @model_validator(mode="after")
    def _check(self) -> Settings:
        if (
            self.chunk_size is not None
            and self.chunk_overlap is not None
            and (self.chunk_overlap >= self.chunk_size)
        ):
            raise SettingsError("LIGHTFAST_CHUNK_OVERLAP must be smaller than LIGHTFAST_CHUNK_SIZE")
        if self.environment == "production" and self.embedding_provider == "fake":
            raise SettingsError("the fake embedder is for tests; refuse it in production")
        return self

    @property
    def home_dir(self) -> Path:
        return self.home.expanduser()

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.home_dir / 'lightfast.db'}"
