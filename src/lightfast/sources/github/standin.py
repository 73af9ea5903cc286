"""A local stand-in for the slice of the GitHub REST API a GitHub App uses to index repositories.

Tests of the GitHub source point the product (githubkit with a configurable API base URL) at
:class:`GitHubStandIn`. It serves real git repositories created by the tests: trees, blobs, contents,
branches, commits and comparisons are read with the ``git`` CLI from each working tree's object
database (committed content only) and answered in GitHub's documented shapes and headers. It also
issues installation tokens against App JWTs, injects rate limits and server errors on demand, logs
every request, and builds ``push`` webhook payloads for commit ranges of a served repository.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import math
import os
import posixpath
import re
import secrets
import string
import subprocess
import threading
import time
import zlib
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

import jwt
import uvicorn
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.types import Receive, Scope, Send

__all__ = ["GitHubStandIn", "RecordedRequest", "generate_private_key"]

_log = logging.getLogger(__name__)

_DOCS = "https://docs.github.com/rest"
_RATE_DOCS = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"
_ZERO_SHA = "0" * 40
_LIMIT = 5000
_MAX_INLINE = 1024 * 1024  # the contents API stops inlining file content above 1 MB
_TOKEN_PATH = re.compile(r"/app/installations/(\d+)/access_tokens")
_REPO_PATH = re.compile(r"/(?:repos/([^/]+)/([^/]+)|repositories/(\d+))(/.*)?")
# Refs reach `git rev-parse`: refuse options, ranges, reflog and `rev:path` forms GitHub does not take.
_SAFE_REF = re.compile(r"(?!-)(?!.*\.\.)(?!.*@\{)[^\s:?*\[\\]+")
_FULL_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
_STATUS = {"A": "added", "D": "removed", "M": "modified", "R": "renamed", "C": "copied", "T": "changed"}
_LOG_FORMAT = "%H%x00%T%x00%P%x00%an%x00%ae%x00%at%x00%aI%x00%cn%x00%ce%x00%ct%x00%cI%x00%B"
_GIT_REPO_VARIABLES = frozenset(
    {"GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY", "GIT_COMMON_DIR", "GIT_NAMESPACE"}
)
_RAW = {"content-type": "application/vnd.github.raw; charset=utf-8"}
# URL templates as GitHub spells them, suffixes of the repository's / the user's API URL.
_REPO_LINKS = (
    "forks_url=/forks keys_url=/keys{/key_id} collaborators_url=/collaborators{/collaborator} "
    "teams_url=/teams hooks_url=/hooks issue_events_url=/issues/events{/number} events_url=/events "
    "assignees_url=/assignees{/user} branches_url=/branches{/branch} tags_url=/tags "
    "blobs_url=/git/blobs{/sha} git_tags_url=/git/tags{/sha} git_refs_url=/git/refs{/sha} "
    "trees_url=/git/trees{/sha} statuses_url=/statuses/{sha} languages_url=/languages "
    "stargazers_url=/stargazers contributors_url=/contributors subscribers_url=/subscribers "
    "subscription_url=/subscription commits_url=/commits{/sha} git_commits_url=/git/commits{/sha} "
    "comments_url=/comments{/number} issue_comment_url=/issues/comments{/number} "
    "contents_url=/contents/{+path} compare_url=/compare/{base}...{head} merges_url=/merges "
    "archive_url=/{archive_format}{/ref} downloads_url=/downloads issues_url=/issues{/number} "
    "pulls_url=/pulls{/number} milestones_url=/milestones{/number} "
    "notifications_url=/notifications{?since,all,participating} labels_url=/labels{/name} "
    "releases_url=/releases{/id} deployments_url=/deployments"
)
_USER_LINKS = (
    "followers_url=/followers following_url=/following{/other_user} gists_url=/gists{/gist_id} "
    "starred_url=/starred{/owner}{/repo} subscriptions_url=/subscriptions organizations_url=/orgs "
    "repos_url=/repos events_url=/events{/privacy} received_events_url=/received_events"
)
_REPO_DEFAULTS: dict[str, Any] = {
    **dict.fromkeys(("description", "homepage", "language", "mirror_url", "license"), None),
    **dict.fromkeys(("fork", "has_pages", "archived"), False),
    **dict.fromkeys(("has_issues", "has_projects", "has_downloads", "has_wiki"), True),
    **dict.fromkeys(("size", "stargazers_count", "watchers_count", "forks_count", "open_issues_count"), 0),
    **dict.fromkeys(("forks", "open_issues", "watchers"), 0),
}
_API_REPO_EXTRAS: dict[str, Any] = {
    **dict.fromkeys(("disabled", "has_discussions", "is_template", "web_commit_signoff_required"), False),
    **{"allow_forking": True, "topics": [], "subscribers_count": 0, "network_count": 0},
}


def _links(base: str, spec: str) -> dict[str, str]:
    return {key: base + suffix for key, _, suffix in (item.partition("=") for item in spec.split())}


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    status: int
    at: float  # time.time() when answered
    token: str | None  # bearer token used (installation token or JWT), None if none


@dataclass
class _Repo:
    full_name: str
    path: Path
    repo_id: int
    installation_id: int
    private: bool
    default_branch: str
    created: float


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


@dataclass(frozen=True)
class _Person:
    name: str
    email: str
    epoch: int
    iso: str  # with the person's own UTC offset, as push payloads show it


@dataclass(frozen=True)
class _Commit:
    sha: str
    tree: str
    parents: list[str]
    author: _Person
    committer: _Person
    message: str


@dataclass(frozen=True)
class _Change:
    status: str
    path: str
    old_path: str
    sha: str
    additions: int = 0
    deletions: int = 0


@dataclass(frozen=True)
class _Entry:
    mode: str
    type: str
    sha: str
    size: int | None
    path: str


@dataclass
class _Reply:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


class _HTTPError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.reply = _Reply(status, {"message": message, "documentation_url": _DOCS, "status": str(status)})


class _GitError(Exception):
    pass


def generate_private_key() -> tuple[str, str]:
    """A fresh RSA 2048 App key pair: (private PEM in PKCS8, public PEM)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private.decode(), public.decode()


