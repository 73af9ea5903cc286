"""Tenant isolation between two organizations (issue 10, items 9-11), on SQLite and PostgreSQL.

Organization "default" holds workspace "a", organization "org-b" workspace "b"; each has documents, jobs,
stores, a source and a key (the tenants of ``test_api_isolation``). B was granted its directories and a
GitHub App installation, A its own. With A's key every /v1 route of ``test_api_isolation.CHECKS`` is
tried against B's ids and names, and connecting what B was granted (a local path, a git path, an
installation) answers 403 and stores nothing. The route list is shared: a new route gets its check there
and is run across organizations here too.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text
from typer.testing import CliRunner

from lightfast.api.app import create_app
from lightfast.app.container import Services, build_services
from lightfast.cli import app as cli_app
from lightfast.db.engine import make_engine, migrate
from lightfast.db.models import (
    Activity,
    ConnectedSource,
    InstallationGrant,
    Job,
    Organization,
    PathGrant,
    Workspace,
)
from lightfast.db.types import utcnow
from lightfast.errors import Conflict, Forbidden
from lightfast.testing.github import GitHubStandIn, generate_private_key
from tests import test_api_isolation as iso
from tests.conftest import make_settings, write
from tests.gitrepo import commit, git, isolate_git, make_repo

SECRET = "org-webhook-secret"
APP_ID = 5150
A_INSTALLATION, B_INSTALLATION, STRAY_INSTALLATION = 77, 88, 99
B_REPO, B_REPO_ID = "org-b/handbook", 8801
A_REPO, A_REPO_ID = "acme/notes", 7701
STRAY_REPO = "stray/docs"
FORBIDDEN = {"error": "forbidden"}


@pytest.fixture(scope="module")
def app_keys() -> tuple[str, str]:
    return generate_private_key()


@pytest.fixture(autouse=True)
def _isolated_git(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate_git(monkeypatch, tmp_path)  # the product runs git too


@dataclass
class OrgWorld(iso.World):
    standin: GitHubStandIn
    b_git: Path  # a git repository granted to B
    a_git: Path  # one granted to A

    def deliver(self, event: str, payload: dict[str, Any]) -> Any:
        body = json.dumps(payload).encode()
        signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        return self.client.post(
            "/webhooks/github",
            content=body,
            headers={
                "X-GitHub-Event": event,
                "X-GitHub-Delivery": str(uuid.uuid4()),
                "X-Hub-Signature-256": signature,
                "Content-Type": "application/json",
            },
        )

    def organization_state(self, slug: str) -> dict[str, Any]:
        """Everything of an organization a request of another one could change."""
        with self.services.sessions() as session:
            org = session.scalar(select(Organization).where(Organization.slug == slug))
            assert org is not None
            return {
                "workspaces": sorted(
                    (w.id, w.name)
                    for w in session.scalars(select(Workspace).where(Workspace.organization_id == org.id))
                ),
                "sources": sorted(
                    (s.id, s.workspace_id, s.external_key, s.is_active)
                    for s in session.scalars(
                        select(ConnectedSource).where(ConnectedSource.organization_id == org.id)
                    )
                ),
                "installations": sorted(
                    g.installation_id
                    for g in session.scalars(
                        select(InstallationGrant).where(InstallationGrant.organization_id == org.id)
                    )
                ),
                "paths": sorted(
                    g.path
                    for g in session.scalars(select(PathGrant).where(PathGrant.organization_id == org.id))
                ),
            }

    def stored(self, workspace_id: str) -> tuple[int, int, int, int]:
        """(sources, jobs, activities, unbound installations) of a workspace: what a refusal must not add."""
        with self.services.sessions() as session:
            return (
                count(session, ConnectedSource, ConnectedSource.workspace_id == workspace_id),
                count(session, Job, Job.workspace_id == workspace_id),
                count(session, Activity, Activity.workspace_id == workspace_id),
                count(session, InstallationGrant),
            )


def count(session: Any, model: Any, *where: Any) -> int:
    return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def org_tenant(services: Services, roots: Path, name: str, org: str) -> iso.Tenant:
    """Tenant ``name`` in organization ``org`` (made here), its directory granted and indexed."""
    services.organizations.create(org, workspace=name)
    repo = iso.tenant_repo(roots, name)
    services.organizations.grant_path(org, repo)
    workspace = services.workspaces.workspace_id(f"{org}/{name}")
    connected = services.sources.connect_local(workspace, repo)
    services.runner.run_inline(connected.job_id)
    return iso.finish_tenant(services, name, workspace, connected.job_id, repo)


def serve_repositories(standin: GitHubStandIn, roots: Path) -> None:
    b_git = make_repo(
        roots / "git-b", {"lightfast.yml": iso.CONFIG, "docs/plan.md": "# Plan\n\nPlatypus plans.\n"}
    )
    a_git = make_repo(roots / "git-a", {"lightfast.yml": iso.CONFIG, "docs/a.md": "# A\n\nAardvark.\n"})
    stray = make_repo(roots.parent / "stray", {"lightfast.yml": iso.CONFIG, "x.md": "# X\n\nStray.\n"})
    standin.add_repository(B_REPO, b_git, repo_id=B_REPO_ID, installation_id=B_INSTALLATION)
    standin.add_repository(A_REPO, a_git, repo_id=A_REPO_ID, installation_id=A_INSTALLATION)
    standin.add_repository(STRAY_REPO, stray, repo_id=9901, installation_id=STRAY_INSTALLATION)


@contextmanager
def installed(
    tmp_path: Path, database_url: str, app_keys: tuple[str, str], **overrides: Any
) -> Iterator[tuple[Services, Path, GitHubStandIn]]:
    """Services with a GitHub App (the stand-in serving ``serve_repositories``) and the process root
    ``tmp_path/roots``."""
    private_pem, public_pem = app_keys
    roots = tmp_path / "roots"
    roots.mkdir()
    standin = GitHubStandIn(app_id=APP_ID, public_key_pem=public_pem)
    serve_repositories(standin, roots)
    standin.start()
    settings = make_settings(
        tmp_path,
        database_url,
        local_source_roots=[roots],
        github_app_id=str(APP_ID),
        github_private_key=private_pem,
        github_api_url=standin.url,
        **overrides,
    )
    services = build_services(settings, engine=make_engine(settings.resolved_database_url))
    try:
        yield services, roots, standin
    finally:
        services.close()
        standin.stop()


@pytest.fixture
def world(tmp_path: Path, database_url: str, app_keys: tuple[str, str]) -> Iterator[OrgWorld]:
    overrides = {"allow_anonymous": False, "github_webhook_secret": SECRET}
    with installed(tmp_path, database_url, app_keys, **overrides) as (services, roots, standin):
        a = iso.make_tenant(services, roots, "a")
        b = org_tenant(services, roots, "b", "org-b")
        orgs = services.organizations
        orgs.grant_path("default", a.repo)
        orgs.grant_path("default", roots / "git-a")
        orgs.grant_path("org-b", roots / "git-b")
        orgs.grant_installation("default", A_INSTALLATION)
        orgs.grant_installation("org-b", B_INSTALLATION)
        client = TestClient(create_app(services), raise_server_exceptions=False)
        try:
            yield OrgWorld(services, client, a, b, roots, standin, roots / "git-b", roots / "git-a")
        finally:
            client.close()


def assert_forbidden(world: OrgWorld, body: dict[str, Any]) -> dict[str, Any]:
    """A's request answers 403, stores nothing and names nothing of B."""
    before_a, before_b = world.stored(world.a.workspace), world.organization_state("org-b")
    response = world.call(world.a, "POST", "/v1/sources", json=body)
    assert response.status_code == 403, (body, response.text)
    payload: dict[str, Any] = response.json()
    assert payload["error"] == "forbidden"
    assert world.stored(world.a.workspace) == before_a, body
    assert world.organization_state("org-b") == before_b, body
    iso.assert_no_b(world, response)
    assert "org-b" not in response.text
    return payload


