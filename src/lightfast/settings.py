"""The one typed Settings object. Built once at start-up and passed in; nothing reads the environment
elsewhere."""

from __future__ import annotations

import base64
import json
import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from pydantic_settings import SettingsError as SourceParseError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from lightfast.errors import SettingsError

EmbeddingProvider = Literal["local", "fake", "cohere", "openai"]
RerankProvider = Literal["cohere", "tei", "jina"]
ENV_PREFIX = "LIGHTFAST_"
# Never echoed in an error: secrets, and database URLs (they may carry a password).
SECRET_FIELDS = frozenset(
    {
        "github_private_key",
        "github_webhook_secret",
        "database_url",
        "jobs_database_url",
        "secret_key",
        "previous_secret_keys",
        "metrics_token",
        "cohere_api_key",
        "openai_api_key",
        "rerank_api_key",
    }
)
DATABASE_BACKENDS = ("sqlite", "postgresql", "postgres")
PATH_LIST_FORMATS = "expected a JSON list of paths or a colon-separated list"


def parse_path_list(text: str) -> list[str]:
    """A list of paths from one environment variable: a JSON list of strings (``["/srv/a", "/srv/b"]``)
    or paths separated by the platform's path separator (``/srv/a:/srv/b``, like ``PATH``); one path alone
    is a list of one, and an empty value an empty list. ValueError on anything else."""
    text = text.strip()
    if text.startswith(("[", "{", '"')):  # meant as JSON: it must be a list of paths
        try:
            value = json.loads(text)
        except ValueError:
            value = None
        if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
            raise ValueError(PATH_LIST_FORMATS)
        paths: list[str] = value
    else:
        paths = [part for part in text.split(os.pathsep) if part]
    if any("\0" in path for path in paths):
        raise ValueError(f"{PATH_LIST_FORMATS} (a path cannot hold a NUL character)")
    return paths


def is_secret_key(text: str) -> bool:
    """Whether ``text`` is the base64 of exactly 32 bytes (an AES-256 key)."""
    try:
        return len(base64.b64decode(text.strip(), validate=True)) == 32
    except ValueError:
        return False


