"""Vercel deployments as documents (pure) and the normalising of what Vercel sends: property tests over
hostile shapes, the stable paths, seed 004's metadata; and the ordering rule over every arrival order."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lightfast.app.container import build_services
from lightfast.app.vercel_backfill import render
from lightfast.db import vendor_entities
from lightfast.db.engine import make_engine
from lightfast.relationships.documents import identities, metadata_edges, repository_of
from lightfast.relationships.model import GITHUB_COMMIT, VERCEL, Target
from lightfast.sources.snapshots import Snapshot
from lightfast.sources.vercel import documents as docs
from lightfast.sources.vercel.webhooks import MAX_MESSAGE, deployment_fields, parse_delivery
from tests.conftest import make_settings

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "webhooks" / "vercel"
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=20,
)
KEYS = st.sampled_from(
    [
        "id",
        "uid",
        "url",
        "name",
        "readyState",
        "state",
        "target",
        "createdAt",
        "created",
        "ready",
        "buildingAt",
        "projectId",
        "inspectorUrl",
        "errorMessage",
        "errorCode",
        "creator",
        "meta",
        "alias",
    ]
)
META_KEYS = st.sampled_from(
    [
        "githubCommitSha",
        "githubCommitMessage",
        "githubCommitRef",
        "githubCommitOrg",
        "githubCommitRepo",
        "githubCommitAuthorName",
        "githubPrId",
    ]
)


def fixture(name: str) -> dict[str, Any]:
    return dict(json.loads((FIXTURES / name).read_text(encoding="utf-8")))


@st.composite
def deployments(draw: st.DrawFn) -> dict[str, Any]:
    given_fields = draw(st.dictionaries(KEYS, JSON, max_size=10))
    given_fields["meta"] = draw(st.dictionaries(META_KEYS, JSON | st.text(max_size=20_000), max_size=7))
    given_fields["id"] = "dpl_" + draw(st.text("abcXYZ019", min_size=1, max_size=30))
    return given_fields


@given(deployments())
def test_any_deployment_renders_a_bounded_document_at_a_stable_path(given_fields: dict[str, Any]) -> None:
    fields = deployment_fields(given_fields)
    assert fields is not None
    assert all(len(v) <= MAX_MESSAGE for v in fields.values() if isinstance(v, str))
    document = docs.render_deployment(fields, ["Error: x"] * 3)
    assert docs.entity_of_path(document.path) == document.entity_id == f"deployment:{fields['id']}"
    assert len(document.markdown) <= docs.MAX_MARKDOWN + 1
    assert document.metadata["deploymentId"] == fields["id"]
    assert document.metadata["environment"] in ("preview", str(fields.get("target")))
    if document.metadata["status"] == "ERROR":
        assert document.metadata["errorCount"] == 3
    assert document.relationships["temporal"]["deploymentId"] == fields["id"]


@given(st.dictionaries(KEYS, JSON, max_size=10))
def test_normalising_hostile_shapes_never_raises(given_fields: dict[str, Any]) -> None:
    fields = deployment_fields(given_fields)
    assert fields is None or fields["id"].startswith("dpl_")


@given(st.text(max_size=60))
def test_only_deployment_paths_map_to_entities(path: str) -> None:
    entity = docs.entity_of_path(path)
    assert entity is None or docs.path_for("deployment", entity) == path


def test_paths_refuse_what_is_not_a_deployment() -> None:
    assert docs.entity_of_path("deployments/dpl_abc.md") == "deployment:dpl_abc"
    for path in ("deployments/../x.md", "deployments/dpl_a/b.md", "issues/dpl_abc.md", "deployments/dpl_.md"):
        assert docs.entity_of_path(path) is None


def test_the_fixture_renders_seed_004_metadata_and_links() -> None:
    delivery = parse_delivery(fixture("deployment.created.json"))
    assert delivery.deployment is not None
    document = docs.render_deployment(delivery.deployment, None)
    assert document.metadata == {
        "type": "vercel",
        "kind": "deployment",
        "deploymentId": "dpl_12yAAMp54JKe1XxonMYqW4oWtK5K",
        "deploymentUrl": "accordion-component-bkzjdsyk8-rick-team.vercel.app",
        "project": "accordion-component",
        "projectId": "prj_vt57HZEY7iilPaJv71LcOVLcEiOp",
        "environment": "preview",
        "status": "BUILDING",
        "commitSha": "d298272f30b0ece055912eb50739ce5106c3d716",
        "commitMessage": "Update index.html",
        "branch": "test-webhook",
        "repo": "rickastley/accordion-component",
        "author": "Rick Astley",
        "createdAt": "2023-10-27T09:07:57.664000Z",
        "url": "https://vercel.com/rick-team/accordion-component/12yAAMp54JKe1XxonMYqW4oWtK5K",
        "githubCommitSha": "d298272f30b0ece055912eb50739ce5106c3d716",
        "githubCommitOrg": "rickastley",
        "githubCommitRepo": "accordion-component",
    }
    assert "- Branch: test-webhook" in document.markdown
    assert "## Error" not in document.markdown


def test_a_failed_deployment_says_why_and_fences_its_log() -> None:
    fields = {"id": "dpl_x1", "state": "ERROR", "name": "api", "error_message": "Command exited with 1"}
    document = docs.render_deployment(fields, ["Error: ```boom```", "Build failed"])
    assert document.metadata["errorSummary"] == "Command exited with 1"
    assert document.metadata["errorCount"] == 2
    assert document.markdown.count("```") == 2  # the log cannot close its fence early
    unexplained = docs.render_deployment({"id": "dpl_x2", "state": "ERROR"}, None)
    assert "no API token" in unexplained.markdown
    assert docs.render_deployment({"id": "dpl_x3", "state": "ERROR"}, ["Error: y"]).metadata[
        "errorSummary"
    ] == ("Error: y")


def test_render_ignores_snapshots_that_are_not_deployments() -> None:
    assert render(Snapshot("deployment:dpl_a", "deployment", "v", {"deployment": "x"})) is None
    assert render(Snapshot("deployment:dpl_a", "project", "v", {"deployment": {"id": "dpl_a"}})) is None


STATES = [
    ("deployment.created", 1698397677664),
    ("deployment.succeeded", 1698397684000),
    ("deployment.ready", 1698397685674),
]


@pytest.mark.parametrize("order", list(itertools.permutations(range(3))))
def test_deliveries_in_any_order_converge_on_the_final_state(tmp_path: Path, order: tuple[int, ...]) -> None:
    settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'x.db'}")
    services = build_services(settings, engine=make_engine(settings.resolved_database_url))
    try:
        vercel = services.vendors.vercel
        assert vercel is not None
        workspace_id = services.workspaces.ensure_workspace_id()
        source_id = services.vendors.connections.connect(
            workspace_id, "vercel", name="x", options={"projects": "accordion-component"}
        ).source.id
        for n in order:
            kind, created = STATES[n]
            body = {**fixture("deployment.created.json"), "type": kind, "createdAt": created}
            delivery = parse_delivery(body)
            assert delivery.deployment is not None
            with services.sessions.begin() as session:
                vercel.apply_deployment(session, source_id, delivery.deployment, version=delivery.created_ms)
        with services.sessions() as session:
            row = vendor_entities.find_entity(
                session, source_id, "deployment:dpl_12yAAMp54JKe1XxonMYqW4oWtK5K"
            )
            assert row is not None
            assert row.payload["deployment"]["state"] == "READY"
            # A created delivery later than a final state is stale and changes nothing, its creation time
            # included (the next listing brings it).
            created_first = order.index(0) < min(order.index(1), order.index(2))
            assert row.payload["deployment"].get("created_at") == (
                "2023-10-27T09:07:57.664000Z" if created_first else None
            )
    finally:
        services.close()


def test_the_relationship_graph_knows_a_deployment_by_its_id_host_and_commit() -> None:
    """The generic extractor (lightfast.relationships) reads this source's metadata as it is rendered."""
    delivery = parse_delivery(fixture("deployment.ready.json"))
    assert delivery.deployment is not None
    metadata = docs.render_deployment(delivery.deployment, None).metadata
    known = identities("vercel", "src_x:deployment:dpl_12yAAMp54JKe1XxonMYqW4oWtK5K", metadata)
    assert Target(VERCEL, "dpl_12yAAMp54JKe1XxonMYqW4oWtK5K") in known
    assert Target(VERCEL, "accordion-component-bkzjdsyk8-rick-team.vercel.app") in known
    assert Target(GITHUB_COMMIT, "d298272f30b0ece055912eb50739ce5106c3d716") in known
    assert repository_of("vercel", metadata) == "rickastley/accordion-component"
    [edge] = metadata_edges("vercel", metadata)
    assert edge.target == Target(GITHUB_COMMIT, "d298272f30b0ece055912eb50739ce5106c3d716")


@given(st.integers(0, 100))
def test_tie_breaking_versions_never_outgrow_their_column(ties: int) -> None:
    """Each tie a deployment's state wins adds a suffix; a hundred of them still fit vendor_entities'
    String(40) (PostgreSQL would refuse the row), and each sorts no earlier than the one before."""
    from lightfast.app.vercel_backfill import MAX_VERSION, _after

    version = "2026-01-01T00:00:00.000000Z"
    for _ in range(ties):
        following = _after(version)
        assert following >= version
        version = following
    assert len(version) <= MAX_VERSION
