"""The GitHub REST API stand-in, against real git repositories, with plain httpx and with githubkit."""

from __future__ import annotations

import base64
import json
import math
import os
import re
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from githubkit import AppAuthStrategy, GitHub
from githubkit.exception import PrimaryRateLimitExceeded, RequestFailed, SecondaryRateLimitExceeded
from githubkit_schemas.latest.models import ContentFile, ContentSubmodule

from lightfast.sources.github.webhooks import classify_push, parse_push
from lightfast.testing.github import GitHubStandIn, generate_private_key

APP_ID = 4242
INSTALLATION = 77
REPO_ID = 1001
FULL_NAME = "acme/widgets"
# shared/ sits beside the repository, in development and in CI.
PUSH_FIXTURE = (
    Path(__file__).resolve().parents[2] / "shared/fixtures/webhooks/github/push.added-modified.json"
)
BINARY = bytes(range(256)) * 3 + b"\x00\xff\r\n"
# Independent of the machine's git configuration, and of an enclosing repository when run from a git hook.
GIT_ENV = {k: v for k, v in os.environ.items() if k not in {"GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE"}}
GIT_ENV |= {"GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1"}


def git(repo: Path, *args: str) -> str:
    cmd = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com", *args]
    return subprocess.run(cmd, capture_output=True, check=True, env=GIT_ENV, text=True).stdout.strip()


def commit_all(repo: Path, message: str) -> str:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


@dataclass(frozen=True)
class Repo:
    path: Path
    c1: str  # README, src/app.py, "docs/guide one.md", data.bin, a symlink
    c2: str  # README modified, new.txt added, src/app.py removed
    c3: str  # "docs/guide one.md" renamed to docs/guide.md
    side: str  # feature/x: one commit on top of c1, adding side.txt, "ünï côde.txt", a dangling symlink


@pytest.fixture(scope="module")
def keys() -> tuple[str, str]:
    return generate_private_key()


@pytest.fixture(scope="module")
def other_private_key() -> str:
    return generate_private_key()[0]


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    # One client for the whole module: building one costs tens of milliseconds (TLS context).
    with httpx.Client() as client:
        yield client


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Repo:
    path = tmp_path_factory.mktemp("standin") / "dépôt with spaces"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    (path / "README.md").write_text("# Widgets\n")
    (path / "src").mkdir()
    (path / "src" / "app.py").write_text("print('hi')\n")
    (path / "docs").mkdir()
    (path / "docs" / "guide one.md").write_text("A guide.\n" * 20)
    (path / "data.bin").write_bytes(BINARY)
    (path / "readme-link").symlink_to("README.md")
    c1 = commit_all(path, "first")
    (path / "README.md").write_text("# Widgets\n\nNow with more.\n")
    (path / "new.txt").write_text("new\n")
    (path / "src" / "app.py").unlink()
    c2 = commit_all(path, "second")
    (path / "docs" / "guide one.md").rename(path / "docs" / "guide.md")
    c3 = commit_all(path, "third\n\nWith a body.")
    git(path, "checkout", "-q", "-b", "feature/x", c1)
    (path / "side.txt").write_text("side\n")
    (path / "dangling").symlink_to("nowhere.txt")
    (path / "ünï côde.txt").write_text("ü\n")
    side = commit_all(path, "side")
    git(path, "checkout", "-q", "main")
    return Repo(path, c1, c2, c3, side)


@pytest.fixture
def standin(keys: tuple[str, str], repo: Repo) -> Iterator[GitHubStandIn]:
    server = GitHubStandIn(app_id=APP_ID, public_key_pem=keys[1])
    server.add_repository(FULL_NAME, repo.path, repo_id=REPO_ID, installation_id=INSTALLATION)
    with server:
        yield server


def app_jwt(private_pem: str, *, iss: Any = APP_ID, iat: float = -60, exp: float = 540) -> str:
    """An App JWT, signed as a plain JWS: PyJWT's JWT encoder refuses the numeric issuers GitHub takes."""
    now = int(time.time())
    claims = json.dumps({"iss": iss, "iat": now + int(iat), "exp": now + int(exp)}).encode()
    return jwt.PyJWS().encode(claims, private_pem, algorithm="RS256")