# -- every route, across organizations ---------------------------------------------------------------


def connect_source_check(world: iso.World) -> None:
    """Replaces the one-organization check: a workspace connects what its organization was granted
    (201), and nothing another organization was granted (403)."""
    assert isinstance(world, OrgWorld)
    iso.rejects_scope_fields("POST", "/v1/sources", {"type": "local", "path": str(world.a.repo)})(world)
    headers = {name: world.b.workspace for name in iso.SCOPE_HEADERS}
    own = world.call(
        world.a,
        "POST",
        "/v1/sources",
        201,
        json={"type": "local", "path": str(world.a.repo)},
        headers=headers,
    ).json()
    assert own["id"] == world.a.source
    assert_forbidden(world, {"type": "local", "path": str(world.b.repo)})
    assert_forbidden(world, {"type": "git", "path": str(world.b_git)})
    assert_forbidden(world, {"type": "github", "repository": B_REPO, "installationId": B_INSTALLATION})


ACROSS = {**iso.CHECKS, ("POST", "/v1/sources"): connect_source_check}


@pytest.mark.parametrize("route", sorted(ACROSS), ids=lambda r: f"{r[0]} {r[1]}")
def test_route_is_isolated_across_organizations(world: OrgWorld, route: tuple[str, str]) -> None:
    before = iso.snapshot(world.services, world.b.workspace)
    before_org = world.organization_state("org-b")
    ACROSS[route](world)
    assert iso.snapshot(world.services, world.b.workspace) == before, f"{route} changed B's data"
    assert world.organization_state("org-b") == before_org, f"{route} changed B's organization"
    iso.no_usage_by(world.services, world.a.key_id, world.b.workspace)
    items = world.call(world.b, "GET", "/v1/workspaces", 200).json()["items"]
    assert [w["id"] for w in items] == [world.b.workspace]


