"""Each store embeds with its own model (issue 15, part B): ``lightfast.yml`` may name it, the worker and
the search path both take it from the store's row through the embedder pool, so a store and its queries
cannot be on different models, and stores of different models are searched together."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from lightfast.app.container import Services
from lightfast.app.search import SearchMode, SearchRequest
from lightfast.db.models import Store, VectorEntry
from lightfast.embed.fake import FAKE_SPEC, fake_spec
from lightfast.errors import ConfigError
from lightfast.ingest.config import EmbeddingConfig, parse_config
from tests.conftest import write

CONFIG = "version: 1\nstore: {store}\ninclude: ['**/*.md']\n"
EMBEDDING = "embedding:\n  provider: fake\n  model: fake-hash-256\n  dimensions: 256\n"


def ingest(services: Services, root: Path, store: str, files: dict[str, str], embedding: str = "") -> None:
    write(root, {"lightfast.yml": CONFIG.format(store=store) + embedding, **files})
    services.ingest.ingest_path(root)


def stores(services: Services) -> dict[str, tuple[str, int]]:
    with services.sessions() as session:
        return {s.name: (s.embedding_model, s.embedding_dim) for s in session.scalars(select(Store))}


def search(services: Services, query: str, *names: str) -> list[str]:
    request = SearchRequest(
        services.workspaces.workspace_id(None), query, stores=names, mode=SearchMode.BALANCED
    )
    return [r.path for r in services.search.search(request).results]


def test_lightfast_yml_names_the_new_stores_model_and_queries_use_it(
    services: Services, tmp_path: Path
) -> None:
    ingest(services, tmp_path / "a", "small", {"z.md": "# Zebra\n\nzebra stripes savanna\n"}, EMBEDDING)
    ingest(services, tmp_path / "b", "wide", {"k.md": "# Kernel\n\nkernel scheduler threads\n"})
    assert stores(services) == {"small": ("fake-hash-256", 256), "wide": (FAKE_SPEC.name, 384)}
    with services.sessions() as session:
        dims = {len(e.embedding) for e in session.scalars(select(VectorEntry))}
    assert dims == {256, 384}
    # Each store answers from its own model; both at once merge the two models' nearest chunks.
    assert search(services, "zebra savanna", "small") == ["z.md"]
    assert search(services, "kernel threads", "wide") == ["k.md"]
    assert search(services, "zebra savanna")[0] == "z.md"
    assert search(services, "kernel threads")[0] == "k.md"


def test_a_worker_whose_default_is_another_model_keeps_the_stores(services: Services, tmp_path: Path) -> None:
    ingest(services, tmp_path / "a", "small", {"z.md": "# Zebra\n\nzebra\n"}, EMBEDDING)
    # lightfast.yml changed to another model later: the store keeps its own, and the job says how to switch.
    root = tmp_path / "a"
    (root / "lightfast.yml").write_text(CONFIG.format(store="small") + EMBEDDING.replace("256", "128"))
    (root / "y.md").write_text("# Yak\n\nyak\n")
    result = services.ingest.ingest_path(root)
    assert stores(services)["small"] == ("fake-hash-256", 256)
    assert any("lightfast stores embedding small" in w for w in result.summary.warnings)


def test_a_model_no_provider_serves_fails_naming_it(services: Services, tmp_path: Path) -> None:
    bad = EMBEDDING.replace("fake-hash-256", "fake-hash-999").replace("256", "999")
    with pytest.raises(Exception, match="fake-hash-999"):
        ingest(services, tmp_path / "a", "small", {"z.md": "# Z\n\nz\n"}, bad)


@pytest.mark.parametrize(
    ("embedding", "field"),
    [
        ("embedding: fake\n", "embedding"),
        ("embedding:\n  model: m\n", "embedding.provider"),
        ("embedding:\n  provider: fake\n", "embedding.model"),
        ("embedding:\n  provider: Fake!\n  model: m\n", "embedding.provider"),
        ("embedding:\n  provider: fake\n  model: m\n  dimensions: 0\n", "embedding.dimensions"),
        ("embedding:\n  provider: fake\n  model: m\n  dimensions: '256'\n", "embedding.dimensions"),
        ("embedding:\n  provider: fake\n  model: m\n  extra: 1\n", "embedding"),
        ("embedding:\n  provider: fake\n  model: '" + "m" * 300 + "'\n", "embedding.model"),
    ],
)
def test_a_bad_embedding_key_is_refused_naming_it(embedding: str, field: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(CONFIG.format(store="docs") + embedding)
    assert any(p.field == field for p in caught.value.problems), caught.value.problems


def test_embedding_is_read_with_its_dimensions() -> None:
    config = parse_config(CONFIG.format(store="docs") + EMBEDDING)
    assert config.embedding == EmbeddingConfig("fake", "fake-hash-256", 256)
    assert parse_config(CONFIG.format(store="docs")).embedding is None


@given(st.text(max_size=40))
def test_fake_spec_names_only_its_sizes(model: str) -> None:
    spec = fake_spec(model)
    if spec is not None:
        assert spec.name == model
        assert model == f"fake-hash-{spec.dimension}"


def test_the_console_shows_the_estimate_before_a_confirm_button_that_starts_the_switch(
    tmp_path: Path,
) -> None:
    import re

    from fastapi.testclient import TestClient

    from lightfast.api.app import create_app
    from lightfast.app.container import build_services
    from lightfast.db.engine import make_engine
    from tests.conftest import make_settings

    settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'lf.db'}", host="127.0.0.1")
    services = build_services(settings, engine=make_engine(settings.resolved_database_url))
    try:
        ingest(services, tmp_path / "repo", "docs", {"a.md": "# A\n\nalpha words\n", "b.md": "# B\n\nbeta\n"})
        with TestClient(create_app(services), follow_redirects=False) as client:
            page = client.get("/stores/docs/embedding")
            assert page.status_code == 200, page.text
            assert "fake/fake-hash-384" in page.text
            assert '<label for="embedding-model">' in page.text
            found = re.search(r'name="csrf-token" content="([^"]+)"', client.get("/").text)
            assert found
            token = found.group(1)
            form = {"provider": "fake", "model": "fake-hash-256", "dimensions": "", "csrf_token": token}
            assert client.post("/stores/docs/embedding", data={**form, "csrf_token": "x"}).status_code == 403
            estimate = client.post("/stores/docs/embedding", data=form)
            assert estimate.status_code == 200, estimate.text
            assert "chunks: 2 (2 distinct texts to embed)" in estimate.text
            assert 'id="confirm-switch"' in estimate.text
            assert stores(services)["docs"][1] == 384  # an estimate starts nothing
            bad = client.post("/stores/docs/embedding", data={**form, "model": "m" * 400})
            assert bad.status_code == 400
            assert "model is too long" in bad.text
            started = client.post("/stores/docs/embedding", data={**form, "confirm": "yes"})
            assert started.status_code == 303
            job_id = started.headers["location"].removeprefix("/jobs/")
            assert services.embedding_switches.run_inline(job_id) == "completed"
            assert stores(services)["docs"][1] == 256
            history = client.get("/stores/docs/embedding").text
            assert "fake/fake-hash-256 (256)" in history
            assert "active" in history
            assert client.get("/stores/nope/embedding").status_code == 404
    finally:
        services.close()