def issue(
    http: httpx.Client, server: GitHubStandIn, jwt_token: str, installation: int = INSTALLATION
) -> httpx.Response:
    url = f"{server.url}/app/installations/{installation}/access_tokens"
    return http.post(url, headers={"Authorization": f"Bearer {jwt_token}"})


@pytest.fixture
def token(standin: GitHubStandIn, keys: tuple[str, str], http: httpx.Client) -> str:
    response = issue(http, standin, app_jwt(keys[0]))
    assert response.status_code == 201
    value: str = response.json()["token"]
    return value


@pytest.fixture
def api(standin: GitHubStandIn, token: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=standin.url, headers={"Authorization": f"token {token}"}) as client:
        yield client


@pytest.fixture
def gh(standin: GitHubStandIn, token: str) -> Iterator[GitHub[Any]]:
    with GitHub(token, base_url=standin.url, auto_retry=False, http_cache=False) as client:
        yield client


# --------------------------------------------------------------------------- tokens and authentication


def test_githubkit_app_auth_issues_a_token_and_reads_with_it(
    standin: GitHubStandIn, keys: tuple[str, str], repo: Repo
) -> None:
    app = GitHub(
        AppAuthStrategy(str(APP_ID), keys[0]), base_url=standin.url, auto_retry=False, http_cache=False
    )
    issued = app.rest.apps.create_installation_access_token(INSTALLATION)
    assert issued.status_code == 201
    data = issued.parsed_data
    assert data.token.startswith("ghs_")
    assert len(data.token) == 40
    assert data.token[4:].isalnum()
    expires = time.mktime(time.strptime(data.expires_at, "%Y-%m-%dT%H:%M:%SZ")) - time.timezone
    assert abs(expires - (time.time() + 3600)) < 5
    assert issued.json()["permissions"] == {"contents": "read", "metadata": "read"}
    assert standin.tokens_issued == 1
    assert standin.requests[-1].token not in (None, data.token)  # the JWT, not the installation token

    # The installation flavour of AppAuthStrategy fetches a token by itself, then uses it.
    auth = AppAuthStrategy(str(APP_ID), keys[0]).as_installation(INSTALLATION)
    with GitHub(auth, base_url=standin.url + "/", auto_retry=False, http_cache=False) as as_installation:
        assert as_installation.rest.repos.get("acme", "widgets").parsed_data.id == REPO_ID
    assert standin.tokens_issued == 2
    assert standin.requests[-1].token is not None
    assert standin.requests[-1].token.startswith("ghs_")


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda priv, other: app_jwt(other), "could not be decoded"),
        (lambda priv, other: app_jwt(priv, iss=APP_ID + 1), "could not be decoded"),
        (lambda priv, other: app_jwt(priv, iat=-900, exp=-200), "'exp'"),
        (lambda priv, other: app_jwt(priv, iat=0, exp=1200), "too far in the future"),
        (lambda priv, other: app_jwt(priv, iat=600, exp=900), "'iat'"),
        (lambda priv, other: "not-a-jwt", "could not be decoded"),
    ],
    ids=["other-key", "other-app", "expired", "too-long", "issued-in-future", "garbage"],
)
def test_bad_app_jwts_are_refused(
    standin: GitHubStandIn,
    keys: tuple[str, str],
    other_private_key: str,
    make: Any,
    message: str,
    http: httpx.Client,
) -> None:
    response = issue(http, standin, make(keys[0], other_private_key))
    assert response.status_code == 401
    assert message in response.json()["message"]
    assert standin.tokens_issued == 0


def test_jwt_issuer_may_be_a_string_or_an_int(
    standin: GitHubStandIn, keys: tuple[str, str], http: httpx.Client
) -> None:
    assert issue(http, standin, app_jwt(keys[0], iss=str(APP_ID))).status_code == 201
    assert issue(http, standin, app_jwt(keys[0], iss=APP_ID)).status_code == 201
    url = f"{standin.url}/app/installations/{INSTALLATION}/access_tokens"
    assert http.post(url).status_code == 401
    assert http.post(url, headers={"Authorization": f"token {app_jwt(keys[0])}"}).status_code == 401


def test_unknown_and_suspended_installations(
    standin: GitHubStandIn, keys: tuple[str, str], http: httpx.Client
) -> None:
    assert issue(http, standin, app_jwt(keys[0]), installation=999).status_code == 404
    standin.add_installation(5, suspended=True)
    response = issue(http, standin, app_jwt(keys[0]), installation=5)
    assert response.status_code == 403
    assert response.json()["message"] == "This installation has been suspended"