# -- item 9: what another organization was granted ------------------------------------------------------


def test_another_organizations_local_path_is_forbidden(world: OrgWorld) -> None:
    refused = assert_forbidden(world, {"type": "local", "path": str(world.b.repo)})
    # Whether the path exists is not told either: the same answer as for a path nobody has.
    nowhere = assert_forbidden(world, {"type": "local", "path": str(world.b.repo / "missing")})
    ungranted = write(world.roots / "nobodys", {"lightfast.yml": iso.CONFIG, "n.md": "# N\n"})
    nobody = assert_forbidden(world, {"type": "local", "path": str(ungranted)})
    assert refused["message"] == nowhere["message"] == nobody["message"]
    # A symbolic link inside A's grant leads nowhere else.
    link = world.a.repo / "to-b"
    link.symlink_to(world.b.repo, target_is_directory=True)
    assert_forbidden(world, {"type": "local", "path": str(link)})
    assert_forbidden(world, {"type": "local", "path": str(world.a.repo / ".." / "repo-b")})
    assert search_ids(world, world.a, "platypus") == []


def test_another_organizations_git_path_is_forbidden(world: OrgWorld) -> None:
    assert_forbidden(world, {"type": "git", "path": str(world.b_git)})
    assert_forbidden(world, {"type": "git", "path": str(world.b_git / "docs")})  # inside B's repository
    connected = world.call(
        world.b, "POST", "/v1/sources", 201, json={"type": "git", "path": str(world.b_git)}
    )
    world.services.runner.run_inline(connected.json()["jobId"])
    assert search_ids(world, world.b, "platypus plans")
    assert_forbidden(world, {"type": "git", "path": str(world.b_git)})
    assert search_ids(world, world.a, "platypus plans") == []


