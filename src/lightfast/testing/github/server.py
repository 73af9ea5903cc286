"""The stand-in's server: state, fault injection, App authentication, routing and the uvicorn thread."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import os
import re
import secrets
import string
import threading
import time
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

import uvicorn
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.types import Receive, Scope, Send

from .auth import verify_jwt
from .endpoints import HANDLERS, contents_endpoint
from .replies import DOCS_URL, HTTPError, Reply
from .repository import Repo, git
from .shapes import Shapes, iso_time

_log = logging.getLogger(__name__)

_RATE_DOCS = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"
_LIMIT = 5000
_TOKEN_PATH = re.compile(r"/app/installations/(\d+)/access_tokens")
_REPO_PATH = re.compile(r"/(?:repos/([^/]+)/([^/]+)|repositories/(\d+))(/.*)?")


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    status: int
    at: float  # time.time() when answered
    token: str | None  # bearer token used (installation token or JWT), None if none


@dataclass
class _Installation:
    account: str
    suspended: bool


@dataclass
class _Injection:
    kind: str  # "primary", "secondary" or "fail"
    remaining: int
    value: float
    path_contains: str | None


class _Server(uvicorn.Server):
    """uvicorn polls for shutdown every 0.1 s; waking it up on demand keeps stop() quick."""

    _wake: asyncio.Event | None = None
    _loop: asyncio.AbstractEventLoop | None = None

    async def main_loop(self) -> None:
        self._loop, self._wake = asyncio.get_running_loop(), asyncio.Event()
        counter = 0
        while not await self.on_tick(counter):  # on_tick also refreshes the Date header once a second
            counter = (counter + 1) % 864_000
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), 0.1)

    def stop(self) -> None:
        self.should_exit = True
        if self._loop is not None and self._wake is not None:
            with contextlib.suppress(RuntimeError):  # the loop may be closed already
                self._loop.call_soon_threadsafe(self._wake.set)


class GitHubStandIn:
    """GitHub REST API stand-in serving real git working trees; see the package docstring."""

    def __init__(self, *, app_id: int, public_key_pem: str | bytes, token_ttl_seconds: int = 3600) -> None:
        pem = public_key_pem.encode() if isinstance(public_key_pem, str) else public_key_pem
        public_key = serialization.load_pem_public_key(pem)
        if not isinstance(public_key, rsa.RSAPublicKey):
            raise ValueError("GitHub App keys are RSA keys")
        self._public_key = public_key
        self.app_id = app_id
        self.token_ttl_seconds = token_ttl_seconds
        self.requests: list[RecordedRequest] = []
        self.tokens_issued = 0
        self._lock = threading.Lock()
        self._repos: dict[str, Repo] = {}  # by lower-cased full name: GitHub names are case-insensitive
        self._moved: dict[str, int] = {}  # renamed-away lower-cased full name -> repo id, answered 301
        self._installations: dict[int, _Installation] = {}
        self._tokens: dict[str, tuple[int, float]] = {}  # token -> (installation id, expiry epoch)
        self._injections: list[_Injection] = []
        self._usage: dict[str, tuple[int, int]] = {}  # rate-limit identity -> (reset epoch, used)
        self._request_count = 0
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._url: str | None = None

    # ----------------------------------------------------------------------- configuration

    def add_installation(
        self, installation_id: int, *, account: str = "acme", suspended: bool = False
    ) -> None:
        with self._lock:
            self._installations[installation_id] = _Installation(account, suspended)

    def add_repository(
        self,
        full_name: str,
        path: Path,
        *,
        repo_id: int,
        installation_id: int,
        private: bool = False,
        default_branch: str | None = None,
    ) -> None:
        git(path, "rev-parse", "--git-dir")  # fails early on a directory that is not a repository
        if default_branch is None:
            default_branch = git(path, "symbolic-ref", "--short", "HEAD").decode().strip()
        repo = Repo(full_name, Path(path), repo_id, installation_id, private, default_branch, time.time())
        with self._lock:
            self._installations.setdefault(installation_id, _Installation("acme", False))
            self._repos[full_name.lower()] = repo
            self._moved.pop(full_name.lower(), None)

    def rename_repository(self, old_full_name: str, new_full_name: str) -> None:
        with self._lock:
            repo = self._repos.pop(old_full_name.lower())
            repo.full_name = new_full_name
            self._repos[new_full_name.lower()] = repo
            self._moved.pop(new_full_name.lower(), None)
            self._moved[old_full_name.lower()] = repo.repo_id

    def remove_repository(self, full_name: str) -> None:
        with self._lock:
            repo = self._repos.pop(full_name.lower())
            self._moved = {name: rid for name, rid in self._moved.items() if rid != repo.repo_id}

    def rate_limit_next(
        self, count: int = 1, *, reset_in: float = 1.0, path_contains: str | None = None
    ) -> None:
        with self._lock:
            self._injections.append(_Injection("primary", count, reset_in, path_contains))

    def secondary_limit_next(
        self, count: int = 1, *, retry_after: int = 1, path_contains: str | None = None
    ) -> None:
        with self._lock:
            self._injections.append(_Injection("secondary", count, retry_after, path_contains))

    def fail_next(self, count: int = 1, *, status: int = 502, path_contains: str | None = None) -> None:
        with self._lock:
            self._injections.append(_Injection("fail", count, status, path_contains))

    # ----------------------------------------------------------------------- server

    @property
    def url(self) -> str:
        if self._url is None:
            raise RuntimeError("the GitHub stand-in is not started")
        return self._url

    def _shapes(self) -> Shapes:
        return Shapes(self._url)

    def start(self) -> str:
        if self._server is not None:
            raise RuntimeError("the GitHub stand-in is already started")
        # No websockets and no lifespan: nothing to negotiate, and no import that may warn.
        config = uvicorn.Config(
            self._asgi, host="127.0.0.1", port=0, interface="asgi3", log_level="warning", access_log=False,
            lifespan="off", ws="none", server_header=False, timeout_graceful_shutdown=2,
        )  # fmt: skip
        server = _Server(config)
        # uvicorn installs signal handlers only on the main thread, so a plain thread is enough.
        thread = threading.Thread(target=server.run, name="github-standin", daemon=True)
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                server.stop()
                thread.join(5)
                raise RuntimeError("the GitHub stand-in did not start")
            time.sleep(0.002)
        port = server.servers[0].sockets[0].getsockname()[1]
        self._server, self._thread, self._url = server, thread, f"http://127.0.0.1:{port}"
        return self._url

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.stop()
            self._thread.join(10)
        self._server = self._thread = None

    def __enter__(self) -> GitHubStandIn:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    async def _asgi(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        while (await receive()).get("more_body", False):
            pass  # a token request may scope itself to repositories; the stand-in ignores that
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        query = dict(parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True))
        reply = await asyncio.to_thread(self._handle, scope["method"], scope["path"], query, headers)
        body = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
        reply.headers["content-length"] = str(len(body))
        raw = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in reply.headers.items()]
        await send({"type": "http.response.start", "status": reply.status, "headers": raw})
        await send({"type": "http.response.body", "body": body})

    # ----------------------------------------------------------------------- request handling

    def _handle(self, method: str, path: str, query: dict[str, str], headers: dict[str, str]) -> Reply:
        scheme, _, credential = headers.get("authorization", "").strip().partition(" ")
        token = credential.strip() or None
        now = time.time()
        with self._lock:
            self._request_count += 1
            request_id = f"C0DE:{os.getpid() % 0xFFFF:04X}:{self._request_count:06X}:{int(now):08X}"
            injection = self._take_injection(path)
            identity = self._identity(token)
        try:
            if injection is not None:
                reply = self._injected(injection, identity, request_id, now)
            else:
                reply = self._route(method, path, query, scheme.lower(), token, headers)
        except HTTPError as exc:
            reply = exc.reply
        except Exception:
            _log.exception("GitHub stand-in failed on %s %s", method, path)
            reply = HTTPError(500, "Server Error").reply
        with self._lock:
            reset, used = self._usage.get(identity, (0, 0))
            if now >= reset:
                reset, used = math.ceil(now) + 3600, 0
            used += path != "/rate_limit"  # GitHub does not count rate-limit status checks
            self._usage[identity] = (reset, used)
            self.requests.append(RecordedRequest(method, path, query, reply.status, time.time(), token))
        reply.headers = {
            "server": "github.com",
            "content-type": "application/json; charset=utf-8",
            "x-ratelimit-limit": str(_LIMIT),
            "x-ratelimit-remaining": str(max(0, _LIMIT - used)),
            "x-ratelimit-used": str(used),
            "x-ratelimit-reset": str(reset),
            "x-ratelimit-resource": "core",
            "x-github-request-id": request_id,
            "x-github-media-type": "github.v3; format=json",
            "x-github-api-version-selected": headers.get("x-github-api-version", "2022-11-28"),
            **reply.headers,
        }
        return reply

    def _identity(self, token: str | None) -> str:
        installation = self._tokens.get(token or "", (None, 0.0))[0]
        return f"installation:{installation}" if installation else "app" if token else "anonymous"

    def _take_injection(self, path: str) -> _Injection | None:
        for injection in self._injections:
            wanted = injection.path_contains
            if (wanted is None and not _TOKEN_PATH.fullmatch(path)) or (
                wanted is not None and wanted in path
            ):
                injection.remaining -= 1
                if injection.remaining <= 0:
                    self._injections.remove(injection)
                return injection
        return None

    def _injected(self, injection: _Injection, identity: str, request_id: str, now: float) -> Reply:
        if injection.kind == "primary":
            installation = identity.partition(":")[2] or "0"
            body = {
                "message": f"API rate limit exceeded for installation ID {installation}.",
                "documentation_url": f"{_RATE_DOCS}#about-primary-rate-limits",
            }
            reset = str(math.ceil(now + injection.value))
            return Reply(
                403,
                body,
                {"x-ratelimit-remaining": "0", "x-ratelimit-used": str(_LIMIT), "x-ratelimit-reset": reset},
            )
        if injection.kind == "secondary":
            message = (
                "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. "
                f"If you reach out to GitHub Support for help, please include the request ID {request_id}."
            )
            body = {"message": message, "documentation_url": f"{_RATE_DOCS}#about-secondary-rate-limits"}
            return Reply(403, body, {"retry-after": str(int(injection.value))})
        status = int(injection.value)
        raise HTTPError(
            status, HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
        )

    def _route(
        self,
        method: str,
        path: str,
        query: dict[str, str],
        scheme: str,
        token: str | None,
        headers: dict[str, str],
    ) -> Reply:
        if method == "POST" and (match := _TOKEN_PATH.fullmatch(path)):
            return self._issue_token(int(match[1]), scheme, token)
        if method != "GET":
            raise HTTPError(404, "Not Found")
        if path == "/rate_limit":
            return self._rate_limit(token)
        installation = self._authorize(token)
        if path == "/installation/repositories":
            return self._installation_repositories(installation, query)
        match = _REPO_PATH.fullmatch(path)
        if match is None:
            raise HTTPError(404, "Not Found")
        repo, moved = self._find_repo(match[1], match[2], match[3], installation)
        rest = match[4] or ""
        if moved:  # GitHub redirects a renamed repository's old name to its id
            location = f"{self.url}/repositories/{repo.repo_id}{quote(rest)}"
            location += f"?{urlencode(query)}" if query else ""
            body = {"message": "Moved Permanently", "url": location, "documentation_url": DOCS_URL}
            return Reply(301, body, {"location": location})
        raw, shapes = "vnd.github.raw" in headers.get("accept", ""), self._shapes()
        for prefix, handler in HANDLERS.items():
            if rest.startswith(prefix) and rest != prefix:
                return handler(shapes, repo, rest[len(prefix) :], query, raw)
        if rest in ("/contents", "/contents/"):
            return contents_endpoint(shapes, repo, "", query, raw)
        if rest in ("", "/"):
            return Reply(200, shapes.repo_json(repo))
        raise HTTPError(404, "Not Found")

    def _issue_token(self, installation_id: int, scheme: str, token: str | None) -> Reply:
        if token is None or scheme != "bearer":
            raise HTTPError(401, "A JSON web token could not be decoded")
        verify_jwt(token, self._public_key, self.app_id)
        with self._lock:
            installation = self._installations.get(installation_id)
            if installation is None:
                raise HTTPError(404, "Not Found")
            if installation.suspended:
                raise HTTPError(403, "This installation has been suspended")
            issued = "ghs_" + "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(36))
            expires = time.time() + self.token_ttl_seconds
            self._tokens[issued] = (installation_id, expires)
            self.tokens_issued += 1
        permissions = {"contents": "read", "metadata": "read"}
        body = {"token": issued, "expires_at": iso_time(expires), "permissions": permissions}
        return Reply(201, body | {"repository_selection": "selected"})

    def _authorize(self, token: str | None) -> int:
        if token is None:
            raise HTTPError(401, "Requires authentication")
        with self._lock:
            installation_id, expires = self._tokens.get(token, (0, 0.0))
            installation = self._installations.get(installation_id)
        # Suspending an installation revokes its tokens.
        if installation is None or installation.suspended or expires <= time.time():
            raise HTTPError(401, "Bad credentials")
        return installation_id

    def _find_repo(
        self, owner: str | None, name: str | None, repo_id: str | None, installation: int
    ) -> tuple[Repo, bool]:
        with self._lock:
            key = f"{owner}/{name}".lower()
            wanted = int(repo_id) if repo_id is not None else self._moved.get(key, -1)
            moved = repo_id is None and key not in self._repos
            found = self._repos.get(key) or next(
                (r for r in self._repos.values() if r.repo_id == wanted), None
            )
        if found is None or found.installation_id != installation:
            raise HTTPError(404, "Not Found")
        return found, moved

    def _rate_limit(self, token: str | None) -> Reply:
        with self._lock:
            reset, used = self._usage.get(self._identity(token), (math.ceil(time.time()) + 3600, 0))
        core = {"limit": _LIMIT, "remaining": _LIMIT - used, "reset": reset, "used": used, "resource": "core"}
        search = {"limit": 30, "remaining": 30, "reset": reset, "used": 0, "resource": "search"}
        return Reply(200, {"resources": {"core": core, "search": search}, "rate": core})

    def _installation_repositories(self, installation: int, query: dict[str, str]) -> Reply:
        with self._lock:
            repos = sorted(
                (r for r in self._repos.values() if r.installation_id == installation),
                key=lambda r: r.repo_id,
            )
        try:
            per_page = min(max(int(query.get("per_page") or 30), 1), 100)
            page = max(int(query.get("page") or 1), 1)
        except ValueError:
            raise HTTPError(422, "Invalid request.") from None
        last = max(1, math.ceil(len(repos) / per_page))
        links = {"next": page + 1, "last": last} if page < last else {}
        if page > 1:
            links |= {"first": 1, "prev": page - 1}
        base = f"{self.url}/installation/repositories?per_page={per_page}"
        link = ", ".join(f'<{base}&page={n}>; rel="{rel}"' for rel, n in links.items())
        shapes = self._shapes()
        chunk = [shapes.repo_json(r) for r in repos[(page - 1) * per_page : page * per_page]]
        body = {"total_count": len(repos), "repository_selection": "selected", "repositories": chunk}
        return Reply(200, body, {"link": link} if link else {})

    # ----------------------------------------------------------------------- webhooks

    def push_payload(
        self, full_name: str, before: str, after: str, *, ref: str | None = None, installation: bool = True
    ) -> dict[str, Any]:
        """A ``push`` webhook payload for ``before..after`` of a served repository."""
        with self._lock:
            repo = self._repos[full_name.lower()]
            account = self._installations[repo.installation_id].account
        return self._shapes().push_payload(repo, account, before, after, ref=ref, installation=installation)