def test_suspending_an_installation_revokes_its_tokens(standin: GitHubStandIn, api: httpx.Client) -> None:
    assert api.get("/repos/acme/widgets").status_code == 200
    standin.add_installation(INSTALLATION, suspended=True)
    assert api.get("/repos/acme/widgets").status_code == 401


def test_a_repository_of_another_installation_is_not_found(
    standin: GitHubStandIn, keys: tuple[str, str], repo: Repo, http: httpx.Client
) -> None:
    standin.add_installation(78, account="other")
    other = issue(http, standin, app_jwt(keys[0]), installation=78).json()["token"]
    with httpx.Client(base_url=standin.url, headers={"Authorization": f"Bearer {other}"}) as client:
        missing = client.get("/repos/acme/widgets")
        assert missing.status_code == 404
        assert missing.json() == {
            "message": "Not Found",
            "documentation_url": "https://docs.github.com/rest",
            "status": "404",
        }
        assert client.get(f"/repositories/{REPO_ID}").status_code == 404
        assert client.get(f"/repos/acme/widgets/git/trees/{repo.c1}").status_code == 404
        assert client.get("/installation/repositories").json()["total_count"] == 0


def test_missing_unknown_and_expired_installation_tokens(
    keys: tuple[str, str], repo: Repo, standin: GitHubStandIn, http: httpx.Client
) -> None:
    assert http.get(f"{standin.url}/repos/acme/widgets").status_code == 401
    bad = http.get(f"{standin.url}/repos/acme/widgets", headers={"Authorization": "token ghs_nope"})
    assert bad.status_code == 401
    assert bad.json()["message"] == "Bad credentials"

    with GitHubStandIn(app_id=APP_ID, public_key_pem=keys[1].encode(), token_ttl_seconds=1) as short:
        short.add_repository(FULL_NAME, repo.path, repo_id=REPO_ID, installation_id=INSTALLATION)
        value = issue(http, short, app_jwt(keys[0])).json()["token"]
        headers = {"Authorization": f"token {value}"}
        assert http.get(f"{short.url}/repos/acme/widgets", headers=headers).status_code == 200
        time.sleep(1.1)
        expired = http.get(f"{short.url}/repos/acme/widgets", headers=headers)
        assert expired.status_code == 401
        assert expired.json()["message"] == "Bad credentials"


# --------------------------------------------------------------------------- repository endpoints


def test_repository_and_installation_repositories(gh: GitHub[Any], api: httpx.Client, repo: Repo) -> None:
    full = gh.rest.repos.get("acme", "widgets").parsed_data
    assert (full.id, full.full_name, full.default_branch, full.private) == (REPO_ID, FULL_NAME, "main", False)
    assert full.owner.login == "acme"
    assert "permissions" not in api.get("/repos/acme/widgets").json()
    assert api.get("/repos/ACME/Widgets").json()["id"] == REPO_ID  # names are case-insensitive
    assert api.get(f"/repositories/{REPO_ID}").json()["full_name"] == FULL_NAME
    listed = gh.rest.apps.list_repos_accessible_to_installation().parsed_data
    assert listed.total_count == 1
    assert listed.repositories[0].full_name == FULL_NAME


def test_installation_repositories_paginate_with_link_headers(
    standin: GitHubStandIn, api: httpx.Client, repo: Repo
) -> None:
    for n in range(2, 4):
        standin.add_repository(f"acme/r{n}", repo.path, repo_id=REPO_ID + n, installation_id=INSTALLATION)
    first = api.get("/installation/repositories", params={"per_page": 2})
    assert first.json()["total_count"] == 3
    assert len(first.json()["repositories"]) == 2
    assert 'rel="next"' in first.headers["link"]
    assert "page=2" in first.headers["link"]
    second = api.get("/installation/repositories", params={"per_page": 2, "page": 2})
    assert [r["id"] for r in second.json()["repositories"]] == [REPO_ID + 3]