def test_a_repository_whose_history_lies_outside_the_grant_is_forbidden(world: OrgWorld) -> None:
    # A .git file (as a worktree or submodule has) in A's own directory, pointing at B's history.
    pointer = world.a.repo / "pointer"
    write(pointer, {".git": f"gitdir: {world.b_git / '.git'}\n"})
    assert_forbidden(world, {"type": "git", "path": str(pointer)})
    # An object store borrowing B's objects.
    borrower = make_repo(world.a.repo / "borrower", {"x.md": "# X\n"})
    (borrower / ".git" / "objects" / "info" / "alternates").write_text(
        f"{world.b_git / '.git' / 'objects'}\n"
    )
    assert_forbidden(world, {"type": "git", "path": str(borrower)})
    # A symbolic link inside the object store.
    linked = make_repo(world.a.repo / "linked", {"y.md": "# Y\n"})
    (linked / ".git" / "objects" / "b-pack").symlink_to(world.b_git / ".git" / "objects" / "pack")
    assert_forbidden(world, {"type": "git", "path": str(linked)})
    # A's own repository, history and all inside A's grants, connects.
    world.call(world.a, "POST", "/v1/sources", 201, json={"type": "git", "path": str(world.a_git)})


def test_another_organizations_installation_is_forbidden(world: OrgWorld) -> None:
    body = {"type": "github", "repository": B_REPO, "installationId": B_INSTALLATION}
    connected = world.call(world.b, "POST", "/v1/sources", 201, json=body).json()
    world.services.runner.run_inline(connected["jobId"])
    assert search_ids(world, world.b, "platypus plans")
    seen = len(world.standin.requests)
    refused = assert_forbidden(world, body)
    assert_forbidden(world, {**body, "repository": "org-b/does-not-exist"})
    assert len(world.standin.requests) == seen  # GitHub was not asked: its answer would tell
    assert str(B_INSTALLATION) in refused["message"]
    assert search_ids(world, world.a, "platypus plans") == []
    # A's own installation does not reach B's repository either (GitHub scopes it): 404, as for any.
    missing = world.call(world.a, "POST", "/v1/sources", json={**body, "installationId": A_INSTALLATION})
    assert missing.status_code == 404, missing.text
    assert world.call(
        world.a,
        "POST",
        "/v1/sources",
        201,
        json={"type": "github", "repository": A_REPO, "installationId": A_INSTALLATION},
    )


def test_an_unbound_installation_is_not_claimed_once_there_are_two_organizations(world: OrgWorld) -> None:
    body = {"type": "github", "repository": STRAY_REPO, "installationId": STRAY_INSTALLATION}
    assert_forbidden(world, body)
    with world.services.sessions() as session:
        assert (
            count(session, InstallationGrant, InstallationGrant.installation_id == str(STRAY_INSTALLATION))
            == 0
        )
    world.services.organizations.grant_installation("default", STRAY_INSTALLATION)
    world.call(world.a, "POST", "/v1/sources", 201, json=body)
    # Bound to A now: B cannot have it, and the operator cannot give it to B without revoking it.
    world.call(world.b, "POST", "/v1/sources", 403, json=body)
    with pytest.raises(Conflict, match="bound to organization 'default'"):
        world.services.organizations.grant_installation("org-b", STRAY_INSTALLATION)


def test_two_workspaces_of_one_organization_share_a_source(world: OrgWorld) -> None:
    created = world.call(world.a, "POST", "/v1/workspaces", 201, json={"name": "a2"}).json()
    key = world.services.api_keys.create(created["id"], "a2")
    a2 = iso.Tenant(
        **{**world.a.__dict__, "workspace": created["id"], "key": key.secret, "key_id": key.key.id}
    )
    shared = world.call(
        a2, "POST", "/v1/sources", 201, json={"type": "local", "path": str(world.a.repo)}
    ).json()
    assert shared["id"] != world.a.source
    world.call(
        a2,
        "POST",
        "/v1/sources",
        201,
        json={"type": "github", "repository": A_REPO, "installationId": A_INSTALLATION},
    )
    world.call(a2, "POST", "/v1/sources", 403, json={"type": "local", "path": str(world.b.repo)})