class Settings(BaseSettings):
    """Every setting of Lightfast, read from ``LIGHTFAST_*`` environment variables."""

    model_config = SettingsConfigDict(env_prefix="LIGHTFAST_", extra="ignore", frozen=True)

    home: Path = Field(default=Path("~/.lightfast"), description="Directory for data (database, logs).")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default is a SQLite file under LIGHTFAST_HOME."
    )
    environment: Literal["development", "production"] = "development"

    embedding_provider: EmbeddingProvider = Field(
        default="local",
        description="local (all-MiniLM-L6-v2 on the CPU), cohere, openai (or any OpenAI-compatible server "
        "at LIGHTFAST_OPENAI_BASE_URL), fake (tests only).",
    )
    embedding_model: str | None = Field(
        default=None,
        description="The provider's model; default all-MiniLM-L6-v2 (local), embed-english-v3.0 (cohere), "
        "text-embedding-3-small (openai).",
    )
    embedding_dimensions: int | None = Field(
        default=None,
        ge=1,
        le=16_384,
        description="Vector size: embed-v4.0's output_dimension, text-embedding-3's dimensions; for an "
        "OpenAI-compatible server, its model's size (else discovered by one probe call).",
    )
    embedding_max_input_tokens: int | None = Field(
        default=None,
        ge=16,
        le=1_000_000,
        description="An OpenAI-compatible server's input window in tokens (default 512).",
    )
    embedding_prices: dict[str, float] = Field(
        default_factory=dict,
        description="Price in US dollars per million tokens of hosted embedding models, keyed "
        '"provider/model" (JSON: {"cohere/embed-english-v3.0": 0.1}): a switch\'s estimate shows the cost.',
    )
    # Hosted and self-hosted model providers (lightfast.embed.http, lightfast.rerank).
    cohere_api_key: SecretStr | None = Field(default=None, description="Cohere API key (embed and rerank).")
    cohere_base_url: str = Field(default="https://api.cohere.com", description="Cohere API base URL.")
    cohere_api_version: Literal["v1", "v2"] = Field(
        default="v2", description="Which Cohere API to call: /v2/embed and /v2/rerank, or the v1 ones."
    )
    openai_api_key: SecretStr | None = Field(
        default=None, description="OpenAI API key (optional for a self-hosted OpenAI-compatible server)."
    )
    openai_base_url: str = Field(
        default="https://api.openai.com/v1",
        description="OpenAI API base URL; point it at Ollama, vLLM, text-embeddings-inference or LM Studio "
        "(for example http://localhost:11434/v1) for a self-hosted model.",
    )
    rerank_provider: RerankProvider | None = Field(
        default=None,
        description="cohere (/v2/rerank), tei (text-embeddings-inference /rerank) or jina (/v1/rerank); "
        "unset: searches cannot ask for rerank.",
    )
    rerank_model: str | None = Field(
        default=None,
        description="Rerank model; default rerank-v3.5 (cohere), jina-reranker-v2-base-multilingual (jina).",
    )
    rerank_base_url: str | None = Field(
        default=None,
        description="Rerank API base URL; default LIGHTFAST_COHERE_BASE_URL (cohere), https://api.jina.ai "
        "(jina); required for tei.",
    )
    rerank_api_key: SecretStr | None = Field(
        default=None, description="Rerank API key; default LIGHTFAST_COHERE_API_KEY for cohere."
    )
    rerank_candidates: int = Field(
        default=50, ge=2, le=1000, description="How many fused candidates a rerank reorders."
    )
    rerank_budget_ms: int = Field(
        default=1500,
        ge=10,
        le=60_000,
        description="Milliseconds a rerank may take; past it the fused order is returned, and said so.",
    )
    provider_timeout: float = Field(
        default=60.0, gt=0, le=600, description="Seconds one call to a model provider may take."
    )
    provider_max_attempts: int = Field(
        default=5, ge=1, le=20, description="Calls to a provider per request, the first included (429, 5xx)."
    )
    provider_max_retry_wait: float = Field(
        default=60.0, ge=0, le=3600, description="Longest Retry-After waited for; longer fails the call."
    )
    provider_breaker_failures: int = Field(
        default=5, ge=1, le=1000, description="Consecutive provider failures that open its circuit breaker."
    )
    provider_breaker_cooldown: float = Field(
        default=30.0, ge=0, le=3600, description="Seconds an open breaker fails calls fast before a trial."
    )
    embedding_batch_size: int = Field(default=64, ge=1, le=1024)
    embedding_threads: int | None = Field(default=None, ge=1, description="Torch threads; default all cores.")
    embedding_runtime: Literal["torch", "onnx"] = Field(
        default="onnx",
        description="What runs the local model: ONNX Runtime (the default: the same vectors as torch's, "
        "1.8x the document throughput and 5 ms queries against 12 ms, bench/results/embed_runtime.md; "
        "the model is exported once into <home>/models on first use), or torch.",
    )

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
    worker_lease: float = Field(
        default=30,
        ge=1,
        le=3600,
        description="Seconds a worker's hold on its running jobs lasts unless renewed (it renews every "
        "sixth of it); after that the job shows interrupted and any live worker takes it over.",
    )
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
    search_processes: int = Field(
        default=0,
        ge=0,
        le=64,
        description="Worker processes that answer lightfast serve's searches (0: in its own process). Each "
        "holds its own in-memory indexes; more than one lets concurrent searches use every core.",
    )

    # Operations (api/metrics.py, app/logs.py).
    log_format: Literal["text", "json"] = Field(
        default="text", description="json: one JSON object a line, with the request and job ids."
    )
    metrics_enabled: bool = Field(default=True, description="Serve GET /metrics (Prometheus).")
    metrics_token: SecretStr | None = Field(
        default=None,
        description="Bearer token GET /metrics requires in production; without one, production answers "
        "/metrics only to a loopback client that came through no proxy.",
    )

    # The console's sign-in (lightfast.app.users).
    console_session_hours: int = Field(
        default=168, ge=1, le=8760, description="A console session ends this long after sign-in."
    )
    console_idle_minutes: int = Field(
        default=720, ge=5, le=525_600, description="A console session unused this long ends."
    )
    invitation_days: int = Field(default=7, ge=1, le=90, description="How long an invitation link works.")
    login_failures_per_email: int = Field(
        default=5, ge=1, le=1000, description="Failed sign-ins for one email in the window before refusing."
    )
    login_failures_per_address: int = Field(
        default=20, ge=1, le=10_000, description="Failed sign-ins from one address in the window."
    )
    login_window_minutes: int = Field(default=15, ge=1, le=1440, description="The sign-in limits' window.")

    # NoDecode: the variable is parsed by ``_path_list`` (JSON list or colon-separated), not as JSON only.
    local_source_roots: Annotated[list[Path], NoDecode] = Field(
        default_factory=list,
        description="Directories under which the API may connect local sources, the outer bound of every "
        "organization's grants (`lightfast orgs grant-path`; the CLI may connect any): "
        'a JSON list (["/srv/docs"]) or a colon-separated list (/srv/docs:/srv/wiki).',
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

    # Credentials at rest (lightfast.app.secrets): AES-256-GCM under this key, base64 of 32 bytes.
    secret_key: SecretStr | None = Field(
        default=None,
        description="Base64 of 32 random bytes encrypting stored credentials; required in production "
        "(development generates one into LIGHTFAST_HOME/secret.key).",
    )
    previous_secret_keys: SecretStr | None = Field(
        default=None,
        description="Comma-separated earlier keys, still read while `lightfast secrets rotate` re-encrypts.",
    )
    webhook_max_age: int = Field(
        default=60,
        ge=0,
        le=86_400,
        description="Seconds a vendor delivery's own timestamp may lie from now; 0 accepts any (replays).",
    )
    vendor_max_webhook_bytes: int = Field(
        default=1024 * 1024, ge=1024, description="Largest Linear or Notion delivery accepted."
    )
    vendor_reconcile_seconds: int = Field(
        default=86_400,
        ge=0,
        le=31_536_000,
        description="How often a Linear or Notion connection with a token lists everything again and repairs "
        "what webhooks missed (a scheduled full sync); 0: never on its own.",
    )
    linear_api_url: str = Field(default="https://api.linear.app/graphql", description="Linear GraphQL.")
    notion_api_url: str = Field(default="https://api.notion.com", description="Notion REST API base.")
    zendesk_base_url: str = Field(
        default="https://{subdomain}.zendesk.com",
        description="Zendesk's API base: a template with {subdomain}, or one explicit URL (a stand-in).",
    )
    sentry_base_url: str = Field(
        default="https://sentry.io",
        description="Sentry's address (its API under /api/0/): https://sentry.io, or a self-hosted Sentry.",
    )
    vercel_base_url: str = Field(
        default="https://api.vercel.com", description="Vercel's REST API (a stand-in in tests)."
    )
    vercel_max_deployments: int = Field(
        default=1000,
        ge=1,
        le=100_000,
        description="A Vercel backfill reads the newest N deployments of each project (older ones rarely "
        "matter, and a reconciliation drops documents of deployments older than that).",
    )
    vercel_max_error_lines: int = Field(
        default=50, ge=0, le=1000, description="Error lines of a failed Vercel build kept in its document."
    )

    public_url: str | None = Field(
        default=None,
        description="The address vendors reach this server at (https://lightfast.example.com), for "
        "webhook URLs; default http://HOST:PORT.",
    )

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    default_organization: str = "default"
    default_workspace: str = "default"

    @field_validator("database_url", "jobs_database_url")
    @classmethod
    def _database_url(cls, value: str | None) -> str | None:
        if not value:
            return None  # empty: the default
        try:
            backend = make_url(value).get_backend_name()
        except ArgumentError:
            raise ValueError(
                "expected a database URL such as sqlite:////path/to/lightfast.db or "
                "postgresql://user:password@host/database"
            ) from None
        if backend not in DATABASE_BACKENDS:
            raise ValueError(f"expected a sqlite:// or postgresql:// URL, not {backend}://")
        return value

    @field_validator(
        "embedding_model",
        "rerank_provider",
        "rerank_model",
        "rerank_base_url",
        "embedding_dimensions",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        # LIGHTFAST_RERANK_PROVIDER= (set but empty) turns rerank off, as leaving it out does.
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("secret_key")
    @classmethod
    def _secret_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        if not is_secret_key(value.get_secret_value()):
            raise ValueError("expected the base64 encoding of exactly 32 bytes")
        return value

    @field_validator("local_source_roots", mode="before")
    @classmethod
    def _path_list(cls, value: Any) -> Any:
        return parse_path_list(value) if isinstance(value, str) else value

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
        if self.environment == "production" and self.secret_key is None:
            raise SettingsError(
                "LIGHTFAST_SECRET_KEY is required in production (base64 of 32 random bytes: "
                "python -c 'import os, base64; print(base64.b64encode(os.urandom(32)).decode())')"
            )
        if not self.github_api_url.startswith(("https://", "http://")):
            raise SettingsError("LIGHTFAST_GITHUB_API_URL must be an http(s) URL")
        for name in ("cohere_base_url", "openai_base_url", "rerank_base_url"):
            url = getattr(self, name)
            if url is not None and not url.startswith(("https://", "http://")):
                raise SettingsError(f"{env_name(name)} must be an http(s) URL")
        if self.embedding_provider == "cohere" and self.cohere_api_key is None:
            raise SettingsError("LIGHTFAST_EMBEDDING_PROVIDER=cohere needs LIGHTFAST_COHERE_API_KEY")
        if (
            self.embedding_provider == "openai"
            and self.openai_api_key is None
            and self.openai_base_url.startswith("https://api.openai.com")
        ):
            raise SettingsError(
                "LIGHTFAST_EMBEDDING_PROVIDER=openai needs LIGHTFAST_OPENAI_API_KEY (a self-hosted server at "
                "another LIGHTFAST_OPENAI_BASE_URL may do without)"
            )
        if self.rerank_provider == "cohere" and (self.rerank_api_key or self.cohere_api_key) is None:
            raise SettingsError("LIGHTFAST_RERANK_PROVIDER=cohere needs LIGHTFAST_COHERE_API_KEY")
        if self.rerank_provider == "tei" and not self.rerank_base_url:
            raise SettingsError("LIGHTFAST_RERANK_PROVIDER=tei needs LIGHTFAST_RERANK_BASE_URL (its address)")
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


def env_name(field: str) -> str:
    """The environment variable of a setting: ``max_file_bytes`` -> ``LIGHTFAST_MAX_FILE_BYTES``."""
    return f"{ENV_PREFIX}{field.upper()}"


def _shown(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return repr(text if len(text) <= 80 else text[:77] + "...")


def describe_invalid(exc: ValidationError) -> str:
    """One line naming each invalid variable, what it expects and (unless it is a secret) what it got:
    ``LIGHTFAST_PORT: Input should be a valid integer, got 'abc'``."""
    parts: list[str] = []
    for error in exc.errors(include_url=False):
        field = str(error["loc"][0]) if error["loc"] else None
        message = error["msg"].removeprefix("Value error, ")
        if field is None:
            parts.append(message)
            continue
        got = "" if field in SECRET_FIELDS or "input" not in error else f", got {_shown(error['input'])}"
        parts.append(f"{env_name(field)}: {message}{got}")
    return "; ".join(parts) or "the settings are not valid"


def settings_from_environment(**values: Any) -> Settings:
    """The settings from the ``LIGHTFAST_*`` environment (``values`` take precedence). Every problem is
    a SettingsError whose message is one line naming the variable, never a pydantic traceback: the CLI
    and the server print it and exit with status 2."""
    try:
        return Settings(**values)
    except ValidationError as exc:
        raise SettingsError(describe_invalid(exc)) from None
    except SourceParseError as exc:  # a value pydantic-settings could not decode (JSON) at all
        found = re.search(r'field "([^"]+)"', str(exc))
        name = env_name(found.group(1)) if found else "a LIGHTFAST_ variable"
        raise SettingsError(f"{name}: {exc.__cause__ or exc}") from None
