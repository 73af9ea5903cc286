"""The search service end to end on SQLite and PostgreSQL, with the fake embedder."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from sqlalchemy import func, select

from lightfast.app.container import Services
from lightfast.app.search import SearchMode, SearchRequest, SearchResponse
from lightfast.db.models import Document, VectorEntry
from lightfast.errors import InvalidInput, NotFound
from tests.conftest import write

CONFIG = "version: 1\nstore: {store}\ninclude:\n  - '**/*.md'\n"


def long_doc(words: int = 700) -> str:
    # Every paragraph names the zebra, so every chunk of this document matches "zebra".
    paragraphs = [" ".join(f"stripe{p}w{i}" for i in range(60)) + " zebra." for p in range(words // 60)]
    return "# Zebra handbook\n\n" + "\n\n".join(paragraphs) + "\n"


DOCS: dict[str, str] = {
    "docs/deploy.md": "# Deploying\n\nDeploy the kubernetes cluster with helm charts. Handbook topic.\n",
    "docs/billing.md": "# Billing\n\nInvoices and refunds are issued monthly by accounting. Handbook topic.",
    "docs/security.md": "# Security\n\nRotate credentials and audit firewall rules. Handbook topic.\n",
    "docs/html.md": "# Scripts\n\nBeware: <script>alert('pwned')</script> injection sample. Handbook topic.",
    "docs/zebra.md": long_doc(),
    "guides/onboarding.md": "# Onboarding\n\nWelcome new engineers to the laptop setup. Handbook topic.\n",
}


TITLES = {"docs/deploy.md": "Deploying", "docs/billing.md": "Billing", "docs/security.md": "Security"}


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return write(tmp_path / "repo", {"lightfast.yml": CONFIG.format(store="docs"), **DOCS})


@pytest.fixture
def ingested(services: Services, repo: Path) -> Services:
    result = services.ingest.ingest_path(repo)
    assert result.summary.documents_added == len(DOCS)
    return services


def run(services: Services, query: str, workspace: str | None = None, **kwargs: object) -> SearchResponse:
    request = SearchRequest(workspace_id=services.workspaces.workspace_id(workspace), query=query, **kwargs)  # type: ignore[arg-type]
    return services.search.search(request)


def paths(services: Services, query: str, **kwargs: object) -> list[str]:
    return [r.path for r in run(services, query, **kwargs).results]


def visible(snippet: str) -> str:
    return html.unescape(re.sub(r"</?mark>", "", snippet))


RELEVANT = [
    ("kubernetes helm charts", "docs/deploy.md"),
    ("invoices refunds accounting", "docs/billing.md"),
    ("rotate credentials firewall", "docs/security.md"),
]


@pytest.mark.parametrize("mode", ["balanced", "dense", "fast"])
def test_each_mode_ranks_the_relevant_document_first(ingested: Services, repo: Path, mode: str) -> None:
    for query, expected in RELEVANT:
        response = run(ingested, query, mode=mode)
        assert response.mode == mode
        top = response.results[0]
        assert top.path == expected, query
        assert top.title == TITLES[expected]
        assert top.source_type == "local"
        assert top.store == "docs"
        assert top.url == (repo / expected).resolve().as_uri()
        assert top.score > 0
        assert top.id.startswith(top.document_id)


def test_bm25_returns_only_documents_containing_a_term(ingested: Services) -> None:
    assert paths(ingested, "kubernetes", mode="fast") == ["docs/deploy.md"]
    assert paths(ingested, "nonexistentword", mode="fast") == []


def test_dense_mode_returns_every_document(ingested: Services) -> None:
    response = run(ingested, "kubernetes", mode="dense", limit=100)
    assert sorted(r.path for r in response.results) == sorted(DOCS)
    assert response.total == len(DOCS)


def test_store_filter(services: Services, tmp_path: Path) -> None:
    write(
        tmp_path / "one",
        {"lightfast.yml": CONFIG.format(store="alpha"), "a.md": "# Alpha\n\nshared gadget alpha text\n"},
    )
    write(
        tmp_path / "two",
        {"lightfast.yml": CONFIG.format(store="beta"), "b.md": "# Beta\n\nshared gadget beta text\n"},
    )
    assert services.ingest.ingest_path(tmp_path / "one").store == "alpha"
    assert services.ingest.ingest_path(tmp_path / "two").store == "beta"

    both = run(services, "shared gadget", mode="fast")
    assert sorted((r.store, r.path) for r in both.results) == [("alpha", "a.md"), ("beta", "b.md")]
    for mode in ("balanced", "dense", "fast"):
        only_alpha = run(services, "shared gadget", stores=("alpha",), mode=mode)
        assert [(r.store, r.path) for r in only_alpha.results] == [("alpha", "a.md")]
        only_beta = run(services, "shared gadget", stores=("beta",), mode=mode)
        assert [(r.store, r.path) for r in only_beta.results] == [("beta", "b.md")]
    two = run(services, "shared gadget", stores=("alpha", "beta"), mode="fast")
    assert len(two.results) == 2


def test_unknown_store_is_not_found(ingested: Services) -> None:
    with pytest.raises(NotFound) as info:
        run(ingested, "kubernetes", stores=("docs", "nope"))
    assert info.value.details["field"] == "stores"
    assert "'nope'" in info.value.message


@pytest.mark.parametrize("mode", ["balanced", "dense", "fast"])
def test_source_type_filter(ingested: Services, mode: str) -> None:
    assert paths(ingested, "kubernetes helm", source_types=("local",), mode=mode)[0] == "docs/deploy.md"
    assert paths(ingested, "kubernetes helm", source_types=("github",), mode=mode) == []
    response = run(ingested, "kubernetes helm", source_types=("github",), mode=mode)
    assert response.total == 0


@pytest.mark.parametrize("mode", ["balanced", "dense", "fast"])
def test_path_prefix_filter(ingested: Services, mode: str) -> None:
    found = paths(ingested, "handbook topic", path_prefix="guides/", mode=mode, limit=100)
    assert found == ["guides/onboarding.md"]
    found = paths(ingested, "handbook topic", path_prefix="docs/", mode=mode, limit=100)
    assert sorted(found) == sorted(p for p in DOCS if p.startswith("docs/"))
    assert paths(ingested, "handbook topic", path_prefix="nowhere/", mode=mode) == []


@pytest.mark.parametrize("mode", ["balanced", "dense", "fast"])
def test_path_prefix_wildcards_are_literal(services: Services, tmp_path: Path, mode: str) -> None:
    write(
        tmp_path / "wild",
        {
            "lightfast.yml": CONFIG.format(store="docs"),
            "100%/a.md": "# A\n\nwildcard marmot\n",
            "100x/b.md": "# B\n\nwildcard marmot\n",
            "a_b/c.md": "# C\n\nwildcard marmot\n",
            "aXb/d.md": "# D\n\nwildcard marmot\n",
        },
    )
    services.ingest.ingest_path(tmp_path / "wild")
    assert len(paths(services, "wildcard marmot", mode=mode)) == 4
    assert paths(services, "wildcard marmot", path_prefix="100%", mode=mode) == ["100%/a.md"]
    assert paths(services, "wildcard marmot", path_prefix="a_b", mode=mode) == ["a_b/c.md"]
    assert paths(services, "wildcard marmot", path_prefix="%", mode=mode) == []
    assert paths(services, "wildcard marmot", path_prefix="_", mode=mode) == []


@pytest.mark.parametrize("mode", ["balanced", "dense", "fast"])
def test_pagination_pages_do_not_overlap(ingested: Services, mode: str) -> None:
    whole = run(ingested, "handbook topic zebra", limit=6, mode=mode)
    assert len(whole.results) == 6
    pages = [run(ingested, "handbook topic zebra", limit=2, offset=o, mode=mode) for o in (0, 2, 4)]
    ids = [r.id for page in pages for r in page.results]
    assert all(len(page.results) == 2 for page in pages)
    assert len(set(ids)) == 6
    assert ids == [r.id for r in whole.results]
    assert [p.offset for p in pages] == [0, 2, 4]
    assert all(p.limit == 2 for p in pages)
    assert {p.total for p in pages} == {whole.total}
    beyond = run(ingested, "handbook topic zebra", limit=10, offset=whole.total, mode=mode)
    assert beyond.results == []


def test_one_result_per_document(ingested: Services) -> None:
    with ingested.sessions() as session:
        zebra_chunks = session.scalar(
            select(func.count())
            .select_from(VectorEntry)
            .join(Document)
            .where(Document.path == "docs/zebra.md")
        )
    assert zebra_chunks is not None
    assert zebra_chunks >= 3
    for mode in ("balanced", "dense", "fast"):
        response = run(ingested, "zebra", mode=mode, limit=100)
        found = [r.path for r in response.results]
        assert found.count("docs/zebra.md") == 1
        assert len(found) == len(set(found))
        assert len({r.document_id for r in response.results}) == len(found)
        assert response.total == len(found)
    assert paths(ingested, "zebra", mode="fast", limit=100) == ["docs/zebra.md"]


def test_snippet_marks_terms_and_fits_the_budget(ingested: Services) -> None:
    top = run(ingested, "zebra", mode="fast").results[0]
    assert top.path == "docs/zebra.md"
    assert top.snippet.startswith("# <mark>Zebra</mark> handbook stripe0w0 ")
    assert top.snippet.endswith("…")
    assert 250 <= len(visible(top.snippet)) <= 300
    deploy = run(ingested, "kubernetes helm").results[0]
    assert deploy.snippet == (
        "# Deploying Deploy the <mark>kubernetes</mark> cluster with "
        "<mark>helm</mark> charts. Handbook topic."
    )


def test_snippet_escapes_html_from_the_document(ingested: Services) -> None:
    top = run(ingested, "injection sample", mode="fast").results[0]
    assert top.path == "docs/html.md"
    assert "<script>" not in top.snippet
    assert "&lt;script&gt;" in top.snippet
    assert "<mark>injection</mark>" in top.snippet
    assert "<mark>sample</mark>" in top.snippet
    assert re.sub(r"</?mark>", "", top.snippet).count("<") == 0
    assert "<script>alert(" in visible(top.snippet)


def test_latency_and_request_ids(ingested: Services) -> None:
    responses = [run(ingested, "kubernetes", mode=mode) for mode in ("balanced", "dense", "fast", "balanced")]
    for response in responses:
        lat = response.latency
        for part in (lat.embedding, lat.retrieval, lat.fusion, lat.total):
            assert part >= 0
        assert lat.total >= max(lat.embedding, lat.retrieval, lat.fusion)
        assert response.request_id.startswith("req_")
    assert responses[2].latency.embedding == 0  # fast (BM25 only) embeds nothing
    ids = [r.request_id for r in responses]
    assert len(set(ids)) == len(ids)
    given = run(ingested, "kubernetes", request_id="req_given")
    assert given.request_id == "req_given"


INVALID: list[tuple[dict[str, object], str]] = [
    ({"query": ""}, "query"),
    ({"query": "   "}, "query"),
    ({"query": "x" * 1001}, "query"),
    ({"limit": 0}, "limit"),
    ({"limit": 101}, "limit"),
    ({"offset": -1}, "offset"),
    ({"offset": 1001}, "offset"),
    ({"mode": "fuzzy"}, "mode"),
]


def test_invalid_requests_name_the_field(ingested: Services) -> None:
    for kwargs, field in INVALID:
        values: dict[str, object] = {"query": "kubernetes", **kwargs}
        with pytest.raises(InvalidInput) as info:
            run(ingested, **values)  # type: ignore[arg-type]
        assert info.value.field == field, kwargs
        assert info.value.code == "invalid_input"


@pytest.mark.parametrize(
    "query", ["???", '"kubernetes" AND helm*', "NEAR(kubernetes) -helm", "it's: (a|b) & !c"]
)
def test_queries_with_operator_characters_do_not_break_the_indexes(ingested: Services, query: str) -> None:
    for mode in ("balanced", "dense", "fast"):
        response = run(ingested, query, mode=mode)
        assert len({r.document_id for r in response.results}) == len(response.results)
    if query.startswith('"kubernetes"'):
        assert paths(ingested, query, mode="fast")[0] == "docs/deploy.md"
    if query == "???":
        assert paths(ingested, query, mode="fast") == []
        assert len(paths(ingested, query, mode="dense")) == len(DOCS)


def test_limits_at_the_edges_are_accepted(ingested: Services) -> None:
    assert len(run(ingested, "handbook", limit=1).results) == 1
    assert len(run(ingested, "handbook", limit=100, mode="dense").results) == len(DOCS)
    assert run(ingested, "handbook", offset=1000).results == []


def test_workspaces_are_isolated(services: Services, tmp_path: Path) -> None:
    write(tmp_path / "ra", {"lightfast.yml": CONFIG.format(store="docs"), "a.md": "# A\n\nplatypus burrow\n"})
    write(tmp_path / "rb", {"lightfast.yml": CONFIG.format(store="docs"), "b.md": "# B\n\nwombat burrow\n"})
    assert services.ingest.ingest_path(tmp_path / "ra", "a").workspace == "a"
    assert services.ingest.ingest_path(tmp_path / "rb", "b").workspace == "b"
    for mode in ("balanced", "dense", "fast"):
        assert paths(services, "platypus", workspace="a", mode=mode) == ["a.md"]
        assert paths(services, "platypus burrow", workspace="b", mode=mode) == ["b.md"]
        assert "a.md" not in paths(services, "platypus", workspace="b", mode=mode, limit=100)
    assert paths(services, "platypus", workspace="b", mode="fast") == []
    with pytest.raises(NotFound):
        services.workspaces.workspace_id("c")


@pytest.mark.parametrize("mode", ["dense", "balanced", "fast"])
def test_search_after_reingest_sees_the_new_version(services: Services, repo: Path, mode: str) -> None:
    services.ingest.ingest_path(repo)
    assert paths(services, "kubernetes helm", mode=mode)[0] == "docs/deploy.md"
    before = run(services, "quokka marsupial", mode="dense", limit=100)  # warms the vector cache
    assert len(before.results) == len(DOCS)

    (repo / "docs/deploy.md").write_text("# Deploying\n\nShip the quokka marsupial with terraform.\n")
    write(repo, {"docs/new.md": "# New\n\naardvark anteater burrow\n"})
    summary = services.ingest.ingest_path(repo).summary
    assert (summary.documents_added, summary.documents_updated) == (1, 1)

    top = run(services, "quokka marsupial terraform", mode=mode).results[0]
    assert top.path == "docs/deploy.md"
    assert "<mark>quokka</mark>" in top.snippet
    assert "kubernetes" not in top.snippet
    assert paths(services, "aardvark anteater", mode=mode)[0] == "docs/new.md"
    assert len(run(services, "anything", mode="dense", limit=100).results) == len(DOCS) + 1
    if mode == "fast":
        assert paths(services, "kubernetes", mode=mode) == []


def test_bm25_weighs_rare_terms_over_common_ones(services: Services, tmp_path: Path) -> None:
    """Both lexical indexes rank by BM25: a match on a rare word beats repeats of a word every document
    has (PostgreSQL's ts_rank_cd, with no inverse document frequency, ranked these the other way)."""
    files: dict[str, str | bytes] = {
        f"docs/filler{i}.md": f"# Note {i}\n\nThe deployment system handles request {i}.\n" for i in range(12)
    }
    files["docs/repeats.md"] = "# Repeats\n\nsystem system system system system system of the deployment.\n"
    files["docs/rare.md"] = "# Rare\n\nThe zeppelin system.\n"
    services.ingest.ingest_path(write(tmp_path / "idf", files))
    workspace = services.workspaces.workspace_id()
    hits = services.search.search(SearchRequest(workspace, "system zeppelin", mode=SearchMode.FAST)).results
    assert hits[0].path == "docs/rare.md"
    assert {h.path for h in hits} >= {"docs/rare.md", "docs/repeats.md"}