def test_revoking_a_grant_disconnects_what_it_covered(world: OrgWorld) -> None:
    orgs = world.services.organizations
    github = world.call(
        world.a,
        "POST",
        "/v1/sources",
        201,
        json={"type": "github", "repository": A_REPO, "installationId": A_INSTALLATION},
    ).json()
    assert len(orgs.revoke_installation("default", A_INSTALLATION)) == 1
    source = world.services.sources.get(world.a.workspace, github["id"])
    assert (source.is_active, source.disconnected_at is not None) == (False, True)
    body = {"type": "github", "repository": A_REPO, "installationId": A_INSTALLATION}
    world.call(world.a, "POST", "/v1/sources", 403, json=body)
    # A path: the sources inside it go, A's others stay.
    assert len(orgs.revoke_path("default", world.a.repo)) == 1
    assert world.services.sources.get(world.a.workspace, world.a.source).is_active is False
    world.call(world.a, "POST", "/v1/sources", 403, json={"type": "local", "path": str(world.a.repo)})
    world.call(world.a, "POST", "/v1/sources", 201, json={"type": "git", "path": str(world.a_git)})


def test_the_process_roots_bound_every_grant(world: OrgWorld, tmp_path: Path) -> None:
    outside = write(tmp_path / "elsewhere", {"lightfast.yml": iso.CONFIG, "a.md": "# A\n"})
    world.services.organizations.grant_path("default", outside)
    response = world.call(world.a, "POST", "/v1/sources", 400, json={"type": "local", "path": str(outside)})
    assert response.json()["message"].startswith("path: ")


def search_ids(world: OrgWorld, tenant: iso.Tenant, query: str) -> list[str]:
    response = world.call(
        tenant, "POST", "/v1/search", 200, json={"query": query, "mode": "bm25", "limit": 50}
    )
    return [hit["documentId"] for hit in response.json()["data"]]


# -- single-tenant development ---------------------------------------------------------------------------


def test_single_tenant_development_claims_an_installation_and_keeps_it(
    tmp_path: Path, database_url: str, app_keys: tuple[str, str]
) -> None:
    with installed(tmp_path, database_url, app_keys) as (services, roots, _):
        workspace = services.workspaces.ensure_workspace_id()
        assert services.organizations.single_tenant_development()
        # The one organization counts the process roots as granted, and claims an unbound installation.
        services.sources.connect_server_path(workspace, str(roots / "git-a"), git_repository=True)
        services.sources.connect_github(workspace, A_REPO, A_INSTALLATION)
        [view] = services.organizations.list_all()
        assert [(g.installation_id, g.granted_by) for g in view.installations] == [
            (str(A_INSTALLATION), "development")
        ]
        # A second organization ends it: grants are explicit from now on, and the claim stays.
        services.organizations.create("org-b")
        assert not services.organizations.single_tenant_development()
        with pytest.raises(Forbidden):
            services.sources.connect_server_path(workspace, str(roots / "git-b"), git_repository=True)
        with pytest.raises(Forbidden):
            services.sources.connect_github(workspace, STRAY_REPO, STRAY_INSTALLATION)
        other = services.workspaces.ensure_workspace_id("other")
        services.sources.connect_github(other, A_REPO, A_INSTALLATION)
        org_b = services.workspaces.workspace_id("org-b/default")
        with pytest.raises(Forbidden):
            services.sources.connect_github(org_b, A_REPO, A_INSTALLATION)


def test_a_server_on_a_public_address_claims_nothing(
    tmp_path: Path, database_url: str, app_keys: tuple[str, str]
) -> None:
    with installed(tmp_path, database_url, app_keys, host="0.0.0.0") as (services, roots, _):
        workspace = services.workspaces.ensure_workspace_id()
        with pytest.raises(Forbidden):
            services.sources.connect_github(workspace, A_REPO, A_INSTALLATION)
        with pytest.raises(Forbidden):
            services.sources.connect_server_path(workspace, str(roots / "git-a"), git_repository=True)
        services.organizations.grant_installation("default", A_INSTALLATION)
        services.organizations.grant_path("default", roots)
        services.sources.connect_github(workspace, A_REPO, A_INSTALLATION)
        services.sources.connect_server_path(workspace, str(roots / "git-a"), git_repository=True)


# -- item 10: workspace names ---------------------------------------------------------------------------