# --------------------------------------------------------------------------- git access


def _git(path: Path, *args: str) -> bytes:
    # Inherited repository variables (set when running inside a git hook) would redirect every command.
    env = {k: v for k, v in os.environ.items() if k not in _GIT_REPO_VARIABLES}
    # No optional locks: reading must never take index.lock while a test commits in the same tree.
    env |= {"GIT_OPTIONAL_LOCKS": "0", "LC_ALL": "C", "GIT_TERMINAL_PROMPT": "0"}
    cmd = ["git", "-C", str(path), "-c", "log.showSignature=false", *args]
    proc = subprocess.run(cmd, capture_output=True, env=env, check=False)
    if proc.returncode != 0:
        raise _GitError(proc.stderr.decode("utf-8", "replace").strip())
    return proc.stdout


def _resolve(path: Path, ref: str, kind: str = "commit") -> str | None:
    if not _SAFE_REF.fullmatch(ref):
        return None
    try:
        out = _git(path, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{{kind}}}")
    except _GitError:
        return None
    return out.decode().strip()


def _commits(path: Path, *args: str) -> list[_Commit]:
    out = _git(path, "log", "-z", f"--format={_LOG_FORMAT}", *args, "--").decode("utf-8", "replace")
    parts, found = out.split("\0"), []
    for i in range(0, len(parts) - 11, 12):
        sha, tree, parents, an, ae, at, ai, cn, ce, ct, ci, message = parts[i : i + 12]
        author, committer = _Person(an, ae, int(at), ai), _Person(cn, ce, int(ct), ci)
        found.append(_Commit(sha, tree, parents.split(), author, committer, message.rstrip("\n")))
    return found


def _commit(path: Path, sha: str) -> _Commit:
    return _commits(path, "-1", sha)[0]


def _ls_tree(path: Path, tree: str, *, recursive: bool = False, prefix: str = "") -> list[_Entry]:
    out = _git(path, "ls-tree", "-z", "-l", *(["-r", "-t"] if recursive else []), tree)
    entries = []
    for record in out.decode("utf-8", "surrogateescape").split("\0"):
        if record:
            meta, name = record.split("\t", 1)
            mode, kind, sha, size = meta.split()
            entries.append(_Entry(mode, kind, sha, None if size == "-" else int(size), prefix + name))
    return entries