def test_tree_recursive_and_top_level(gh: GitHub[Any], api: httpx.Client, repo: Repo) -> None:
    top = gh.rest.git.get_tree("acme", "widgets", "main")
    top_paths = {(e.path, e.type) for e in top.parsed_data.tree}
    assert top_paths == {
        ("README.md", "blob"),
        ("data.bin", "blob"),
        ("docs", "tree"),
        ("new.txt", "blob"),
        ("readme-link", "blob"),
    }
    assert top.parsed_data.sha == git(repo.path, "rev-parse", "main^{tree}")
    assert top.parsed_data.truncated is False

    deep = gh.rest.git.get_tree("acme", "widgets", repo.c1, recursive="1").parsed_data
    by_path = {e.path: e for e in deep.tree}
    assert set(by_path) == {
        "README.md",
        "data.bin",
        "docs",
        "docs/guide one.md",
        "readme-link",
        "src",
        "src/app.py",
    }
    assert by_path["data.bin"].size == len(BINARY)
    assert by_path["data.bin"].mode == "100644"
    assert by_path["readme-link"].mode == "120000"
    assert by_path["docs"].mode == "040000"
    assert by_path["docs"].type == "tree"
    assert by_path["src/app.py"].sha == git(repo.path, "rev-parse", f"{repo.c1}:src/app.py")

    # A tree sha and a branch with a slash resolve too; "recursive" recurses whatever its value.
    tree_sha = git(repo.path, "rev-parse", f"{repo.c1}^{{tree}}")
    assert api.get(f"/repos/acme/widgets/git/trees/{tree_sha}").json()["sha"] == tree_sha
    side = api.get("/repos/acme/widgets/git/trees/feature/x", params={"recursive": "0"}).json()
    assert "side.txt" in {e["path"] for e in side["tree"]}
    assert "src/app.py" in {e["path"] for e in side["tree"]}
    assert "size" not in next(e for e in side["tree"] if e["type"] == "tree")
    unicode = next(e for e in side["tree"] if e["path"] == "ünï côde.txt")
    content = api.get("/repos/acme/widgets/contents/ünï côde.txt", params={"ref": "feature/x"}).json()
    assert content["sha"] == unicode["sha"]
    assert base64.b64decode(content["content"]).decode() == "ü\n"
    assert api.get("/repos/acme/widgets/git/trees/nope").status_code == 404
    assert api.get("/repos/acme/widgets/git/trees/--all").status_code == 404


def test_blob_round_trips_binary_content(gh: GitHub[Any], api: httpx.Client, repo: Repo) -> None:
    sha = git(repo.path, "rev-parse", f"{repo.c1}:data.bin")
    blob = gh.rest.git.get_blob("acme", "widgets", sha).parsed_data
    assert (blob.sha, blob.size, blob.encoding) == (sha, len(BINARY), "base64")
    assert base64.b64decode(blob.content) == BINARY
    lines = blob.content.split("\n")
    assert lines[-1] == ""
    assert all(0 < len(line) <= 60 for line in lines[:-1])
    raw = api.get(
        f"/repos/acme/widgets/git/blobs/{sha}", headers={"Accept": "application/vnd.github.raw+json"}
    )
    assert raw.content == BINARY
    assert api.get("/repos/acme/widgets/git/blobs/" + "0" * 40).status_code == 404
    assert api.get("/repos/acme/widgets/git/blobs/main").status_code == 422
    tree_sha = git(repo.path, "rev-parse", "main^{tree}")
    assert api.get(f"/repos/acme/widgets/git/blobs/{tree_sha}").status_code == 404