def test_workspace_names_are_per_organization(world: OrgWorld) -> None:
    # B's workspace is named "b": A may have a "b" too, and learns nothing about B's.
    created = world.call(world.a, "POST", "/v1/workspaces", 201, json={"name": "b"}).json()
    assert created["id"] != world.b.workspace
    iso.assert_no_b(world, world.call(world.a, "GET", "/v1/workspaces", 200))
    renamed = world.call(world.a, "PATCH", f"/v1/workspaces/{world.a.workspace}", 400, json={"name": "b/x"})
    assert renamed.json()["error"] == "invalid_input"
    world.call(world.a, "PATCH", f"/v1/workspaces/{created['id']}", 404, json={"name": "c"})  # not A's key's
    # Inside one organization names stay unique: the clash names only the name asked for.
    clash = world.call(world.a, "POST", "/v1/workspaces", 409, json={"name": "a"})
    iso.assert_no_b(world, clash)
    with world.services.sessions() as session:
        b = session.get(Workspace, world.b.workspace)
        assert b is not None
        assert b.name == "b"


# -- item 11: a disconnect is final ---------------------------------------------------------------------


def test_unsuspend_does_not_revive_a_source_being_disconnected(world: OrgWorld) -> None:
    body = {"type": "github", "repository": B_REPO, "installationId": B_INSTALLATION}
    connected = world.call(world.b, "POST", "/v1/sources", 201, json=body).json()
    world.services.runner.run_inline(connected["jobId"])
    installation = {"id": B_INSTALLATION, "account": {"login": "org-b", "id": 1, "type": "Organization"}}
    removal = world.call(world.b, "DELETE", f"/v1/sources/{connected['id']}", 202).json()
    unsuspended = world.deliver("installation", {"action": "unsuspend", "installation": installation})
    assert unsuspended.status_code == 200, unsuspended.text
    assert unsuspended.json()["sources"] == []
    assert world.services.sources.get(world.b.workspace, connected["id"]).is_active is False
    head = git(world.b_git, "rev-parse", "HEAD")
    after = commit(world.b_git, "edit", {"docs/plan.md": "# Plan\n\nChanged.\n"})
    pushed = world.deliver("push", world.standin.push_payload(B_REPO, head, after))
    assert pushed.json()["jobs"] == []
    assert pushed.json()["result"] == "ignored"
    world.services.disconnects.run_inline(removal["id"])
    with world.services.sessions() as session:
        assert session.get(ConnectedSource, connected["id"]) is None
        failed = list(session.scalars(select(Job).where(Job.status == "failed")))
    assert failed == []


def test_a_failed_disconnect_is_still_final(world: OrgWorld) -> None:
    body = {"type": "github", "repository": B_REPO, "installationId": B_INSTALLATION}
    connected = world.call(world.b, "POST", "/v1/sources", 201, json=body).json()
    world.services.runner.run_inline(connected["jobId"])
    removal = world.call(world.b, "DELETE", f"/v1/sources/{connected['id']}", 202).json()
    world.services.disconnects.fail(removal["id"], "the worker was killed")
    # Neither an event nor a new connection brings the row back; removing it again finishes the job.
    installation = {"id": B_INSTALLATION, "account": {"login": "org-b", "id": 1, "type": "Organization"}}
    world.deliver("installation", {"action": "unsuspend", "installation": installation})
    assert world.services.sources.get(world.b.workspace, connected["id"]).is_active is False
    world.call(world.b, "POST", "/v1/sources", 409, json=body)
    again = world.call(world.b, "DELETE", f"/v1/sources/{connected['id']}", 202).json()
    assert again["id"] != removal["id"]
    world.services.disconnects.run_inline(again["id"])
    fresh = world.call(world.b, "POST", "/v1/sources", 201, json=body).json()
    assert fresh["id"] != connected["id"]


# -- the operator's commands ----------------------------------------------------------------------------


