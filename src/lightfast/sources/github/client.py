"""GitHub REST calls a GitHub App makes to index a repository, through githubkit.

``GitHubApp`` holds the App's credentials and hands out installation tokens, cached until shortly before
they expire. ``RepositoryClient`` reads one installation's repositories: metadata, branch heads,
recursive trees and blobs. Every call goes through ``GitHubApp.call``, which retries by the pure policy
in ``retry.py``; githubkit's own retry is off so waits are ours to decide, log and test.

Secrets (the private key, tokens) never enter a message or a log line.
"""

from __future__ import annotations

import base64
import logging
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import httpx
from githubkit import AppAuthStrategy, GitHub, TokenAuthStrategy
from githubkit.cache import MemCacheStrategy
from githubkit.exception import GitHubException, RequestFailed

from lightfast.errors import NotFound, SettingsError, UpstreamError
from lightfast.settings import Settings
from lightfast.sources.github.retry import RetryPolicy, retry_delay

log = logging.getLogger("lightfast.github")

T = TypeVar("T")
TOKEN_REFRESH_MARGIN = 300.0  # renew an installation token five minutes before GitHub expires it
TIMEOUT = 30.0


@dataclass(frozen=True)
class Repository:
    id: int
    full_name: str
    owner: str
    name: str
    default_branch: str
    private: bool
    html_url: str
    language: str | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Repository:
        return cls(
            id=int(data["id"]),
            full_name=str(data["full_name"]),
            owner=str(data["owner"]["login"]),
            name=str(data["name"]),
            default_branch=str(data.get("default_branch") or "main"),
            private=bool(data.get("private", False)),
            html_url=str(data.get("html_url") or ""),
            language=str(data["language"]) if data.get("language") else None,
        )


@dataclass(frozen=True)
class TreeEntry:
    path: str
    sha: str
    size: int
    mode: str


class _SharedTransport(httpx.HTTPTransport):
    """One connection pool and one TLS context for every request of the App. githubkit builds an HTTP
    client per request and closes it afterwards; building a transport each time cost ~46 ms a request
    (mostly loading the certificate store), so the clients share this one and closing them keeps it."""

    def close(self) -> None:
        pass  # the per-request client's close; the pool lives until shutdown()

    def shutdown(self) -> None:
        super().close()


def _split(full_name: str) -> tuple[str, str]:
    owner, _, name = full_name.partition("/")
    if not owner or not name or "/" in name:
        raise NotFound(f"repository {full_name!r} is not of the form OWNER/REPO")
    return owner, name


def _message(exc: RequestFailed) -> str:
    try:
        body = exc.response.json()
    except Exception:
        return ""
    return str(body.get("message", "")) if isinstance(body, dict) else ""