def _diff(path: Path, old: str | None, new: str, *, renames: bool, stats: bool) -> list[_Change]:
    args = ["diff-tree", "-r", "-z", "--no-commit-id", "-M" if renames else "--no-renames"]
    args += [old, new] if old else ["--root", new]
    tokens = _git(path, *args).decode("utf-8", "surrogateescape").split("\0")
    changes, i = [], 0
    while i < len(tokens) and tokens[i].startswith(":"):
        _, _, old_sha, new_sha, status = tokens[i][1:].split(" ")
        two = status[0] in "RC"  # renames and copies name the old path, then the new one
        old_path, new_path = (tokens[i + 1], tokens[i + 2]) if two else (tokens[i + 1], tokens[i + 1])
        i += 3 if two else 2
        sha = old_sha if status[0] == "D" else new_sha
        changes.append(_Change(_STATUS.get(status[0], "changed"), new_path, old_path, sha))
    if not stats:
        return changes
    tokens, i, counts = _git(path, *args, "--numstat").decode("utf-8", "surrogateescape").split("\0"), 0, []
    while i < len(tokens) and tokens[i]:
        added, deleted, name = tokens[i].split("\t", 2)
        i += 3 if name == "" else 1
        # numstat prints "-" for a binary file, which GitHub counts as 0 lines.
        counts.append((int(added) if added != "-" else 0, int(deleted) if deleted != "-" else 0))
    return [
        _Change(c.status, c.path, c.old_path, c.sha, a, d) for c, (a, d) in zip(changes, counts, strict=True)
    ]