def test_orgs_commands(tmp_path: Path) -> None:
    env = {
        "LIGHTFAST_HOME": str(tmp_path / "home"),
        "LIGHTFAST_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
        "LIGHTFAST_EMBEDDING_PROVIDER": "fake",
    }
    runner = CliRunner()

    def run(*args: str, code: int = 0) -> str:
        result = runner.invoke(cli_app, list(args), env=env)
        assert result.exit_code == code, (args, result.output)
        return result.output

    run("orgs", "create", "acme", "--workspace", "docs")
    run("orgs", "create", "acme", code=1)
    run("orgs", "create", "Not A Slug", code=2)
    run("orgs", "grant-installation", "acme", "123")
    run("orgs", "grant-path", "acme", str(tmp_path))
    run("orgs", "grant-installation", "nope", "1", code=2)
    listed = json.loads(run("orgs", "list", "--json"))
    [acme] = [o for o in listed if o["slug"] == "acme"]
    assert acme["workspaces"] == ["docs"]
    assert acme["installations"] == ["123"]
    assert acme["paths"] == [str(tmp_path.resolve())]
    key = run("keys", "create", "--workspace", "acme/docs", "--json")
    assert json.loads(key)["key"].startswith("sk-lf-")
    run("keys", "create", "--workspace", "nope/docs", code=2)
    run("orgs", "revoke-installation", "acme", "123", "--detach")
    run("orgs", "revoke-path", "acme", str(tmp_path), "--detach")
    run("orgs", "revoke-path", "acme", str(tmp_path), code=2)
    listed = json.loads(run("orgs", "list", "--json"))
    [acme] = [o for o in listed if o["slug"] == "acme"]
    assert (acme["installations"], acme["paths"]) == ([], [])


# -- the migration ---------------------------------------------------------------------------------------


def test_the_migration_binds_installations_already_in_use_by_one_organization(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        migrate(engine, "0004")
        rows = {
            "organizations": [("org_1", "one"), ("org_2", "two")],
            "workspaces": [("ws_1", "org_1"), ("ws_2", "org_2")],
        }
        now = utcnow()
        with engine.begin() as connection:
            for org_id, slug in rows["organizations"]:
                connection.execute(
                    text(
                        "INSERT INTO organizations (id, slug, name, created_at, updated_at) "
                        "VALUES (:id, :slug, :slug, :now, :now)"
                    ),
                    {"id": org_id, "slug": slug, "now": now.replace(tzinfo=None)},
                )
            for workspace_id, org_id in rows["workspaces"]:
                connection.execute(
                    text(
                        "INSERT INTO workspaces (id, organization_id, name, slug, is_default, settings, "
                        "created_at, updated_at) VALUES (:id, :org, :id, :id, false, '{}', :now, :now)"
                    ),
                    {"id": workspace_id, "org": org_id, "now": now.replace(tzinfo=None)},
                )
            # Installation 1 is used by one organization (twice), installation 2 by both.
            for n, (org_id, installation) in enumerate(
                [("org_1", 1), ("org_1", 1), ("org_1", 2), ("org_2", 2)]
            ):
                metadata = json.dumps({"type": "github", "githubInstallationId": str(installation)})
                connection.execute(
                    text(
                        "INSERT INTO connected_sources (id, organization_id, workspace_id, source_type, "
                        "external_key, display_name, source_metadata, is_active, config_status, "
                        "document_count, connected_at, created_at, updated_at) VALUES (:id, :org, :ws, "
                        "'github', :key, 'r', :metadata, true, 'pending', 0, :now, :now, :now)"
                    ),
                    {
                        "id": f"src_{n}",
                        "org": org_id,
                        "ws": "ws_1" if org_id == "org_1" else "ws_2",
                        "key": str(n),
                        "metadata": metadata,
                        "now": now.replace(tzinfo=None),
                    },
                )
        migrate(engine, "0005")
        with engine.connect() as connection:
            grants = connection.execute(
                text("SELECT organization_id, provider, installation_id, granted_by FROM installation_grants")
            ).all()
        assert [tuple(g) for g in grants] == [("org_1", "github", "1", "migration")]
    finally:
        engine.dispose()
