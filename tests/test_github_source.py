"""The GitHub source end to end, on SQLite and PostgreSQL: a real git repository served by the GitHub
REST stand-in, the product talking to it through LIGHTFAST_GITHUB_API_URL with githubkit, and signed
webhook deliveries posted to POST /webhooks/github."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from lightfast.api.app import create_app
from lightfast.app.container import Services, build_services
from lightfast.app.engine import JobEngine
from lightfast.app.search import SearchMode, SearchRequest
from lightfast.db.engine import make_engine
from lightfast.db.models import (
    Activity,
    ConnectedSource,
    Document,
    DocumentFailure,
    IngestionEvent,
    Job,
    VectorEntry,
)
from lightfast.errors import NotFound, UpstreamError
from lightfast.sources.github.client import GitHubApp
from lightfast.testing.github import GitHubStandIn, generate_private_key
from tests.conftest import make_settings
from tests.gitrepo import commit, git

FIXTURES = Path(__file__).parents[2] / "shared" / "fixtures" / "webhooks" / "github"
SECRET = "It's a Secret to Everybody"
APP_ID = 424242
INSTALLATION = 77
REPO_ID = 9001
FULL_NAME = "acme/handbook"
CONFIG = "version: 1\nstore: docs\ninclude:\n  - '**/*.md'\n"


@pytest.fixture(scope="module")
def keys() -> tuple[str, str]:
    return generate_private_key()


@dataclass
class World:
    services: Services
    client: TestClient
    standin: GitHubStandIn
    repo: Path
    workspace_id: str

    def deliver(
        self,
        event: str,
        payload: dict[str, Any] | bytes,
        *,
        delivery: str | None = None,
        secret: str = SECRET,
    ) -> Any:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        return self.client.post(
            "/webhooks/github",
            content=body,
            headers={
                "X-GitHub-Event": event,
                "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
                "X-Hub-Signature-256": signature,
                "Content-Type": "application/json",
            },
        )

    def connect(self) -> tuple[str, str]:
        connected = self.services.sources.connect_github(self.workspace_id, FULL_NAME, INSTALLATION)
        self.services.runner.run_inline(connected.job_id)
        return connected.source.id, connected.job_id

    def run(self, job_id: str) -> Job:
        job = self.job(job_id)
        if job.input.get("kind") == "disconnect":
            self.services.disconnects.run_inline(job_id)
        else:
            self.services.runner.run_inline(job_id)
        return self.job(job_id)

    def job(self, job_id: str) -> Job:
        with self.services.sessions() as session:
            job = session.get(Job, job_id)
            assert job is not None
            return job

    def count(self, model: Any, *where: Any) -> int:
        with self.services.sessions() as session:
            return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)

    def paths(self, source_id: str) -> dict[str, str]:
        with self.services.sessions() as session:
            rows = session.execute(
                select(Document.path, Document.content).where(Document.connection_id == source_id)
            )
            return {path: content or "" for path, content in rows}

    def search(self, query: str) -> list[str]:
        request = SearchRequest(self.workspace_id, query, limit=10, mode=SearchMode.FAST)
        return [r.path for r in self.services.search.search(request).results]


@pytest.fixture
def world(tmp_path: Path, database_url: str, keys: tuple[str, str]) -> Iterator[World]:
    private_pem, public_pem = keys
    repo = tmp_path / "handbook"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    commit(
        repo,
        "initial",
        {
            "lightfast.yml": CONFIG,
            "README.md": "# Handbook\n\nHow the acme team works.\n",
            "docs/deploy.md": "# Deploying\n\nRun the blue-green rollout with canaries.\n",
            "docs/oncall.md": "# On call\n\nPager rotation and escalation policy.\n",
            "src/app.py": "print('not a document')\n",
        },
    )
    standin = GitHubStandIn(app_id=APP_ID, public_key_pem=public_pem)
    standin.add_repository(FULL_NAME, repo, repo_id=REPO_ID, installation_id=INSTALLATION)
    standin.start()
    settings = make_settings(
        tmp_path,
        database_url,
        github_app_id=str(APP_ID),
        github_private_key=private_pem,
        github_webhook_secret=SECRET,
        github_api_url=standin.url,
        github_max_webhook_bytes=64 * 1024,
        max_file_bytes=20_000,
    )
    services = build_services(settings, engine=make_engine(settings.resolved_database_url))
    try:
        with TestClient(create_app(services)) as client:
            yield World(services, client, standin, repo, services.workspaces.ensure_workspace_id())
    finally:
        services.close()
        standin.stop()


def test_connect_runs_a_full_sync_from_the_tree(world: World) -> None:
    source_id, job_id = world.connect()
    job = world.job(job_id)
    assert job.status == "completed", job.error_message
    assert set(world.paths(source_id)) == {"README.md", "docs/deploy.md", "docs/oncall.md"}
    assert world.search("blue-green canaries")[0] == "docs/deploy.md"
    source = world.services.sources.get(world.workspace_id, source_id)
    assert source.config_status == "configured"
    metadata = source.source_metadata
    assert (metadata["type"], metadata["repoFullName"], metadata["owner"]) == ("github", FULL_NAME, "acme")
    assert (metadata["githubRepoId"], metadata["githubInstallationId"]) == (str(REPO_ID), str(INSTALLATION))
    assert metadata["permissions"] == {"admin": False, "push": False, "pull": True}  # contents: read
    assert metadata["private"] is False
    assert metadata["configPath"] == "lightfast.yml"
    assert source.source_metadata["defaultBranch"] == "main"
    assert source.source_metadata["lastCommit"] == git(world.repo, "rev-parse", "HEAD")
    with world.services.sessions() as session:
        document = session.scalars(select(Document).where(Document.path == "docs/deploy.md")).one()
    assert (
        document.url == "https://github.com/acme/handbook/blob/main/docs/deploy.md"
        or document.url.endswith("/acme/handbook/blob/main/docs/deploy.md")
    )
    assert document.source_metadata["commitSha"] == git(world.repo, "rev-parse", "HEAD")
    assert document.source_metadata["committedAt"].startswith(git(world.repo, "log", "-1", "--format=%cs"))
    assert document.source_metadata["repoFullName"] == FULL_NAME
    # One token, reused for every call of the sync; the tree is listed once though every step reopens
    # the source.
    assert world.standin.tokens_issued == 1
    assert sum(1 for r in world.standin.requests if "/git/trees/" in r.path) == 1


def test_a_signed_push_updates_exactly_the_changed_documents(world: World) -> None:
    source_id, _ = world.connect()
    before = git(world.repo, "rev-parse", "HEAD")
    after = commit(
        world.repo,
        "edit docs",
        {
            "docs/deploy.md": "# Deploying\n\nShip with the feature-flag kill switch.\n",
            "docs/new.md": "# Glossary\n\nTerms.\n",
        },
        remove=("docs/oncall.md",),
    )
    blobs_before = len(world.standin.requests)
    response = world.deliver("push", world.standin.push_payload(FULL_NAME, before, after))
    assert response.status_code == 202, response.text
    [job_id] = response.json()["jobs"]
    job = world.run(job_id)
    assert job.status == "completed", job.error_message
    assert job.trigger == "webhook"
    assert job.input["mode"] == "incremental"
    assert job.input["revision"] == after
    output = job.output or {}
    assert (output["documents_added"], output["documents_updated"], output["documents_deleted"]) == (1, 1, 1)
    assert output["documents_unchanged"] == 0  # README.md was not even looked at
    # Downloaded: the two changed files and lightfast.yml (the config is read at every sync's commit).
    fetched = {
        r.path.rsplit("/", 1)[-1] for r in world.standin.requests[blobs_before:] if "/git/blobs/" in r.path
    }
    wanted = {"docs/deploy.md", "docs/new.md", "lightfast.yml"}
    assert fetched == {git(world.repo, "rev-parse", f"{after}:{path}") for path in wanted}
    assert set(world.paths(source_id)) == {"README.md", "docs/deploy.md", "docs/new.md"}
    assert world.search("feature-flag kill switch")[0] == "docs/deploy.md"
    assert "docs/oncall.md" not in world.search("pager rotation escalation")
    assert world.services.sources.get(world.workspace_id, source_id).source_metadata["lastCommit"] == after


def test_a_push_after_a_failed_push_also_indexes_what_that_one_changed(world: World) -> None:
    source_id, _ = world.connect()
    first_base = git(world.repo, "rev-parse", "HEAD")
    first = commit(world.repo, "one", {"docs/deploy.md": "# Deploying\n\nFirst push: zebra crossing.\n"})
    [lost_job] = world.deliver("push", world.standin.push_payload(FULL_NAME, first_base, first)).json()[
        "jobs"
    ]
    world.services.jobs.cancel(world.workspace_id, lost_job)  # its changes never reach the index
    second = commit(world.repo, "two", {"README.md": "# Handbook\n\nSecond push: yellow submarine.\n"})
    [job_id] = world.deliver("push", world.standin.push_payload(FULL_NAME, first, second)).json()["jobs"]
    job = world.run(job_id)
    assert job.status == "completed", job.error_message
    assert (job.output or {})["documents_updated"] == 2  # the pushed file and the one the lost job had
    assert world.search("zebra crossing") == ["docs/deploy.md"]
    assert world.search("yellow submarine") == ["README.md"]
    assert world.services.sources.get(world.workspace_id, source_id).source_metadata["lastCommit"] == second


def test_queued_pushes_merge_into_one_job(world: World) -> None:
    world.connect()
    base = git(world.repo, "rev-parse", "HEAD")
    one = commit(world.repo, "one", {"docs/new.md": "# New\n\nAdded then removed.\n"})
    two = commit(world.repo, "two", {"README.md": "# Handbook\n\nMerged.\n"}, remove=("docs/new.md",))
    [a] = world.deliver("push", world.standin.push_payload(FULL_NAME, base, one)).json()["jobs"]
    [b] = world.deliver("push", world.standin.push_payload(FULL_NAME, one, two)).json()["jobs"]
    assert world.job(a).status == "cancelled"  # superseded while queued
    job = world.run(b)
    assert job.input["changes"] == {"README.md": "upsert", "docs/new.md": "remove"}
    assert job.input["base"] == base
    assert (job.output or {})["documents_updated"] == 1
    assert "docs/new.md" not in world.paths(world.services.sources.list(world.workspace_id)[0].id)


def test_a_replayed_delivery_changes_nothing(world: World) -> None:
    source_id, _ = world.connect()
    before = git(world.repo, "rev-parse", "HEAD")
    after = commit(world.repo, "edit", {"README.md": "# Handbook\n\nRewritten.\n"})
    payload = {**world.standin.push_payload(FULL_NAME, before, after), "sender": {"login": "octocat"}}
    first = world.deliver("push", payload, delivery="d-1")
    assert first.status_code == 202
    jobs, events = world.count(Job), world.count(IngestionEvent)
    with world.services.sessions() as session:
        event = session.scalars(select(IngestionEvent)).one()
    assert (event.event_key, event.event_type, event.origin, event.status) == (
        "d-1",
        "push",
        "webhook",
        "pending",  # until its job ends
    )
    assert event.event_metadata["beforeSha"] == payload["before"]
    assert event.event_metadata["afterSha"] == payload["after"]
    assert event.event_metadata["jobs"] == first.json()["jobs"]
    again = world.deliver("push", payload, delivery="d-1")
    assert again.status_code == 200
    assert again.json()["duplicate"] is True
    assert (world.count(Job), world.count(IngestionEvent)) == (jobs, events)
    # Both are on the source's timeline, with how each ended and who pushed.
    with world.services.sessions() as session:
        rows = session.scalars(
            select(Activity).where(Activity.action == "webhook.delivery").order_by(Activity.timestamp)
        ).all()
    assert [(a.details["result"], a.status, a.source_id) for a in rows] == [
        ("sync_enqueued", "ok", source_id),
        ("duplicate", "ignored", source_id),
    ]
    assert rows[0].details["jobs"] == first.json()["jobs"]
    assert rows[0].actor_type == "webhook"
    assert rows[0].actor_id == "github:octocat"
    assert "push delivery sync_enqueued" in rows[0].summary


def test_the_same_push_under_a_new_delivery_id_is_one_job(world: World) -> None:
    source_id, _ = world.connect()
    base = git(world.repo, "rev-parse", "HEAD")
    one = commit(world.repo, "edit", {"README.md": "# Handbook\n\nRewritten.\n"})
    payload = world.standin.push_payload(FULL_NAME, base, one)
    [first] = world.deliver("push", payload, delivery="d-1").json()["jobs"]
    [again] = world.deliver("push", payload, delivery="d-2").json()["jobs"]
    assert again == first
    assert world.count(Job, Job.source_id == source_id, Job.trigger == "webhook") == 1
    assert world.run(first).status == "completed"
    two = commit(world.repo, "edit again", {"README.md": "# Handbook\n\nAgain.\n"})
    [forward] = world.deliver("push", world.standin.push_payload(FULL_NAME, one, two)).json()["jobs"]
    assert world.run(forward).status == "completed"
    # A force push back to the earlier commit is a new push (another before sha): synced, not deduped.
    [back] = world.deliver(
        "push", {**world.standin.push_payload(FULL_NAME, two, one), "forced": True}
    ).json()["jobs"]
    assert back not in (first, forward)
    assert world.run(back).status == "completed"
    assert world.paths(source_id)["README.md"].endswith("Rewritten.\n")


def test_a_bad_signature_is_refused_and_stores_nothing(world: World) -> None:
    world.connect()
    jobs, events = world.count(Job), world.count(IngestionEvent)
    payload = world.standin.push_payload(
        FULL_NAME, git(world.repo, "rev-parse", "HEAD~0"), git(world.repo, "rev-parse", "HEAD")
    )
    wrong = world.deliver("push", payload, secret="not the secret")
    assert wrong.status_code == 401
    assert "X-Hub-Signature-256" in wrong.json()["message"]
    missing = world.client.post(
        "/webhooks/github", content=b"{}", headers={"X-GitHub-Event": "push", "X-GitHub-Delivery": "x"}
    )
    assert missing.status_code == 401
    assert (world.count(Job), world.count(IngestionEvent)) == (jobs, events)


def test_size_limit_malformed_json_ping_and_unknown_events(world: World) -> None:
    huge = world.deliver("push", b"{" + b" " * (70 * 1024) + b"}")
    assert huge.status_code == 413
    bad = world.deliver("push", b"{not json")
    assert bad.status_code == 400
    assert "JSON" in bad.json()["message"]
    malformed = world.deliver("push", {"ref": "refs/heads/main"})
    assert malformed.status_code == 400
    assert "repository" in malformed.json()["message"]
    too_long = world.deliver("push", {"zen": "x"}, delivery="d" * 101)
    assert too_long.status_code == 400
    assert world.count(IngestionEvent) == 0
    ping = world.deliver("ping", json.loads((FIXTURES / "ping.json").read_text()))
    assert ping.status_code == 200
    unknown = world.deliver("star", {"action": "created", "repository": {"full_name": FULL_NAME}})
    assert unknown.status_code == 202
    with world.services.sessions() as session:
        kinds = {e.event_type: e.status for e in session.scalars(select(IngestionEvent))}
    assert kinds == {"ping": "processed", "star.created": "ignored"}


def test_pushes_to_other_branches_and_tags_are_ignored(world: World) -> None:
    world.connect()
    head = git(world.repo, "rev-parse", "HEAD")
    other = world.standin.push_payload(FULL_NAME, head, head, ref="refs/heads/feature")
    assert world.deliver("push", other).json()["jobs"] == []
    tag = json.loads((FIXTURES / "push.tag-created.json").read_text())
    tag = tag.get("payload", tag)
    tag["repository"]["id"] = REPO_ID
    answer = world.deliver("push", tag)
    assert answer.status_code == 200
    assert answer.json()["jobs"] == []


def test_a_config_change_redetects_and_runs_a_full_sync(world: World) -> None:
    source_id, _ = world.connect()
    before = git(world.repo, "rev-parse", "HEAD")
    narrowed = commit(
        world.repo, "only docs", {"lightfast.yml": "version: 1\nstore: docs\ninclude: 'docs/**'\n"}
    )
    [job_id] = world.deliver("push", world.standin.push_payload(FULL_NAME, before, narrowed)).json()["jobs"]
    job = world.run(job_id)
    assert job.input["mode"] == "full"
    assert job.status == "completed"
    assert set(world.paths(source_id)) == {"docs/deploy.md", "docs/oncall.md"}  # README.md left the include
    broken = commit(world.repo, "broken", {"lightfast.yml": "version: 2\nstore: Docs!\ninclude: []\n"})
    [job_id] = world.deliver("push", world.standin.push_payload(FULL_NAME, narrowed, broken)).json()["jobs"]
    with pytest.raises(Exception, match="store"):
        world.run(job_id)
    assert world.job(job_id).status == "failed"
    source = world.services.sources.get(world.workspace_id, source_id)
    assert source.config_status == "error"
    assert "store" in (source.config_message or "")
    assert "version" in (source.config_message or "")
    assert set(world.paths(source_id)) == {"docs/deploy.md", "docs/oncall.md"}  # the index was kept
    detected = world.services.sources.detect_config(world.workspace_id, source_id)
    assert detected.status == "error"
    assert detected.path == "lightfast.yml"


def test_uninstalling_the_app_removes_documents_and_vectors(world: World) -> None:
    source_id, _ = world.connect()
    assert world.count(VectorEntry) > 0
    payload = json.loads((FIXTURES / "installation.deleted.json").read_text())
    payload = payload.get("payload", payload)
    payload["installation"]["id"] = INSTALLATION
    answer = world.deliver("installation", payload)
    assert answer.status_code == 202, answer.text
    [job_id] = answer.json()["jobs"]
    assert world.services.sources.get(world.workspace_id, source_id).is_active is False
    job = world.run(job_id)
    assert job.status == "completed"
    assert (job.output or {})["documents_deleted"] == 3
    assert world.count(Document) == 0
    assert world.count(VectorEntry) == 0
    assert world.count(ConnectedSource, ConnectedSource.id == source_id) == 0
    assert world.search("blue-green canaries") == []


def test_removing_the_repository_from_the_installation_disconnects_it(world: World) -> None:
    _source_id, _ = world.connect()
    payload = json.loads((FIXTURES / "installation_repositories.removed.json").read_text())
    payload = payload.get("payload", payload)
    payload["installation"]["id"] = INSTALLATION
    payload["repositories_removed"] = [{"id": REPO_ID, "full_name": FULL_NAME, "name": "handbook"}]
    [job_id] = world.deliver("installation_repositories", payload).json()["jobs"]
    assert world.run(job_id).status == "completed"
    assert world.count(Document) == 0
    assert world.count(VectorEntry) == 0


def test_suspend_deactivates_and_unsuspend_reactivates(world: World) -> None:
    source_id, _ = world.connect()
    payload = json.loads((FIXTURES / "installation.deleted.json").read_text())
    payload = payload.get("payload", payload)
    payload["installation"]["id"] = INSTALLATION
    world.deliver("installation", {**payload, "action": "suspend"})
    assert world.services.sources.get(world.workspace_id, source_id).is_active is False
    head = git(world.repo, "rev-parse", "HEAD")
    after = commit(world.repo, "edit", {"README.md": "# Changed\n"})
    assert world.deliver("push", world.standin.push_payload(FULL_NAME, head, after)).json()["jobs"] == []
    world.deliver("installation", {**payload, "action": "unsuspend"})
    assert world.services.sources.get(world.workspace_id, source_id).is_active is True
    assert world.count(Document) == 3  # suspension keeps the index


def test_a_renamed_repository_keeps_its_documents_and_follows_the_name(world: World) -> None:
    source_id, _ = world.connect()
    payload = json.loads((FIXTURES / "repository.renamed.json").read_text())
    payload = payload.get("payload", payload)
    payload["repository"].update(
        id=REPO_ID, name="guide", full_name="acme/guide", html_url="https://github.com/acme/guide"
    )
    payload["repository"]["owner"]["login"] = "acme"
    assert world.deliver("repository", payload).status_code == 200
    source = world.services.sources.get(world.workspace_id, source_id)
    assert source.display_name == "acme/guide"
    with world.services.sessions() as session:
        renamed = session.scalars(select(Activity).where(Activity.action == "source.renamed")).one()
    assert (renamed.actor_type, renamed.actor_id) == ("webhook", f"github:{payload['sender']['login']}")
    assert (
        renamed.summary
        == "Source renamed from https://github.com/acme/handbook to https://github.com/acme/guide"
    )
    assert source.source_metadata["repoFullName"] == "acme/guide"
    with world.services.sessions() as session:
        urls = set(session.scalars(select(Document.url).where(Document.connection_id == source_id)))
    assert urls
    assert all(u and u.startswith("https://github.com/acme/guide/blob/main/") for u in urls)
    world.standin.rename_repository(FULL_NAME, "acme/guide")
    head = git(world.repo, "rev-parse", "HEAD")
    after = commit(world.repo, "edit", {"README.md": "# Handbook\n\nRenamed and still indexed.\n"})
    [job_id] = world.deliver("push", world.standin.push_payload("acme/guide", head, after)).json()["jobs"]
    job = world.run(job_id)
    assert job.status == "completed"
    assert (job.output or {})["documents_updated"] == 1
    assert world.count(Document) == 3  # same ids: nothing re-created


def test_a_new_default_branch_is_synced_in_full(world: World) -> None:
    source_id, _ = world.connect()
    git(world.repo, "checkout", "-q", "-b", "trunk")
    commit(world.repo, "trunk only", {"docs/trunk.md": "# Trunk\n\nOnly on the trunk branch.\n"})
    git(world.repo, "checkout", "-q", "main")
    payload = json.loads((FIXTURES / "repository.renamed.json").read_text())
    payload = payload.get("payload", payload)
    payload["action"] = "edited"
    payload["changes"] = {"default_branch": {"from": "main"}}
    payload["repository"].update(id=REPO_ID, full_name=FULL_NAME, name="handbook", default_branch="trunk")
    answer = world.deliver("repository", payload)
    assert answer.status_code == 202
    [job_id] = answer.json()["jobs"]
    assert (
        world.services.sources.get(world.workspace_id, source_id).source_metadata["defaultBranch"] == "trunk"
    )
    job = world.run(job_id)
    assert job.input["mode"] == "full"
    assert "docs/trunk.md" in world.paths(source_id)
    main_head = git(world.repo, "rev-parse", "main")
    assert (
        world.services.sources.get(world.workspace_id, source_id).source_metadata["lastCommit"] != main_head
    )


def test_a_rate_limited_answer_is_retried_after_the_reset(world: World) -> None:
    world.connect()
    before = git(world.repo, "rev-parse", "HEAD")
    after = commit(world.repo, "edit", {"docs/deploy.md": "# Deploying\n\nRate limits are fine.\n"})
    world.standin.rate_limit_next(1, reset_in=1.0, path_contains="/git/blobs/")
    started = time.time()
    [job_id] = world.deliver("push", world.standin.push_payload(FULL_NAME, before, after)).json()["jobs"]
    job = world.run(job_id)
    assert job.status == "completed", job.error_message
    blob_calls = [r for r in world.standin.requests if "/git/blobs/" in r.path and r.at >= started]
    limited, retried = blob_calls[0], blob_calls[-1]
    assert (limited.status, retried.status) == (403, 200)
    reset = int(limited.at + 1.0) + 1  # the stand-in's reset: ceil(now + 1)
    assert retried.at >= reset - 1.0  # not retried before the reset (minus the header's 1 s resolution)
    assert world.search("rate limits are fine")[0] == "docs/deploy.md"


def test_hopeless_answers_are_not_retried_and_fail_the_job(world: World) -> None:
    source_id, _ = world.connect()
    world.standin.fail_next(1, status=401, path_contains="/branches/")
    job_id = world.services.jobs.enqueue_sync(world.workspace_id, source_id).job_id
    with pytest.raises(Exception, match="401"):
        world.run(job_id)
    assert world.job(job_id).status == "failed"
    assert sum(1 for r in world.standin.requests if "/branches/" in r.path and r.status == 401) == 1


def test_oversized_and_binary_files_are_document_failures(world: World) -> None:
    commit(
        world.repo,
        "add big and binary",
        {"docs/big.md": "# Big\n\n" + "word " * 6000, "docs/logo.md": b"\x89PNG\r\n\x1a\n\x00\x00binary"},
    )
    big_blob = git(world.repo, "rev-parse", "HEAD:docs/big.md")
    source_id, job_id = world.connect()
    job = world.job(job_id)
    assert job.status == "completed_with_errors"
    with world.services.sessions() as session:
        reasons = {f.path: f.reason for f in session.scalars(select(DocumentFailure))}
    assert reasons == {"docs/big.md": "too_large", "docs/logo.md": "binary"}
    assert set(world.paths(source_id)) == {"README.md", "docs/deploy.md", "docs/oncall.md"}
    assert not any(big_blob in r.path for r in world.standin.requests)  # refused without downloading it


@pytest.mark.slow
def test_the_worker_runs_connect_push_and_uninstall_as_durable_jobs(world: World) -> None:
    """The same flow through the DBOS worker, as `lightfast serve` runs it."""
    jobs = world.services.jobs
    engine = JobEngine(world.services).start()
    try:
        connected = world.services.sources.connect_github(world.workspace_id, FULL_NAME, INSTALLATION)
        assert jobs.wait(world.workspace_id, connected.job_id, timeout=60).status == "completed"
        before = git(world.repo, "rev-parse", "HEAD")
        after = commit(world.repo, "edit", {"docs/deploy.md": "# Deploying\n\nWorkers deploy durably.\n"})
        [push_job] = world.deliver("push", world.standin.push_payload(FULL_NAME, before, after)).json()[
            "jobs"
        ]
        done = jobs.wait(world.workspace_id, push_job, timeout=60)
        assert done.status == "completed", done.error_message
        assert (done.output or {})["documents_updated"] == 1
        assert world.search("workers deploy durably")[0] == "docs/deploy.md"
        assert [s.name for s in jobs.steps(push_job)][:2] == ["lightfast.plan", "lightfast.index_batch"]

        payload = json.loads((FIXTURES / "installation.deleted.json").read_text())
        payload = payload.get("payload", payload)
        payload["installation"]["id"] = INSTALLATION
        [disconnect_job] = world.deliver("installation", payload).json()["jobs"]
        finished = jobs.wait(world.workspace_id, disconnect_job, timeout=60)
        assert finished.status == "completed", finished.error_message
        assert finished.trigger == "webhook"
        steps = [s.name for s in jobs.steps(disconnect_job)]
        assert steps[0] == "lightfast.disconnect.start"
        assert "lightfast.disconnect.remove_batch" in steps
        assert steps[-1] == "lightfast.disconnect.finish"
        assert world.count(Document) == 0
        assert world.count(VectorEntry) == 0
    finally:
        engine.stop()


def test_a_full_resync_of_an_unchanged_repository_downloads_nothing(world: World) -> None:
    source_id, _ = world.connect()
    seen = len(world.standin.requests)
    job_id = world.services.jobs.enqueue_sync(world.workspace_id, source_id, mode="full").job_id
    job = world.run(job_id)
    assert job.status == "completed"
    assert (job.output or {})["documents_added"] + (job.output or {})["documents_updated"] == 0
    fetched = [r.path for r in world.standin.requests[seen:] if "/git/blobs/" in r.path]
    assert len(fetched) == 1  # lightfast.yml only: every document's blob sha matched
    incremental = world.services.jobs.enqueue_sync(world.workspace_id, source_id, mode="incremental").job_id
    assert (world.run(incremental).output or {})["documents_unchanged"] == 0  # nothing new since


def test_installation_tokens_are_cached_until_shortly_before_expiry(
    tmp_path: Path, keys: tuple[str, str]
) -> None:
    private_pem, public_pem = keys
    repo = tmp_path / "r"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    commit(repo, "one", {"README.md": "# R\n"})
    with GitHubStandIn(app_id=APP_ID, public_key_pem=public_pem, token_ttl_seconds=3600) as standin:
        standin.add_repository("acme/r", repo, repo_id=5, installation_id=9)
        app = GitHubApp(str(APP_ID), private_pem, standin.url)
        client = app.installation(9)
        for _ in range(3):
            client.repository("acme/r")
        assert standin.tokens_issued == 1
        # Five minutes before the expiry the cached token is renewed.
        app.clock = lambda: time.time() + 3600 - 299
        client.repository("acme/r")
        assert standin.tokens_issued == 2
        app.close()


def test_secrets_never_show_in_errors_or_reprs(world: World, keys: tuple[str, str]) -> None:
    private_pem, _ = keys
    app = world.services.opener.github_app
    assert private_pem not in repr(app)
    assert private_pem not in repr(world.services.settings)
    assert SECRET not in repr(world.services.settings)
    world.standin.fail_next(1, status=404, path_contains="/repos/acme/nope")
    with pytest.raises(NotFound) as raised:
        world.services.sources.connect_github(world.workspace_id, "acme/nope", INSTALLATION)
    token = app.installation_token(INSTALLATION)
    assert token not in str(raised.value)
    assert "acme/nope" in str(raised.value)


@pytest.fixture
def served(tmp_path: Path, keys: tuple[str, str]) -> Iterator[tuple[GitHubStandIn, GitHubApp, list[float]]]:
    """A stand-in serving one repository, and an App client whose sleeps are recorded, not slept."""
    private_pem, public_pem = keys
    repo = tmp_path / "r"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    commit(repo, "one", {"README.md": "# R\n"})
    slept: list[float] = []
    with GitHubStandIn(app_id=APP_ID, public_key_pem=public_pem) as standin:
        standin.add_repository("acme/r", repo, repo_id=5, installation_id=9)
        app = GitHubApp(str(APP_ID), private_pem, standin.url, sleep=slept.append)
        yield standin, app, slept
        app.close()


def test_server_errors_are_retried_with_backoff(served: tuple[GitHubStandIn, GitHubApp, list[float]]) -> None:
    standin, app, slept = served
    standin.fail_next(2, status=502, path_contains="/repos/acme/r")
    assert app.installation(9).repository("acme/r").full_name == "acme/r"
    assert slept == [1.0, 2.0]
    assert [r.status for r in standin.requests if r.path == "/repos/acme/r"] == [502, 502, 200]


def test_secondary_rate_limits_wait_for_retry_after(
    served: tuple[GitHubStandIn, GitHubApp, list[float]],
) -> None:
    standin, app, slept = served
    standin.secondary_limit_next(1, retry_after=3, path_contains="/repos/acme/r")
    assert app.installation(9).repository("acme/r").id == 5
    assert slept == [3.0]


def test_hopeless_answers_fail_at_once(served: tuple[GitHubStandIn, GitHubApp, list[float]]) -> None:
    _, app, slept = served
    with pytest.raises(NotFound, match="acme/missing"):
        app.installation(9).repository("acme/missing")
    with pytest.raises(NotFound):
        app.installation(404).repository("acme/r")  # an installation GitHub does not know
    assert slept == []


def test_network_errors_are_retried_then_reported(
    served: tuple[GitHubStandIn, GitHubApp, list[float]],
) -> None:
    standin, app, slept = served
    client = app.installation(9)
    client.repository("acme/r")  # a token is cached
    standin.stop()
    with pytest.raises(UpstreamError, match="acme/r"):
        client.repository("acme/r")
    assert slept == [1.0, 2.0, 4.0, 8.0, 16.0]


def test_a_rotated_private_key_is_used_at_once(tmp_path: Path) -> None:
    """Two App objects with the same id and different keys (a key rotation, or two tests in one
    process) each sign their own JWT: nothing is shared through a process-wide cache."""
    repo = tmp_path / "r"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    commit(repo, "one", {"README.md": "# R\n"})
    for _ in range(2):
        private_pem, public_pem = generate_private_key()
        with GitHubStandIn(app_id=APP_ID, public_key_pem=public_pem) as standin:
            standin.add_repository("acme/r", repo, repo_id=5, installation_id=9)
            app = GitHubApp(str(APP_ID), private_pem, standin.url, sleep=lambda _: None)
            try:
                assert app.installation(9).repository("acme/r").full_name == "acme/r"
            finally:
                app.close()