class GitHubApp:
    def __init__(
        self,
        app_id: str,
        private_key: str,
        api_url: str = "https://api.github.com",
        *,
        policy: RetryPolicy | None = None,
        blob_concurrency: int = 8,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.app_id = app_id
        self._private_key = private_key
        self.api_url = api_url.rstrip("/") + "/"
        self.policy = policy or RetryPolicy()
        self.blob_concurrency = blob_concurrency
        self.clock = clock
        self.sleep = sleep
        self._tokens: dict[int, tuple[str, float]] = {}
        self._permissions: dict[int, dict[str, str]] = {}
        self._lock = threading.Lock()
        self._transport = _SharedTransport()
        # githubkit's default cache is one per process, keyed by the App id alone: a second App object
        # with the same id and another private key (a rotated key) would send the first one's JWT.
        self._cache = MemCacheStrategy()

    def __repr__(self) -> str:  # never show the key
        return f"GitHubApp(app_id={self.app_id!r}, api_url={self.api_url!r})"

    @classmethod
    def from_settings(cls, settings: Settings) -> GitHubApp:
        key = settings.github_key()
        if not settings.github_app_id or not key:
            raise SettingsError(
                "the GitHub App is not configured: set LIGHTFAST_GITHUB_APP_ID and "
                "LIGHTFAST_GITHUB_PRIVATE_KEY (or LIGHTFAST_GITHUB_PRIVATE_KEY_PATH)"
            )
        return cls(
            settings.github_app_id,
            key,
            settings.github_api_url,
            policy=RetryPolicy(
                max_retries=settings.github_max_retries, max_wait=settings.github_max_retry_wait
            ),
            blob_concurrency=settings.github_blob_concurrency,
        )

    def close(self) -> None:
        self._transport.shutdown()

    def _client(self, auth: AppAuthStrategy | TokenAuthStrategy) -> GitHub[Any]:
        return GitHub(
            auth,
            base_url=self.api_url,
            auto_retry=False,
            http_cache=False,
            cache_strategy=self._cache,
            timeout=TIMEOUT,
            transport=self._transport,
        )

    def call(self, what: str, request: Callable[[], T]) -> T:
        """Run one API request, retrying rate limits, server and network errors by the policy."""
        attempt = 0
        while True:
            try:
                return request()
            except RequestFailed as exc:
                status = exc.response.status_code
                headers = {k.lower(): v for k, v in exc.response.headers.items()}
                message = _message(exc)
                delay = retry_delay(self.policy, attempt, status, headers, self.clock(), message)
                if delay is None:
                    raise self._error(what, status, message) from None
            except GitHubException as exc:  # timeouts and connection errors
                delay = retry_delay(self.policy, attempt, None, {}, self.clock())
                if delay is None:
                    raise UpstreamError(f"GitHub: {what} failed: {type(exc).__name__}") from None
                status = None
            log.warning("GitHub: %s answered %s; retry %d in %.1f s", what, status, attempt + 1, delay)
            self.sleep(delay)
            attempt += 1

    def _error(self, what: str, status: int, message: str) -> Exception:
        detail = f"GitHub: {what}: {status} {message}".rstrip()
        if status == 404:
            return NotFound(detail)
        return UpstreamError(detail, status=status)

    def installation_token(self, installation_id: int) -> str:
        with self._lock:
            cached = self._tokens.get(installation_id)
            if cached and cached[1] - TOKEN_REFRESH_MARGIN > self.clock():
                return cached[0]
        client = self._client(AppAuthStrategy(self.app_id, self._private_key))
        response = self.call(
            f"token for installation {installation_id}",
            lambda: client.rest.apps.create_installation_access_token(installation_id),
        )
        data = response.json()
        expires = datetime.fromisoformat(str(data["expires_at"]).replace("Z", "+00:00")).timestamp()
        with self._lock:
            self._tokens[installation_id] = (str(data["token"]), expires)
            self._permissions[installation_id] = {
                str(k): str(v) for k, v in (data.get("permissions") or {}).items()
            }
        return str(data["token"])

    def installation_permissions(self, installation_id: int) -> dict[str, str]:
        """What the installation granted the App (``{"contents": "read", ...}``), per its latest token."""
        self.installation_token(installation_id)
        with self._lock:
            return dict(self._permissions.get(installation_id, {}))

    def installation(self, installation_id: int) -> RepositoryClient:
        return RepositoryClient(self, installation_id)


class RepositoryClient:
    """The repositories one installation of the App can read."""

    def __init__(self, app: GitHubApp, installation_id: int) -> None:
        self.app = app
        self.installation_id = installation_id
        self._lock = threading.Lock()
        self._token: str | None = None
        self._gh_client: GitHub[Any] | None = None

    def _gh(self) -> GitHub[Any]:
        """A client for the current installation token. Held here: githubkit's API namespaces keep only
        a weak reference to their client."""
        token = self.app.installation_token(self.installation_id)
        with self._lock:
            if self._gh_client is None or self._token != token:
                self._gh_client = self.app._client(TokenAuthStrategy(token))
                self._token = token
            return self._gh_client

    def repository(self, full_name: str) -> Repository:
        owner, name = _split(full_name)
        response = self.app.call(f"repository {full_name}", lambda: self._gh().rest.repos.get(owner, name))
        return Repository.from_json(dict(response.json()))

    def repository_by_id(self, repo_id: int) -> Repository:
        response = self.app.call(
            f"repository {repo_id}", lambda: self._gh().request("GET", f"/repositories/{repo_id}")
        )
        return Repository.from_json(response.json())

    def branch_head(self, full_name: str, branch: str) -> str:
        owner, name = _split(full_name)
        response = self.app.call(
            f"branch {branch} of {full_name}", lambda: self._gh().rest.repos.get_branch(owner, name, branch)
        )
        return str(response.json()["commit"]["sha"])

    def committed_at(self, full_name: str, revision: str) -> str | None:
        """The commit's committer date (ISO 8601), as GitHub reports it."""
        owner, name = _split(full_name)
        data = self.app.call(
            f"commit {revision} of {full_name}",
            lambda: self._gh().rest.repos.get_commit(owner, name, revision),
        ).json()
        committer = (data.get("commit") or {}).get("committer") or {}
        return str(committer["date"]) if committer.get("date") else None

    def tree(self, full_name: str, revision: str) -> list[TreeEntry]:
        """Every blob of the commit's tree. GitHub truncates very large recursive listings; then the
        tree is walked one directory at a time instead."""
        owner, name = _split(full_name)
        data = self._tree(owner, name, revision, recursive=True)
        if not data.get("truncated"):
            return [_entry(item) for item in data["tree"] if item.get("type") == "blob"]
        return self._walk(owner, name, revision, "")

    def _tree(self, owner: str, name: str, sha: str, *, recursive: bool) -> dict[str, Any]:
        def request() -> Any:
            if recursive:
                return self._gh().rest.git.get_tree(owner, name, sha, recursive="1")
            return self._gh().rest.git.get_tree(owner, name, sha)

        result: dict[str, Any] = self.app.call(f"tree {sha} of {owner}/{name}", request).json()
        return result

    def _walk(self, owner: str, name: str, sha: str, prefix: str) -> list[TreeEntry]:
        entries: list[TreeEntry] = []
        for item in self._tree(owner, name, sha, recursive=False)["tree"]:
            path = f"{prefix}{item['path']}"
            if item.get("type") == "blob":
                entries.append(_entry({**item, "path": path}))
            elif item.get("type") == "tree":
                entries.extend(self._walk(owner, name, str(item["sha"]), f"{path}/"))
        return entries

    def blob(self, full_name: str, sha: str) -> bytes:
        owner, name = _split(full_name)
        data = self.app.call(
            f"blob {sha} of {full_name}", lambda: self._gh().rest.git.get_blob(owner, name, sha)
        ).json()
        if data.get("encoding") != "base64":
            raise UpstreamError(f"GitHub: blob {sha} of {full_name} came as {data.get('encoding')!r}")
        return base64.b64decode(str(data["content"]))

    def blobs(self, full_name: str, shas: Iterable[str]) -> dict[str, bytes | NotFound]:
        """Several blobs fetched concurrently (one batch of a sync), keyed by sha. A blob GitHub no
        longer has is returned as its NotFound, for the pipeline to record against that one file; any
        other failure (after retries) fails the whole batch, which a retry of the job resumes."""
        unique = sorted(set(shas))
        if not unique:
            return {}

        def fetch(sha: str) -> bytes | NotFound:
            try:
                return self.blob(full_name, sha)
            except NotFound as exc:
                return exc

        workers = min(self.app.blob_concurrency, len(unique))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="lightfast-blobs") as pool:
            contents = list(pool.map(fetch, unique))
        return dict(zip(unique, contents, strict=True))


def _entry(item: dict[str, Any]) -> TreeEntry:
    return TreeEntry(str(item["path"]), str(item["sha"]), int(item.get("size") or 0), str(item["mode"]))