def test_contents_file_directory_symlink_and_missing(gh: GitHub[Any], api: httpx.Client, repo: Repo) -> None:
    readme = gh.rest.repos.get_content("acme", "widgets", "README.md").parsed_data
    assert isinstance(readme, ContentFile)
    assert readme.type == "file"
    assert base64.b64decode(readme.content) == b"# Widgets\n\nNow with more.\n"
    old = api.get("/repos/acme/widgets/contents/README.md", params={"ref": repo.c1}).json()
    assert base64.b64decode(old["content"]) == b"# Widgets\n"
    assert old["sha"] == git(repo.path, "rev-parse", f"{repo.c1}:README.md")
    assert old["_links"]["self"] == old["url"]
    assert old["download_url"].endswith("/README.md")

    spaced = api.get("/repos/acme/widgets/contents/docs/guide one.md", params={"ref": repo.c1}).json()
    assert spaced["name"] == "guide one.md"
    assert spaced["path"] == "docs/guide one.md"

    listing = gh.rest.repos.get_content("acme", "widgets", "docs", ref=repo.c1).parsed_data
    assert isinstance(listing, list)
    assert [(e.name, e.type, e.path) for e in listing] == [("guide one.md", "file", "docs/guide one.md")]
    root = {e["name"]: e for e in api.get("/repos/acme/widgets/contents", params={"ref": repo.c1}).json()}
    assert root["src"]["type"] == "dir"
    assert root["readme-link"]["type"] == "symlink"
    assert all("content" not in e for e in root.values())

    # A symlink to a file answers with that file; one whose target is gone describes itself.
    followed = api.get("/repos/acme/widgets/contents/readme-link", params={"ref": repo.c1}).json()
    assert followed["type"] == "file"
    assert followed["path"] == "README.md"
    dangling = api.get("/repos/acme/widgets/contents/dangling", params={"ref": "feature/x"}).json()
    assert (dangling["type"], dangling["target"], dangling["path"]) == ("symlink", "nowhere.txt", "dangling")
    for missing in ("nope.md", "README.md/x", "src"):
        assert api.get(f"/repos/acme/widgets/contents/{missing}").status_code == 404
    assert api.get("/repos/acme/widgets/contents/README.md", params={"ref": "nope"}).status_code == 404


def test_only_committed_content_is_served(standin: GitHubStandIn, api: httpx.Client, tmp_path: Path) -> None:
    path = tmp_path / "wip"
    path.mkdir()
    git(path, "init", "-q", "-b", "trunk")
    (path / "a.txt").write_text("committed\n")
    (path / "big.txt").write_bytes(b"x" * (1024 * 1024 + 1))
    commit_all(path, "one")
    (path / "a.txt").write_text("dirty\n")
    (path / "b.txt").write_text("untracked\n")
    standin.add_repository("acme/wip", path, repo_id=5, installation_id=INSTALLATION)
    assert api.get("/repos/acme/wip").json()["default_branch"] == "trunk"
    content = api.get("/repos/acme/wip/contents/a.txt").json()
    assert base64.b64decode(content["content"]) == b"committed\n"
    assert api.get("/repos/acme/wip/contents/b.txt").status_code == 404
    # Above 1 MB the contents API stops inlining; the raw media type still serves the bytes.
    big = api.get("/repos/acme/wip/contents/big.txt").json()
    assert (big["encoding"], big["content"], big["size"]) == ("none", "", 1024 * 1024 + 1)
    raw = api.get("/repos/acme/wip/contents/big.txt", headers={"Accept": "application/vnd.github.raw+json"})
    assert len(raw.content) == 1024 * 1024 + 1


def test_submodules(standin: GitHubStandIn, gh: GitHub[Any], api: httpx.Client, tmp_path: Path) -> None:
    path = tmp_path / "super"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    (path / ".gitmodules").write_text(
        '[submodule "lib"]\n\tpath = vendor/lib\n\turl = https://example.com/lib.git\n'
    )
    git(path, "add", ".gitmodules")
    # A gitlink needs no submodule checkout: the index entry is all a commit records.
    git(path, "update-index", "--add", "--cacheinfo", f"160000,{'1' * 40},vendor/lib")
    git(path, "commit", "-q", "-m", "with a submodule")
    standin.add_repository("acme/super", path, repo_id=6, installation_id=INSTALLATION)

    tree = api.get("/repos/acme/super/git/trees/main", params={"recursive": "1"}).json()["tree"]
    assert {"path": "vendor/lib", "mode": "160000", "type": "commit", "sha": "1" * 40} in tree
    listing = api.get("/repos/acme/super/contents/vendor").json()
    assert [(e["name"], e["type"]) for e in listing] == [("lib", "file")]  # GitHub's documented quirk
    submodule = gh.rest.repos.get_content("acme", "super", "vendor/lib").parsed_data
    assert isinstance(submodule, ContentSubmodule)
    assert submodule.submodule_git_url == "https://example.com/lib.git"
    assert submodule.sha == "1" * 40


def test_branch(gh: GitHub[Any], api: httpx.Client, repo: Repo) -> None:
    branch = gh.rest.repos.get_branch("acme", "widgets", "main").parsed_data
    assert branch.name == "main"
    assert branch.protected is False
    assert branch.commit.sha == repo.c3
    assert branch.commit.commit.tree.sha == git(repo.path, "rev-parse", "main^{tree}")
    assert branch.commit.commit.message == "third\n\nWith a body."
    assert [p.sha for p in branch.commit.parents] == [repo.c2]
    assert api.get("/repos/acme/widgets/branches/feature/x").json()["commit"]["sha"] == repo.side
    missing = api.get("/repos/acme/widgets/branches/nope")
    assert missing.status_code == 404
    assert missing.json()["message"] == "Branch not found"
    assert api.get(f"/repos/acme/widgets/branches/{repo.c1}").status_code == 404  # a sha is not a branch


