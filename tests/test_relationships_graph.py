"""The stored graph on SQLite and PostgreSQL: documents written through the pipeline link to each other
whatever their source and whichever arrives first; re-ingest replaces a document's edges, deletion takes
them away in both directions, pushes link commits to the files they changed, and nothing crosses a
workspace."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, func, select, update

from lightfast.app.container import Services, build_services
from lightfast.app.relationships import push_commits
from lightfast.db.models import Document
from lightfast.db.relationship_models import DocumentEdge, DocumentKey
from lightfast.errors import InvalidInput, NotFound
from tests.conftest import make_settings
from tests.relationship_kit import SHA, ingest, push_payload, remove, store_of


def related_titles(
    services: Services, workspace_id: str, document_id: str, **options: object
) -> set[tuple[str, str, str]]:
    page = services.relationships.related(workspace_id, document_id, **options)  # type: ignore[arg-type]
    return {(item.direction, item.kind, item.document.source_id) for item in page.items}


def test_a_mention_resolves_when_its_document_arrives_later(services: Services) -> None:
    store = store_of(services)
    ws = store.workspace_id
    ticket = ingest(
        services,
        store,
        "zendesk",
        "ticket-7890",
        "Customer sees API-1A2B after login.",
        {"kind": "ticket", "ticketId": 7890},
    )
    page = services.relationships.related(ws, ticket)
    assert page.items == []
    assert [(u.target_type, u.target_key) for u in page.unresolved] == [("sentry", "API-1A2B")]

    issue = ingest(
        services,
        store,
        "sentry",
        "4509876",
        "TypeError: session is undefined",
        {"shortId": "API-1A2B", "issueId": "4509876"},
    )
    assert related_titles(services, ws, ticket) == {("out", "mentions", "4509876")}
    assert related_titles(services, ws, issue) == {("in", "mentions", "ticket-7890")}
    assert services.relationships.related(ws, ticket).unresolved == []
    with services.sessions() as session:
        stored = session.get(Document, ticket)
        assert stored is not None
        assert stored.relationships == {"mentions": {"sentry": ["API-1A2B"]}}


def test_reingest_replaces_a_documents_edges(services: Services) -> None:
    store = store_of(services)
    ws = store.workspace_id
    ingest(services, store, "linear", "ENG-3", "Old login", {"kind": "issue", "identifier": "ENG-3"})
    ingest(services, store, "linear", "ENG-4", "New login", {"kind": "issue", "identifier": "ENG-4"})
    pr = ingest(
        services,
        store,
        "github",
        "acme/api:pull/9",
        "Fixes ENG-3.",
        {"kind": "pull", "number": 9, "repoFullName": "acme/api"},
    )
    assert related_titles(services, ws, pr) == {("out", "fixes", "ENG-3")}
    ingest(
        services,
        store,
        "github",
        "acme/api:pull/9",
        "Fixes ENG-4; related to ENG-3.",
        {"kind": "pull", "number": 9, "repoFullName": "acme/api"},
    )
    assert related_titles(services, ws, pr) == {("out", "fixes", "ENG-4"), ("out", "relates_to", "ENG-3")}
    with services.sessions() as session:
        assert (
            session.scalar(
                select(func.count()).select_from(DocumentEdge).where(DocumentEdge.from_document_id == pr)
            )
            == 2
        )


def test_deleting_a_document_takes_its_edges_in_both_directions(services: Services) -> None:
    store = store_of(services)
    ws = store.workspace_id
    issue = ingest(
        services, store, "linear", "ENG-7", "Blocked by ENG-8.", {"kind": "issue", "identifier": "ENG-7"}
    )
    blocker = ingest(
        services, store, "linear", "ENG-8", "Blocks ENG-7.", {"kind": "issue", "identifier": "ENG-8"}
    )
    assert related_titles(services, ws, issue) == {("out", "blocked_by", "ENG-8"), ("in", "blocks", "ENG-8")}
    remove(services, store, "linear", blocker)
    with services.sessions() as session:
        assert (
            session.scalar(
                select(func.count()).select_from(DocumentEdge).where(DocumentEdge.from_document_id == blocker)
            )
            == 0
        )
        assert (
            session.scalar(
                select(func.count()).select_from(DocumentKey).where(DocumentKey.document_id == blocker)
            )
            == 0
        )
    page = services.relationships.related(ws, issue)
    assert page.items == []  # neither its edge to ENG-8 nor ENG-8's edge to it
    assert [(u.kind, u.target_key) for u in page.unresolved] == [("blocked_by", "ENG-8")]
    # The mention is still in ENG-7's text: when ENG-8 comes back, it is found again.
    ingest(services, store, "linear", "ENG-8", "Back again.", {"kind": "issue", "identifier": "ENG-8"})
    assert related_titles(services, ws, issue) == {("out", "blocked_by", "ENG-8")}


def test_a_push_links_its_commit_to_the_files_it_changed(services: Services) -> None:
    store = store_of(services)
    ws = store.workspace_id
    meta = {"repoFullName": "acme/api", "commitSha": "0" * 40}
    untouched = ingest(
        services,
        store,
        "github",
        "acme/api:README.md",
        "Readme",
        {**meta, "path": "README.md"},
        path="README.md",
    )
    # A file indexed before the push gets the commit's keys when the push is recorded ...
    before = ingest(
        services, store, "github", "acme/api:src/a.py", "a", {**meta, "path": "src/a.py"}, path="src/a.py"
    )
    added = services.relationships.record_push(
        ws, "Acme/API", push_payload("acme/api", SHA, ["src/a.py", "src/b.py"], "Fix (#42)")
    )
    assert added == 2
    assert (
        services.relationships.record_push(
            ws, "acme/api", push_payload("acme/api", SHA, ["src/a.py", "src/b.py"], "Fix (#42)")
        )
        == 0
    )
    # ... and one indexed after it (the push's own sync) when it is written.
    after = ingest(
        services, store, "github", "acme/api:src/b.py", "b", {**meta, "path": "src/b.py"}, path="src/b.py"
    )
    note = ingest(
        services,
        store,
        "notion",
        "page-1",
        "Shipped in commit abc1234, see acme/api#42.",
        {"pageId": "0" * 32},
    )
    found = related_titles(services, ws, note)
    assert found == {
        ("out", "mentions", "acme/api:src/a.py"),
        ("out", "mentions", "acme/api:src/b.py"),
    }
    # The pull request the commit merged ("(#42)") names the same files.
    pr_note = ingest(services, store, "notion", "page-2", "Shipped acme/api#42.", {"pageId": "1" * 32})
    assert {(i.target_type, i.target_key) for i in services.relationships.related(ws, pr_note).items} == {
        ("github", "acme/api#42")
    }
    assert len(services.relationships.related(ws, pr_note).items) == 2
    assert related_titles(services, ws, untouched) == set()
    assert (
        related_titles(services, ws, before)
        == related_titles(services, ws, after)
        == {
            ("in", "mentions", "page-1"),
            ("in", "mentions", "page-2"),
        }
    )


def test_a_commit_abbreviation_that_disagrees_past_seven_characters_is_not_a_match(
    services: Services,
) -> None:
    store = store_of(services)
    ws = store.workspace_id
    ingest(services, store, "vercel", "dpl_one", "", {"deploymentId": "dpl_one", "commitSha": SHA})
    other = SHA[:7] + ("0" if SHA[7] != "0" else "1") + SHA[8:]
    ingest(services, store, "vercel", "dpl_two", "", {"deploymentId": "dpl_two", "commitSha": other})
    issue = ingest(services, store, "sentry", "1", "", {"shortId": "API-1", "releases": [SHA[:12]]})
    assert related_titles(services, ws, issue) == {("out", "in_release", "dpl_one")}


def test_the_graph_stays_in_its_workspace(services: Services) -> None:
    mine = store_of(services, "mine")
    theirs = store_of(services, "theirs")
    pr = ingest(
        services,
        mine,
        "github",
        "acme/api:pull/1",
        "Fixes ENG-1",
        {"kind": "pull", "number": 1, "repoFullName": "acme/api"},
    )
    other_issue = ingest(services, theirs, "linear", "ENG-1", "x", {"kind": "issue", "identifier": "ENG-1"})
    ingest(
        services,
        theirs,
        "github",
        "acme/api:pull/2",
        "Fixes ENG-1",
        {"kind": "pull", "number": 2, "repoFullName": "acme/api"},
    )
    page = services.relationships.related(mine.workspace_id, pr)
    assert page.items == []
    assert [u.target_key for u in page.unresolved] == ["ENG-1"]
    assert related_titles(services, theirs.workspace_id, other_issue) == {("in", "fixes", "acme/api:pull/2")}
    with pytest.raises(NotFound):
        services.relationships.related(mine.workspace_id, other_issue)


def test_filters_and_bounds(services: Services) -> None:
    store = store_of(services)
    ws = store.workspace_id
    hub = ingest(
        services,
        store,
        "linear",
        "ENG-1",
        "Blocked by ENG-2. Related to ENG-3.",
        {"kind": "issue", "identifier": "ENG-1"},
    )
    for n in (2, 3):
        ingest(services, store, "linear", f"ENG-{n}", "x", {"kind": "issue", "identifier": f"ENG-{n}"})
    ingest(services, store, "zendesk", "t-1", "Zendesk ticket about ENG-1", {"kind": "ticket", "ticketId": 1})
    assert related_titles(services, ws, hub, direction="out", kind="blocked_by") == {
        ("out", "blocked_by", "ENG-2")
    }
    assert related_titles(services, ws, hub, direction="in") == {("in", "mentions", "t-1")}
    assert related_titles(services, ws, hub, source_type="zendesk") == {("in", "mentions", "t-1")}
    assert len(services.relationships.related(ws, hub, limit=1).items) == 1
    for bad, field in (
        ({"direction": "sideways"}, "direction"),
        ({"kind": "loves"}, "kind"),
        ({"source_type": "myspace"}, "sourceType"),
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
    ):
        with pytest.raises(InvalidInput) as refused:
            services.relationships.related(ws, hub, **bad)  # type: ignore[arg-type]
        assert refused.value.field == field


def test_push_commits_reads_the_public_push_fixture() -> None:
    import json
    from pathlib import Path

    fixtures = sorted(Path("/work/shared/fixtures/webhooks").glob("**/*push*.json"))
    bodies = [json.loads(p.read_text()) for p in fixtures]
    bodies = [b.get("body", b) if isinstance(b, dict) else b for b in bodies]
    payloads = [
        b for b in bodies if isinstance(b, dict) and isinstance(b.get("commits"), list) and b["commits"]
    ]
    if not payloads:  # pragma: no cover - depends on the shared fixtures
        payloads = [push_payload("acme/api", SHA, ["a.md"], "Merge pull request #5 from acme/x")]
    for payload in payloads:
        for sha, pull, paths in push_commits(payload):
            assert len(sha) == 40
            assert pull is None or pull > 0
            assert all(isinstance(p, str) and p for p in paths)
    [(sha, pull, paths)] = push_commits(
        push_payload("acme/api", SHA, ["a.md"], "Merge pull request #5 from acme/x")
    )
    assert (sha, pull, paths) == (SHA, 5, ["a.md"])
    assert push_commits(
        {"commits": [{"id": "not-a-sha"}, "junk", {"id": SHA, "added": [1, "", "b.md"]}]}
    ) == [(SHA, None, ["b.md"])]


def test_relink_builds_the_graph_of_documents_indexed_before_it(services: Services) -> None:
    store = store_of(services)
    ws = store.workspace_id
    issue = ingest(
        services, store, "linear", "ENG-7", "Fixed by acme/api#42.", {"kind": "issue", "identifier": "ENG-7"}
    )
    deployment = ingest(
        services,
        store,
        "vercel",
        "dpl_x",
        "",
        {"deploymentId": "dpl_x", "repo": "acme/api", "commitMessage": "Fix (#42)"},
    )
    # What a database upgraded to 0016 holds: documents, no edges or keys, no relationships JSON.
    with services.sessions.begin() as session:
        session.execute(delete(DocumentEdge))
        session.execute(delete(DocumentKey))
        session.execute(update(Document).values(relationships=None))
    assert services.relationships.related(ws, issue).items == []
    assert services.relationships.relink(ws, batch=1) == 2
    assert related_titles(services, ws, issue) == {("out", "fixed_by", "dpl_x")}
    assert related_titles(services, ws, deployment) == {("in", "fixed_by", "ENG-7")}
    with services.sessions() as session:
        stored = session.get(Document, issue)
        assert stored is not None
        assert stored.relationships == {
            "mentions": {"github": ["acme/api#42"]},
            "graph": {"fixedBy": ["acme/api#42"]},
        }
    # Again: the same graph, nothing doubled.
    assert services.relationships.relink(None) == 2
    with services.sessions() as session:
        assert session.scalar(select(func.count()).select_from(DocumentEdge)) == 1


GRAPH_DOCUMENTS: list[tuple[str, str, str, dict[str, object]]] = [
    ("linear", "ENG-7", "Fixed by acme/api#42. Blocked by ENG-8.", {"kind": "issue", "identifier": "ENG-7"}),
    ("linear", "ENG-8", "Blocks ENG-7.", {"kind": "issue", "identifier": "ENG-8"}),
    (
        "vercel",
        "dpl_a",
        "",
        {"deploymentId": "dpl_a", "commitSha": SHA, "repo": "acme/api", "githubPrId": "42"},
    ),
    (
        "sentry",
        "1",
        "Seen by ticket readers.",
        {"kind": "issue", "shortId": "API-1A", "releases": ["abc1234"]},
    ),
    ("zendesk", "t-9", "Zendesk ticket about Sentry API-1A", {"kind": "ticket", "ticketId": 9}),
]


@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
@given(order=st.permutations(range(len(GRAPH_DOCUMENTS))), data=st.data())
def test_the_graph_does_not_depend_on_the_order_documents_arrive(
    tmp_path_factory: pytest.TempPathFactory, order: list[int], data: st.DataObject
) -> None:
    """Any arrival order, with any document indexed twice, gives the graph of one in-order ingest."""
    again = data.draw(st.sets(st.sampled_from(range(len(GRAPH_DOCUMENTS))), max_size=2))
    home = tmp_path_factory.mktemp("order")
    built = build_services(make_settings(home, f"sqlite:///{home / 'db.sqlite'}"))
    try:
        store = store_of(built)
        ids = {}
        for index in [*order, *sorted(again)]:
            source_type, source_id, text, metadata = GRAPH_DOCUMENTS[index]
            ids[source_id] = ingest(built, store, source_type, source_id, text, dict(metadata))
        graph = {
            source_id: related_titles(built, store.workspace_id, document)
            for source_id, document in ids.items()
        }
    finally:
        built.close()
    assert graph == {
        "ENG-7": {("out", "fixed_by", "dpl_a"), ("out", "blocked_by", "ENG-8"), ("in", "blocks", "ENG-8")},
        "ENG-8": {("out", "blocks", "ENG-7"), ("in", "blocked_by", "ENG-7")},
        "dpl_a": {("in", "fixed_by", "ENG-7"), ("in", "in_release", "1")},
        "1": {("out", "in_release", "dpl_a"), ("in", "mentions", "t-9")},
        "t-9": {("out", "mentions", "1")},
    }
