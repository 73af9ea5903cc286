"""The one typed Settings object. Built once at start-up and passed in; nothing reads the environment
elsewhere."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
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

    worker_id: str = Field(
        default="local",
        pattern=r"^[A-Za-z0-9_.-]{1,64}$",
        description="Stable id of this worker; a restarted worker resumes the workflows of its id.",
    )
    worker_concurrency: int = Field(default=2, ge=1, le=64, description="Syncs one worker runs at once.")
    workspace_concurrency: int = Field(default=2, ge=1, le=64, description="Syncs a workspace runs at once.")
    dispatch_interval: float = Field(default=0.2, gt=0, le=60)
    jobs_database_url: str | None = Field(
        default=None,
        description="DBOS system database; default a SQLite file next to the app's, or the "
        "app's PostgreSQL database.",
    )

    allow_anonymous: bool | None = Field(
        default=None,
        description="Requests without an API key act on the default workspace; default: only in development "
        "on a loopback address.",
    )
    rate_limit_per_minute: int = Field(
        default=600, ge=1, le=1_000_000, description="Requests per key a minute."
    )
    max_request_bytes: int = Field(default=1024 * 1024, ge=1024)

    local_source_roots: list[Path] = Field(
        default_factory=list,
        description="Directories under which the API may connect local sources (the CLI may connect any).",
    )

    github_app_id: str | None = Field(default=None, description="The GitHub App's id (or client id).")
    github_private_key: SecretStr | None = Field(default=None, description="The App's private key (PEM).")
    github_private_key_path: Path | None = Field(default=None, description="File holding the App's key.")
    github_webhook_secret: SecretStr | None = Field(default=None, description="The App's webhook secret.")
    github_api_url: str = Field(
        default="https://api.github.com",
        description="REST API base URL; GitHub Enterprise Server: https://HOST/api/v3.",
    )
    github_max_webhook_bytes: int = Field(
        default=25 * 1024 * 1024, ge=1024, description="Largest webhook body accepted (GitHub caps at 25 MB)."
    )
    github_blob_concurrency: int = Field(default=8, ge=1, le=64, description="Blobs fetched at once.")
    github_max_retries: int = Field(default=5, ge=0, le=20)
    github_max_retry_wait: float = Field(
        default=900.0, gt=0, description="Longest wait for a rate-limit reset before giving up, seconds."
    )

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
        if self.environment == "production" and self.allow_anonymous:
            raise SettingsError("LIGHTFAST_ALLOW_ANONYMOUS cannot be true in production")
        if self.environment == "production" and self.embedding_provider == "fake":
            raise SettingsError("the fake embedder is for tests; refuse it in production")
        if self.github_private_key is not None and self.github_private_key_path is not None:
            raise SettingsError(
                "set LIGHTFAST_GITHUB_PRIVATE_KEY or LIGHTFAST_GITHUB_PRIVATE_KEY_PATH, not both"
            )
        if not self.github_api_url.startswith(("https://", "http://")):
            raise SettingsError("LIGHTFAST_GITHUB_API_URL must be an http(s) URL")
        return self

    def github_key(self) -> str | None:
        """The App's private key PEM, from the setting or its file; None when not configured."""
        if self.github_private_key is not None:
            return self.github_private_key.get_secret_value()
        if self.github_private_key_path is not None:
            path = self.github_private_key_path.expanduser()
            try:
                return path.read_text(encoding="utf-8")
            except OSError as exc:
                raise SettingsError(
                    f"LIGHTFAST_GITHUB_PRIVATE_KEY_PATH {path} cannot be read ({exc.strerror or exc})"
                ) from exc
        return None

    @property
    def anonymous_allowed(self) -> bool:
        if self.allow_anonymous is not None:
            return self.allow_anonymous
        return self.environment == "development" and self.host in ("127.0.0.1", "localhost", "::1")

    @property
    def home_dir(self) -> Path:
        return self.home.expanduser()

    @property
    def resolved_jobs_database_url(self) -> str:
        if self.jobs_database_url:
            return self.jobs_database_url
        url = self.resolved_database_url
        if url.startswith("sqlite"):
            return f"sqlite:///{self.home_dir / 'jobs.db'}"
        return url.replace("postgresql+psycopg://", "postgresql://", 1)

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.home_dir / 'lightfast.db'}"