def test_commit(gh: GitHub[Any], api: httpx.Client, repo: Repo) -> None:
    second = gh.rest.repos.get_commit("acme", "widgets", repo.c2).parsed_data
    assert second.sha == repo.c2
    assert second.commit.message == "second"
    assert {(f.filename, f.status) for f in second.files or []} == {
        ("README.md", "modified"),
        ("new.txt", "added"),
        ("src/app.py", "removed"),
    }
    first = api.get("/repos/acme/widgets/commits/" + repo.c1[:10]).json()
    assert first["sha"] == repo.c1
    assert first["parents"] == []
    assert {f["status"] for f in first["files"]} == {"added"}
    unknown = api.get("/repos/acme/widgets/commits/nope")
    assert unknown.status_code == 422
    assert unknown.json()["message"] == "No commit found for SHA: nope"


def test_compare(gh: GitHub[Any], api: httpx.Client, repo: Repo) -> None:
    compared = gh.rest.repos.compare_commits("acme", "widgets", f"{repo.c1}...main").parsed_data
    assert (compared.status, compared.ahead_by, compared.behind_by, compared.total_commits) == (
        "ahead",
        2,
        0,
        2,
    )
    assert [c.sha for c in compared.commits] == [repo.c2, repo.c3]
    assert compared.base_commit.sha == repo.c1
    assert compared.merge_base_commit.sha == repo.c1
    files = {f.filename: f for f in compared.files or []}
    assert {name: f.status for name, f in files.items()} == {
        "README.md": "modified",
        "new.txt": "added",
        "src/app.py": "removed",
        "docs/guide.md": "renamed",
    }
    assert files["docs/guide.md"].previous_filename == "docs/guide one.md"
    assert (files["new.txt"].additions, files["new.txt"].deletions, files["new.txt"].changes) == (1, 0, 1)
    assert files["src/app.py"].deletions == 1

    def status(basehead: str) -> tuple[str, int, int]:
        body = api.get(f"/repos/acme/widgets/compare/{basehead}").json()
        return body["status"], body["ahead_by"], body["behind_by"]

    assert status(f"main...{repo.c1}") == ("behind", 0, 2)
    assert status("main...main") == ("identical", 0, 0)
    assert status("main...feature/x") == ("diverged", 1, 2)
    assert api.get("/repos/acme/widgets/compare/main...nope").status_code == 404
    assert api.get("/repos/acme/widgets/compare/main..feature/x").status_code == 404


# --------------------------------------------------------------------------- headers, injected failures, log


def test_every_response_carries_github_headers(standin: GitHubStandIn, api: httpx.Client) -> None:
    for path in ("/repos/acme/widgets", "/repos/acme/nope", "/nowhere", "/rate_limit"):
        response = api.get(path)
        assert response.headers["content-type"] == "application/json; charset=utf-8"
        assert response.headers["x-github-request-id"]
        assert response.headers["x-ratelimit-limit"] == "5000"
        assert response.headers["x-ratelimit-resource"] == "core"
        assert int(response.headers["x-ratelimit-reset"]) > time.time()
        remaining, used = (
            int(response.headers["x-ratelimit-remaining"]),
            int(response.headers["x-ratelimit-used"]),
        )
        assert remaining + used == 5000
    ids = {r.headers["x-github-request-id"] for r in (api.get("/rate_limit"), api.get("/rate_limit"))}
    assert len(ids) == 2
    limits = api.get("/rate_limit").json()
    assert limits["resources"]["core"]["used"] == limits["rate"]["used"] == 3  # /rate_limit is free