def _node(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def _base64_lines(data: bytes) -> str:
    # GitHub wraps base64 at 60 characters and ends every line, the last included, with "\n".
    encoded = base64.b64encode(data).decode()
    return "".join(encoded[i : i + 60] + "\n" for i in range(0, len(encoded), 60))


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
    """GitHub REST API stand-in serving real git working trees; see the module docstring."""

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
        self._repos: dict[str, _Repo] = {}  # by lower-cased full name: GitHub names are case-insensitive
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
        _git(path, "rev-parse", "--git-dir")  # fails early on a directory that is not a repository
        if default_branch is None:
            default_branch = _git(path, "symbolic-ref", "--short", "HEAD").decode().strip()
        repo = _Repo(full_name, Path(path), repo_id, installation_id, private, default_branch, time.time())
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

    def _handle(self, method: str, path: str, query: dict[str, str], headers: dict[str, str]) -> _Reply:
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
        except _HTTPError as exc:
            reply = exc.reply
        except Exception:
            _log.exception("GitHub stand-in failed on %s %s", method, path)
            reply = _HTTPError(500, "Server Error").reply
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

    def _injected(self, injection: _Injection, identity: str, request_id: str, now: float) -> _Reply:
        if injection.kind == "primary":
            installation = identity.partition(":")[2] or "0"
            body = {
                "message": f"API rate limit exceeded for installation ID {installation}.",
                "documentation_url": f"{_RATE_DOCS}#about-primary-rate-limits",
            }
            reset = str(math.ceil(now + injection.value))
            return _Reply(
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
            return _Reply(403, body, {"retry-after": str(int(injection.value))})
        status = int(injection.value)
        raise _HTTPError(
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
    ) -> _Reply:
        if method == "POST" and (match := _TOKEN_PATH.fullmatch(path)):
            return self._issue_token(int(match[1]), scheme, token)
        if method != "GET":
            raise _HTTPError(404, "Not Found")
        if path == "/rate_limit":
            return self._rate_limit(token)
        installation = self._authorize(token)
        if path == "/installation/repositories":
            return self._installation_repositories(installation, query)
        match = _REPO_PATH.fullmatch(path)
        if match is None:
            raise _HTTPError(404, "Not Found")
        repo, moved = self._find_repo(match[1], match[2], match[3], installation)
        rest = match[4] or ""
        if moved:  # GitHub redirects a renamed repository's old name to its id
            location = f"{self.url}/repositories/{repo.repo_id}{quote(rest)}"
            location += f"?{urlencode(query)}" if query else ""
            body = {"message": "Moved Permanently", "url": location, "documentation_url": _DOCS}
            return _Reply(301, body, {"location": location})
        raw = "vnd.github.raw" in headers.get("accept", "")
        handlers = {
            "/branches/": self._branch,
            "/commits/": self._commit_endpoint,
            "/git/trees/": self._tree,
            "/git/blobs/": self._blob,
            "/compare/": self._compare,
            "/contents/": self._contents,
        }
        for prefix, handler in handlers.items():
            if rest.startswith(prefix) and rest != prefix:
                return handler(repo, rest[len(prefix) :], query, raw)
        if rest in ("/contents", "/contents/"):
            return self._contents(repo, "", query, raw)
        if rest in ("", "/"):
            return _Reply(200, self._repo_json(repo))
        raise _HTTPError(404, "Not Found")

    def _issue_token(self, installation_id: int, scheme: str, token: str | None) -> _Reply:
        if token is None or scheme != "bearer":
            raise _HTTPError(401, "A JSON web token could not be decoded")
        self._verify_jwt(token)
        with self._lock:
            installation = self._installations.get(installation_id)
            if installation is None:
                raise _HTTPError(404, "Not Found")
            if installation.suspended:
                raise _HTTPError(403, "This installation has been suspended")
            issued = "ghs_" + "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(36))
            expires = time.time() + self.token_ttl_seconds
            self._tokens[issued] = (installation_id, expires)
            self.tokens_issued += 1
        permissions = {"contents": "read", "metadata": "read"}
        body = {"token": issued, "expires_at": _iso(expires), "permissions": permissions}
        return _Reply(201, body | {"repository_selection": "selected"})

    def _verify_jwt(self, token: str) -> None:
        options: Any = {"require": ["exp", "iat", "iss"]}
        try:
            claims = jwt.decode(token, self._public_key, algorithms=["RS256"], leeway=60, options=options)
        except jwt.ExpiredSignatureError:
            raise _HTTPError(
                401,
                "'Expiration time' claim ('exp') must be a numeric value representing the future time "
                "at which the assertion expires",
            ) from None
        except jwt.ImmatureSignatureError:
            raise _HTTPError(
                401,
                "'Issued at' claim ('iat') must be an Integer representing the time that the assertion "
                "was issued",
            ) from None
        except jwt.PyJWTError:
            raise _HTTPError(401, "A JSON web token could not be decoded") from None
        issuer = claims["iss"]
        if isinstance(issuer, bool) or not isinstance(issuer, int | str) or str(issuer) != str(self.app_id):
            raise _HTTPError(401, "A JSON web token could not be decoded")
        # GitHub caps App JWTs at ten minutes; the same 60 s of clock drift as the leeway above.
        if claims["exp"] - claims["iat"] > 660 or claims["exp"] > time.time() + 660:
            raise _HTTPError(401, "'Expiration time' claim ('exp') is too far in the future")

    def _authorize(self, token: str | None) -> int:
        if token is None:
            raise _HTTPError(401, "Requires authentication")
        with self._lock:
            installation_id, expires = self._tokens.get(token, (0, 0.0))
            installation = self._installations.get(installation_id)
        # Suspending an installation revokes its tokens.
        if installation is None or installation.suspended or expires <= time.time():
            raise _HTTPError(401, "Bad credentials")
        return installation_id

    def _find_repo(
        self, owner: str | None, name: str | None, repo_id: str | None, installation: int
    ) -> tuple[_Repo, bool]:
        with self._lock:
            key = f"{owner}/{name}".lower()
            wanted = int(repo_id) if repo_id is not None else self._moved.get(key, -1)
            moved = repo_id is None and key not in self._repos
            found = self._repos.get(key) or next(
                (r for r in self._repos.values() if r.repo_id == wanted), None
            )
        if found is None or found.installation_id != installation:
            raise _HTTPError(404, "Not Found")
        return found, moved

    def _rate_limit(self, token: str | None) -> _Reply:
        with self._lock:
            reset, used = self._usage.get(self._identity(token), (math.ceil(time.time()) + 3600, 0))
        core = {"limit": _LIMIT, "remaining": _LIMIT - used, "reset": reset, "used": used, "resource": "core"}
        search = {"limit": 30, "remaining": 30, "reset": reset, "used": 0, "resource": "search"}
        return _Reply(200, {"resources": {"core": core, "search": search}, "rate": core})

    def _installation_repositories(self, installation: int, query: dict[str, str]) -> _Reply:
        with self._lock:
            repos = sorted(
                (r for r in self._repos.values() if r.installation_id == installation),
                key=lambda r: r.repo_id,
            )
        try:
            per_page = min(max(int(query.get("per_page") or 30), 1), 100)
            page = max(int(query.get("page") or 1), 1)
        except ValueError:
            raise _HTTPError(422, "Invalid request.") from None
        last = max(1, math.ceil(len(repos) / per_page))
        links = {"next": page + 1, "last": last} if page < last else {}
        if page > 1:
            links |= {"first": 1, "prev": page - 1}
        base = f"{self.url}/installation/repositories?per_page={per_page}"
        link = ", ".join(f'<{base}&page={n}>; rel="{rel}"' for rel, n in links.items())
        chunk = [self._repo_json(r) for r in repos[(page - 1) * per_page : page * per_page]]
        body = {"total_count": len(repos), "repository_selection": "selected", "repositories": chunk}
        return _Reply(200, body, {"link": link} if link else {})

    # ----------------------------------------------------------------------- repository endpoints

    def _branch(self, repo: _Repo, name: str, query: dict[str, str], raw: bool) -> _Reply:
        sha = _resolve(repo.path, f"refs/heads/{name}") if _SAFE_REF.fullmatch(name) else None
        if sha is None:
            raise _HTTPError(404, "Branch not found")
        api = f"{self._api(repo)}/branches/{quote(name)}"
        checks = {"enforcement_level": "off", "contexts": [], "checks": []}
        body = {
            "name": name,
            "commit": self._commit_json(repo, _commit(repo.path, sha)),
            "_links": {"self": api, "html": f"{self._html(repo)}/tree/{name}"},
            "protected": False,
            "protection": {"enabled": False, "required_status_checks": checks},
            "protection_url": f"{api}/protection",
        }
        return _Reply(200, body)

    def _commit_endpoint(self, repo: _Repo, ref: str, query: dict[str, str], raw: bool) -> _Reply:
        sha = _resolve(repo.path, ref)
        if sha is None:
            raise _HTTPError(422, f"No commit found for SHA: {ref}")
        commit = _commit(repo.path, sha)
        files = _diff(repo.path, commit.parents[0] if commit.parents else None, sha, renames=True, stats=True)
        return _Reply(200, self._commit_json(repo, commit, files))

    def _tree(self, repo: _Repo, ref: str, query: dict[str, str], raw: bool) -> _Reply:
        tree = _resolve(repo.path, ref, "tree")
        if tree is None:
            raise _HTTPError(404, "Not Found")
        # GitHub recurses whenever the parameter is present, whatever its value ("0" and "false" too).
        entries = _ls_tree(repo.path, tree, recursive="recursive" in query)
        api = self._api(repo)
        items = []
        for e in entries[:100_000]:
            item: dict[str, Any] = {"path": e.path, "mode": e.mode, "type": e.type, "sha": e.sha}
            if e.type == "blob":
                item |= {"size": e.size, "url": f"{api}/git/blobs/{e.sha}"}
            elif e.type == "tree":
                item["url"] = f"{api}/git/trees/{e.sha}"
            items.append(item)
        body = {
            "sha": tree,
            "url": f"{api}/git/trees/{tree}",
            "tree": items,
            "truncated": len(entries) > 100_000,
        }
        return _Reply(200, body)

    def _blob(self, repo: _Repo, sha: str, query: dict[str, str], raw: bool) -> _Reply:
        if not _FULL_SHA.fullmatch(sha):
            raise _HTTPError(
                422, "The sha parameter must be exactly 40 characters and contain only [0-9a-f]."
            )
        try:
            data = _git(repo.path, "cat-file", "blob", sha)
        except _GitError:
            raise _HTTPError(404, "Not Found") from None
        if raw:
            return _Reply(200, data, dict(_RAW))
        body = {
            "sha": sha,
            "node_id": _node(f"04:Blob{repo.repo_id}:{sha}"),
            "size": len(data),
            "url": f"{self._api(repo)}/git/blobs/{sha}",
            "content": _base64_lines(data),
            "encoding": "base64",
        }
        return _Reply(200, body)

    def _contents(self, repo: _Repo, sub: str, query: dict[str, str], raw: bool) -> _Reply:
        ref = query.get("ref") or repo.default_branch
        commit = _resolve(repo.path, ref)
        if commit is None:
            raise _HTTPError(404, f"No commit found for the ref {ref}")
        entry = self._lookup(repo, commit, [p for p in sub.split("/") if p])
        if entry is None:
            raise _HTTPError(404, "Not Found")
        if entry.type == "tree":
            listing = _ls_tree(repo.path, entry.sha, prefix=f"{entry.path}/" if entry.path else "")
            return _Reply(200, [self._content_json(repo, ref, e, listing=True) for e in listing])
        if entry.mode == "120000":  # a symlink to a regular file in the repository answers with that file
            target = _git(repo.path, "cat-file", "blob", entry.sha).decode("utf-8", "surrogateescape")
            resolved = posixpath.normpath(posixpath.join(posixpath.dirname(entry.path), target))
            inside = not target.startswith("/") and resolved != ".." and not resolved.startswith("../")
            followed = self._lookup(repo, commit, resolved.split("/")) if inside else None
            if followed is None or followed.mode not in ("100644", "100755"):
                return _Reply(200, self._content_json(repo, ref, entry, listing=False) | {"target": target})
            entry = followed
        if entry.type == "commit":
            submodule = {"submodule_git_url": self._submodule_url(repo, commit, entry.path)}
            return _Reply(200, self._content_json(repo, ref, entry, listing=False) | submodule)
        data = _git(repo.path, "cat-file", "blob", entry.sha)
        if raw:
            return _Reply(200, data, dict(_RAW))
        inline = len(data) <= _MAX_INLINE
        encoded = {
            "encoding": "base64" if inline else "none",
            "content": _base64_lines(data) if inline else "",
        }
        return _Reply(200, self._content_json(repo, ref, entry, listing=False) | encoded)

    def _lookup(self, repo: _Repo, commit: str, parts: list[str]) -> _Entry | None:
        if any(p in (".", "..") for p in parts):
            return None
        if not parts:
            return _Entry("040000", "tree", _resolve(repo.path, commit, "tree") or "", None, "")
        parent = "/".join(parts[:-1])
        try:  # `<commit>:<dir>` takes the directory literally, unlike ls-tree's path patterns
            siblings = _ls_tree(repo.path, f"{commit}:{parent}", prefix=f"{parent}/" if parent else "")
        except _GitError:
            return None
        return next((e for e in siblings if e.path == "/".join(parts)), None)

    def _submodule_url(self, repo: _Repo, commit: str, path: str) -> str:
        try:
            out = _git(repo.path, "config", "-z", "--blob", f"{commit}:.gitmodules", "--list")
        except _GitError:
            return ""
        pairs = dict(item.split("\n", 1) for item in out.decode().split("\0") if "\n" in item)
        names = [k.removesuffix(".path") for k, v in pairs.items() if k.endswith(".path") and v == path]
        return pairs.get(f"{names[0]}.url", "") if names else ""

    def _compare(self, repo: _Repo, basehead: str, query: dict[str, str], raw: bool) -> _Reply:
        base_ref, sep, head_ref = basehead.partition("...")
        base, head = _resolve(repo.path, base_ref), _resolve(repo.path, head_ref)
        if not sep or base is None or head is None:
            raise _HTTPError(404, "Not Found")
        try:
            merge_base = _git(repo.path, "merge-base", base, head).decode().strip()
        except _GitError:
            raise _HTTPError(404, f"No common ancestor between {base_ref} and {head_ref}.") from None
        commits = _commits(repo.path, "--reverse", f"{merge_base}..{head}")
        ahead, behind = len(commits), int(_git(repo.path, "rev-list", "--count", f"{merge_base}..{base}"))
        status = {(False, False): "identical", (True, False): "ahead", (False, True): "behind"}
        files = _diff(repo.path, merge_base, head, renames=True, stats=True)
        html, owner = f"{self._html(repo)}/compare/", repo.full_name.split("/")[0]
        body = {
            "url": f"{self._api(repo)}/compare/{quote(basehead)}",
            "html_url": f"{html}{basehead}",
            "permalink_url": f"{html}{owner}:{base}...{owner}:{head}",
            "diff_url": f"{html}{basehead}.diff",
            "patch_url": f"{html}{basehead}.patch",
            "base_commit": self._commit_json(repo, _commit(repo.path, base)),
            "merge_base_commit": self._commit_json(repo, _commit(repo.path, merge_base)),
            "status": status.get((ahead > 0, behind > 0), "diverged"),
            "ahead_by": ahead,
            "behind_by": behind,
            "total_commits": ahead,
            "commits": [self._commit_json(repo, c) for c in commits[:250]],  # GitHub's limits
            "files": [self._file_json(repo, head, f) for f in files[:300]],
        }
        return _Reply(200, body)

    # ----------------------------------------------------------------------- JSON shapes

    def _api(self, repo: _Repo | None = None) -> str:
        root = self._url or "https://api.github.com"
        return f"{root}/repos/{repo.full_name}" if repo else root

    def _html(self, repo: _Repo) -> str:
        return f"https://github.com/{repo.full_name}"

    def _user_json(self, login: str, kind: str) -> dict[str, Any]:
        uid, url = zlib.crc32(login.lower().encode()) % 90_000_000 + 1_000_000, f"{self._api()}/users/{login}"
        node = _node(f"04:User{uid}" if kind == "User" else f"012:Organization{uid}")
        return {
            **{"login": login, "id": uid, "node_id": node, "gravatar_id": "", "url": url},
            **{"avatar_url": f"https://avatars.githubusercontent.com/u/{uid}?v=4"},
            **{"html_url": f"https://github.com/{login}", **_links(url, _USER_LINKS)},
            **{"type": kind, "site_admin": False},
        }

    def _repo_json(self, repo: _Repo, *, push: bool = False) -> dict[str, Any]:
        login, name = repo.full_name.split("/", 1)
        api, html, full = self._api(repo), self._html(repo), repo.full_name
        try:
            pushed = float(
                _git(repo.path, "log", "-1", "--format=%ct", f"refs/heads/{repo.default_branch}", "--")
            )
        except (_GitError, ValueError):
            pushed = repo.created  # an empty repository has no commit yet
        owner = self._user_json(login, "Organization")
        times = (
            {"created_at": int(repo.created), "updated_at": _iso(pushed), "pushed_at": int(pushed)}
            if push  # push deliveries keep epoch seconds here, like GitHub's own
            else {"created_at": _iso(repo.created), "updated_at": _iso(pushed), "pushed_at": _iso(pushed)}
        )
        body: dict[str, Any] = {
            **{"id": repo.repo_id, "node_id": _node(f"010:Repository{repo.repo_id}"), "name": name},
            **{"full_name": full, "private": repo.private, "html_url": html, "url": html if push else api},
            "owner": {"name": login, "email": None, **owner} if push else owner,
            **_links(api, _REPO_LINKS),
            **times,
            **{"git_url": f"git://github.com/{full}.git", "ssh_url": f"git@github.com:{full}.git"},
            **{"clone_url": f"{html}.git", "svn_url": html},
            **_REPO_DEFAULTS,
            "default_branch": repo.default_branch,
        }
        if push:
            return body | {"stargazers": 0, "master_branch": repo.default_branch}
        return body | {"visibility": "private" if repo.private else "public", **_API_REPO_EXTRAS}

    def _commit_json(self, repo: _Repo, c: _Commit, files: list[_Change] | None = None) -> dict[str, Any]:
        api, html = self._api(repo), self._html(repo)
        verification = {"verified": False, "reason": "unsigned", "signature": None, "payload": None}
        committed = _iso(c.committer.epoch)
        body: dict[str, Any] = {
            "sha": c.sha,
            "node_id": _node(f"06:Commit{repo.repo_id}:{c.sha}"),
            "commit": {
                "author": {"name": c.author.name, "email": c.author.email, "date": _iso(c.author.epoch)},
                "committer": {"name": c.committer.name, "email": c.committer.email, "date": committed},
                "message": c.message,
                "tree": {"sha": c.tree, "url": f"{api}/git/trees/{c.tree}"},
                "url": f"{api}/git/commits/{c.sha}",
                "comment_count": 0,
                "verification": verification | {"verified_at": None},
            },
            "url": f"{api}/commits/{c.sha}",
            "html_url": f"{html}/commit/{c.sha}",
            "comments_url": f"{api}/commits/{c.sha}/comments",
            "author": None,  # no GitHub account behind a stand-in commit's e-mail address
            "committer": None,
            "parents": [
                {"sha": p, "url": f"{api}/commits/{p}", "html_url": f"{html}/commit/{p}"} for p in c.parents
            ],
        }
        if files is not None:
            added, deleted = sum(f.additions for f in files), sum(f.deletions for f in files)
            body["stats"] = {"total": added + deleted, "additions": added, "deletions": deleted}
            body["files"] = [self._file_json(repo, c.sha, f) for f in files[:300]]
        return body

    def _file_json(self, repo: _Repo, ref: str, f: _Change) -> dict[str, Any]:
        path, html = quote(f.path), self._html(repo)
        body = {
            **{"sha": f.sha, "filename": f.path, "status": f.status, "additions": f.additions},
            **{"deletions": f.deletions, "changes": f.additions + f.deletions},
            **{"blob_url": f"{html}/blob/{ref}/{path}", "raw_url": f"{html}/raw/{ref}/{path}"},
            "contents_url": f"{self._api(repo)}/contents/{path}?ref={ref}",
        }
        return body | ({"previous_filename": f.old_path} if f.status == "renamed" else {})

    def _content_json(self, repo: _Repo, ref: str, e: _Entry, *, listing: bool) -> dict[str, Any]:
        # Directory listings call submodules "file", for backwards compatibility (documented by GitHub).
        kind = {"tree": "dir", "commit": "file" if listing else "submodule"}.get(e.type, "file")
        kind = "symlink" if e.mode == "120000" else kind
        path, api = quote(e.path), self._api(repo)
        url = f"{api}/contents/{path}?ref={quote(ref, safe='')}"
        git_url = (
            None if e.type == "commit" else f"{api}/git/{'trees' if e.type == 'tree' else 'blobs'}/{e.sha}"
        )
        html_url = f"{self._html(repo)}/{'blob' if e.type == 'blob' else 'tree'}/{ref}/{path}"
        download = (
            f"https://raw.githubusercontent.com/{repo.full_name}/{ref}/{path}" if e.type == "blob" else None
        )
        return {
            **{"type": kind, "size": e.size or 0, "name": posixpath.basename(e.path), "path": e.path},
            **{"sha": e.sha, "url": url, "git_url": git_url, "html_url": html_url, "download_url": download},
            "_links": {"self": url, "git": git_url, "html": html_url},
        }

    # ----------------------------------------------------------------------- webhooks

    def push_payload(
        self, full_name: str, before: str, after: str, *, ref: str | None = None, installation: bool = True
    ) -> dict[str, Any]:
        """A ``push`` webhook payload for ``before..after`` of a served repository."""
        with self._lock:
            repo = self._repos[full_name.lower()]
            account = self._installations[repo.installation_id].account
        created, deleted = before == _ZERO_SHA, after == _ZERO_SHA
        # A new branch lists only its head: GitHub's "commits new to the repository" needs the remote's refs.
        commits = [] if deleted else [_commit(repo.path, after)] if created else None
        commits = _commits(repo.path, "--reverse", f"{before}..{after}") if commits is None else commits
        forced = False
        if not created and not deleted:
            try:  # a push is forced when the old head is not an ancestor of the new one
                _git(repo.path, "merge-base", "--is-ancestor", before, after)
            except _GitError:
                forced = True
        payloads = [self._push_commit(repo, c) for c in commits[-2048:]]
        head = payloads[-1] if payloads and commits[-1].sha == after else None
        if head is None and not deleted:
            head = self._push_commit(repo, _commit(repo.path, after))
        html = self._html(repo)
        compare = f"{html}/commit/{after[:12]}" if created else f"{html}/compare/{before[:12]}...{after[:12]}"
        pusher = {"name": account, "email": None}
        if commits:
            pusher = {"name": commits[-1].committer.name, "email": commits[-1].committer.email}
        body: dict[str, Any] = {
            "ref": ref or f"refs/heads/{repo.default_branch}",
            **{"before": before, "after": after, "created": created, "deleted": deleted, "forced": forced},
            "base_ref": None,
            "compare": compare,
            "commits": payloads,
            "head_commit": head,
            "repository": self._repo_json(repo, push=True),
            "pusher": pusher,
            "sender": self._user_json(account, "User"),
        }
        if installation:
            node = _node(f"23:IntegrationInstallation{repo.installation_id}")
            body["installation"] = {"id": repo.installation_id, "node_id": node}
        return body

    def _push_commit(self, repo: _Repo, c: _Commit) -> dict[str, Any]:
        changes = _diff(repo.path, c.parents[0] if c.parents else None, c.sha, renames=False, stats=False)
        return {
            **{"id": c.sha, "tree_id": c.tree, "distinct": True, "message": c.message},
            **{"timestamp": c.author.iso, "url": f"{self._html(repo)}/commit/{c.sha}"},
            "author": {"name": c.author.name, "email": c.author.email, "username": c.author.name},
            "committer": {"name": c.committer.name, "email": c.committer.email, "username": c.committer.name},
            "added": [ch.path for ch in changes if ch.status == "added"],
            "removed": [ch.path for ch in changes if ch.status == "removed"],
            "modified": [ch.path for ch in changes if ch.status in ("modified", "changed")],
        }