def test_primary_rate_limit_then_success(standin: GitHubStandIn, gh: GitHub[Any], api: httpx.Client) -> None:
    standin.rate_limit_next(2, reset_in=30)
    started = time.time()
    limited = api.get("/repos/acme/widgets")
    assert limited.status_code == 403
    assert limited.json()["message"] == f"API rate limit exceeded for installation ID {INSTALLATION}."
    assert limited.headers["x-ratelimit-remaining"] == "0"
    assert int(limited.headers["x-ratelimit-reset"]) in {math.ceil(started + 30), math.ceil(started + 30) + 1}
    with pytest.raises(PrimaryRateLimitExceeded):
        gh.rest.repos.get("acme", "widgets")
    ok = api.get("/repos/acme/widgets")
    assert ok.status_code == 200
    assert int(ok.headers["x-ratelimit-remaining"]) > 0


def test_rate_limits_skip_token_requests_unless_asked(
    standin: GitHubStandIn, keys: tuple[str, str], http: httpx.Client
) -> None:
    standin.rate_limit_next()
    assert issue(http, standin, app_jwt(keys[0])).status_code == 201
    standin.rate_limit_next(path_contains="/access_tokens")
    assert issue(http, standin, app_jwt(keys[0])).status_code == 403
    assert standin.tokens_issued == 1
    assert http.get(f"{standin.url}/rate_limit").status_code == 403  # the first injection is still pending


def test_secondary_rate_limit(standin: GitHubStandIn, gh: GitHub[Any], api: httpx.Client) -> None:
    standin.secondary_limit_next(retry_after=7)
    limited = api.get("/repos/acme/widgets")
    assert limited.status_code == 403
    assert limited.headers["retry-after"] == "7"
    assert limited.json()["message"].startswith("You have exceeded a secondary rate limit")
    standin.secondary_limit_next()
    with pytest.raises(SecondaryRateLimitExceeded):
        gh.rest.repos.get("acme", "widgets")
    assert api.get("/repos/acme/widgets").status_code == 200


def test_fail_next_with_path_filter(standin: GitHubStandIn, gh: GitHub[Any], api: httpx.Client) -> None:
    standin.fail_next(2, path_contains="/git/blobs/")
    assert api.get("/repos/acme/widgets").status_code == 200
    failed = api.get("/repos/acme/widgets/git/blobs/" + "a" * 40)
    assert failed.status_code == 502
    assert failed.json()["message"] == "Bad Gateway"
    with pytest.raises(RequestFailed) as info:
        gh.rest.git.get_blob("acme", "widgets", "a" * 40)
    assert info.value.response.status_code == 502
    assert api.get("/repos/acme/widgets/git/blobs/" + "a" * 40).status_code == 404
    standin.fail_next(status=500)
    assert api.get("/rate_limit").status_code == 500


def test_request_log(standin: GitHubStandIn, token: str, api: httpx.Client, http: httpx.Client) -> None:
    api.get("/repos/acme/widgets/git/trees/main", params={"recursive": "1"})
    http.get(f"{standin.url}/repos/acme/nope")
    issued, tree, anonymous = standin.requests
    assert (issued.method, issued.path, issued.status) == (
        "POST",
        f"/app/installations/{INSTALLATION}/access_tokens",
        201,
    )
    assert issued.token is not None
    assert issued.token.count(".") == 2
    assert (tree.method, tree.path, tree.query, tree.status, tree.token) == (
        "GET",
        "/repos/acme/widgets/git/trees/main",
        {"recursive": "1"},
        200,
        token,
    )
    assert (anonymous.status, anonymous.token) == (401, None)
    assert issued.at <= tree.at <= anonymous.at <= time.time()


def test_rename_and_remove_repository(standin: GitHubStandIn, api: httpx.Client) -> None:
    standin.rename_repository(FULL_NAME, "acme/gadgets")
    assert api.get("/repos/acme/gadgets").json()["full_name"] == "acme/gadgets"
    moved = api.get("/repos/acme/widgets/branches/main")
    assert moved.status_code == 301
    assert moved.headers["location"] == f"{standin.url}/repositories/{REPO_ID}/branches/main"
    followed = api.get("/repos/acme/widgets/branches/main", follow_redirects=True)
    assert followed.status_code == 200
    assert followed.json()["name"] == "main"
    standin.remove_repository("acme/gadgets")
    assert api.get("/repos/acme/gadgets").status_code == 404
    assert api.get("/repos/acme/widgets").status_code == 404
    assert api.get("/installation/repositories").json()["total_count"] == 0


def test_concurrent_requests(standin: GitHubStandIn, api: httpx.Client, repo: Repo) -> None:
    tree = api.get(f"/repos/acme/widgets/git/trees/{repo.c1}", params={"recursive": "1"}).json()["tree"]
    shas = [e["sha"] for e in tree if e["type"] == "blob"] * 8
    with ThreadPoolExecutor(max_workers=16) as pool:
        sizes = list(
            pool.map(lambda sha: api.get(f"/repos/acme/widgets/git/blobs/{sha}").json()["size"], shas)
        )
    expected = {e["sha"]: e["size"] for e in tree if e["type"] == "blob"}
    assert sizes == [expected[sha] for sha in shas]
    assert len(standin.requests) == 2 + len(shas)  # the token, the tree, the blobs


def test_start_and_stop(keys: tuple[str, str], http: httpx.Client) -> None:
    server = GitHubStandIn(app_id=APP_ID, public_key_pem=keys[1])
    with pytest.raises(RuntimeError):
        _ = server.url
    url = server.start()
    assert url.startswith("http://127.0.0.1:")
    assert server.url == url
    assert http.get(f"{url}/rate_limit").status_code == 200
    server.stop()
    with pytest.raises(httpx.ConnectError):
        http.get(f"{url}/rate_limit")
    server.stop()  # idempotent


# --------------------------------------------------------------------------- push payloads


def test_push_payload_mirrors_a_real_delivery(standin: GitHubStandIn, repo: Repo) -> None:
    real = json.loads(PUSH_FIXTURE.read_text())
    payload = standin.push_payload(FULL_NAME, repo.c1, repo.c3)
    assert set(payload) == set(real) | {"installation"}
    assert set(payload["commits"][0]) == set(real["commits"][0])
    assert set(payload["head_commit"]) == set(real["head_commit"])
    assert set(payload["commits"][0]["author"]) == set(real["commits"][0]["author"])
    assert set(payload["repository"]) == set(real["repository"])
    assert set(payload["repository"]["owner"]) == set(real["repository"]["owner"])
    assert set(payload["pusher"]) == set(real["pusher"])
    assert set(payload["sender"]) == set(real["sender"])
    for key in ("created_at", "pushed_at"):
        assert isinstance(payload["repository"][key], int)

    assert payload["ref"] == "refs/heads/main"
    assert (payload["before"], payload["after"]) == (repo.c1, repo.c3)
    assert (payload["created"], payload["deleted"], payload["forced"], payload["base_ref"]) == (
        False,
        False,
        False,
        None,
    )
    assert payload["installation"]["id"] == INSTALLATION
    assert payload["repository"]["id"] == REPO_ID
    assert payload["repository"]["default_branch"] == "main"
    second, third = payload["commits"]
    assert (second["id"], second["message"], second["tree_id"]) == (
        repo.c2,
        "second",
        git(repo.path, "rev-parse", f"{repo.c2}^{{tree}}"),
    )
    assert (second["added"], second["modified"], second["removed"]) == (
        ["new.txt"],
        ["README.md"],
        ["src/app.py"],
    )
    # Renames are a removal plus an addition in push payloads.
    assert (third["added"], third["modified"], third["removed"]) == (
        ["docs/guide.md"],
        [],
        ["docs/guide one.md"],
    )
    assert payload["head_commit"] == third
    # ISO 8601 with the author's own UTC offset, as in real deliveries.
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d", second["timestamp"])

    # The product's own webhook layer reads it like a real delivery.
    assert classify_push(payload) == "sync"
    assert dict(parse_push(payload).changes) == {
        "README.md": "upsert",
        "new.txt": "upsert",
        "src/app.py": "remove",
        "docs/guide.md": "upsert",
        "docs/guide one.md": "remove",
    }


def test_push_payload_edge_cases(standin: GitHubStandIn, repo: Repo) -> None:
    zero = "0" * 40
    created = standin.push_payload(FULL_NAME, zero, repo.side, ref="refs/heads/feature/x", installation=False)
    assert created["created"] is True
    assert "installation" not in created
    assert [c["id"] for c in created["commits"]] == [repo.side]
    assert created["head_commit"]["id"] == repo.side
    deleted = standin.push_payload(FULL_NAME, repo.side, zero, ref="refs/heads/feature/x")
    assert deleted["deleted"] is True
    assert deleted["commits"] == []
    assert deleted["head_commit"] is None
    forced = standin.push_payload(FULL_NAME, repo.c3, repo.side)
    assert forced["forced"] is True
