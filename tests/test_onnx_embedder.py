"""The ONNX Runtime embedder (``embedding_runtime = "onnx"``): torch's vectors, an export made once per
model version in the data directory, atomically, and made again when the file is unusable."""

from __future__ import annotations

import os
import re
import shutil
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lightfast.embed import onnx_local
from lightfast.embed.cache import QueryCache
from lightfast.embed.local import MINILM_SPEC, LocalEmbedder
from lightfast.embed.onnx_local import OnnxLocalEmbedder, export_file_name
from lightfast.embed.registry import make_embedder
from lightfast.errors import EmbeddingError, SettingsError
from lightfast.settings import Settings

CORPUS = [
    "How do I reset my password?",
    "Rotate the signing key of the GitHub App before it expires.",
    "  leading and trailing whitespace  \n",
    "",
    "Ein kurzer deutscher Satz über Datenbanken; 日本語のテキスト.",
    "def embed_query(self, text: str) -> np.ndarray: ...",
    " ".join(["a long chunk of words that goes past the model's input window"] * 40),
]


# --- the file name (pure) ---------------------------------------------------------------------------

SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*\.export[0-9]+\.onnx$")


@given(model=st.text(max_size=300), version=st.text(max_size=300), export_format=st.integers(0, 10**6))
def test_export_file_name_is_a_plain_bounded_file_name(model: str, version: str, export_format: int) -> None:
    name = export_file_name(model, version, export_format)
    assert SAFE_NAME.match(name), name
    assert "/" not in name
    assert "\\" not in name
    assert len(name) <= 200


@given(first=st.tuples(st.text(), st.text()), second=st.tuples(st.text(), st.text()))
def test_export_file_name_tells_models_and_versions_apart(
    first: tuple[str, str], second: tuple[str, str]
) -> None:
    assert (export_file_name(*first) == export_file_name(*second)) == (first == second)


def test_export_file_name_changes_with_the_export_format() -> None:
    assert export_file_name("m", "1.0", 1) != export_file_name("m", "1.0", 2)
    assert export_file_name("all-MiniLM-L6-v2", "0.1.0").startswith("all-MiniLM-L6-v2-0.1.0-")


# --- construction (no model loaded) -----------------------------------------------------------------


def test_the_setting_chooses_the_onnx_embedder_with_its_models_in_the_data_directory(tmp_path: Path) -> None:
    embedder = make_embedder(Settings(home=tmp_path, embedding_runtime="onnx"))
    assert isinstance(embedder, OnnxLocalEmbedder)
    assert embedder.models_dir == tmp_path / "models"
    assert embedder.spec == MINILM_SPEC  # the same model: stores embedded by torch stay searchable
    assert not (tmp_path / "models").exists()  # exported on first use, not when a command starts
    assert isinstance(make_embedder(Settings(home=tmp_path)), OnnxLocalEmbedder)  # the default
    assert isinstance(make_embedder(Settings(home=tmp_path, embedding_runtime="torch")), LocalEmbedder)


def test_the_setting_refuses_an_unknown_runtime(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="embedding_runtime"):
        Settings(home=tmp_path, embedding_runtime="tensorflow")  # type: ignore[arg-type]


def test_a_missing_onnxruntime_is_refused_naming_the_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "onnxruntime" else real(name, *a)
    )
    with pytest.raises(SettingsError, match="onnxruntime"):
        OnnxLocalEmbedder(models_dir=tmp_path)


def test_the_embedder_needs_exactly_one_place_for_its_model(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="exactly one"):
        OnnxLocalEmbedder()
    with pytest.raises(ValueError, match="exactly one"):
        OnnxLocalEmbedder(models_dir=tmp_path, model_path=tmp_path / "m.onnx")


# --- the real model ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def torch_embedder() -> LocalEmbedder:
    return LocalEmbedder(MINILM_SPEC, batch_size=4, threads=2, query_cache=QueryCache(0))


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="module")
def onnx_embedder(models_dir: Path) -> OnnxLocalEmbedder:
    return OnnxLocalEmbedder(
        MINILM_SPEC, batch_size=4, threads=2, models_dir=models_dir, query_cache=QueryCache(0)
    )


def only_the_model(directory: Path) -> list[str]:
    return sorted(path.name for path in directory.iterdir())


@pytest.mark.slow
def test_vectors_equal_torchs(torch_embedder: LocalEmbedder, onnx_embedder: OnnxLocalEmbedder) -> None:
    expected = torch_embedder.embed(CORPUS)
    documents = onnx_embedder.embed(CORPUS)
    queries = np.stack([onnx_embedder.embed_query(text) for text in CORPUS])
    assert documents.dtype == np.float32
    assert documents.shape == (len(CORPUS), MINILM_SPEC.dimension)
    assert float(np.abs(documents - expected).max()) < 1e-4
    assert float(np.abs(queries - expected).max()) < 1e-4
    assert np.allclose(np.linalg.norm(documents, axis=1), 1.0, atol=1e-5)


@pytest.mark.slow
def test_each_purpose_runs_on_its_own_session(onnx_embedder: OnnxLocalEmbedder) -> None:
    onnx_embedder.embed(CORPUS[:2])
    onnx_embedder.embed_query("a query")
    # ONNX Runtime fixes a session's threads when it is made: one session per thread count.
    assert sorted(onnx_embedder._sessions) == [1, 2]


@pytest.mark.slow
def test_a_query_completes_while_another_thread_embeds_documents(onnx_embedder: OnnxLocalEmbedder) -> None:
    stop = threading.Event()

    def ingest() -> None:
        while not stop.is_set():
            onnx_embedder.embed(CORPUS)

    worker = threading.Thread(target=ingest)
    worker.start()
    try:
        vector = onnx_embedder.embed_query("while ingesting")
    finally:
        stop.set()
        worker.join()
    assert vector.shape == (MINILM_SPEC.dimension,)


@pytest.mark.slow
def test_the_export_is_reused(
    onnx_embedder: OnnxLocalEmbedder, models_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = onnx_embedder.model_path
    assert path.parent == models_dir
    assert path.name == export_file_name(MINILM_SPEC.name, onnx_local.model_package_version())
    assert only_the_model(models_dir) == [path.name]  # no temporary file left behind
    before = path.stat()

    def no_export(*args: object, **kwargs: object) -> Path:
        raise AssertionError("exported again although a usable export exists")

    monkeypatch.setattr(onnx_local, "export_model", no_export)
    again = OnnxLocalEmbedder(models_dir=models_dir, query_cache=QueryCache(0))
    assert again.embed(["reused"]).shape == (1, MINILM_SPEC.dimension)
    assert again.model_path == path
    assert (path.stat().st_ino, path.stat().st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


@pytest.mark.slow
def test_a_new_model_package_version_exports_its_own_file(
    onnx_embedder: OnnxLocalEmbedder, models_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Exported (or found) under the real version first: run alone, the fixture would otherwise load
    # lazily under the patched version below and find no file.
    current = onnx_embedder.model_path
    exported: list[Path] = []
    monkeypatch.setattr(onnx_local, "model_package_version", lambda: "9.9.9")
    monkeypatch.setattr(onnx_local, "export_model", lambda target, spec: exported.append(target) or target)
    expected = models_dir / export_file_name(MINILM_SPEC.name, "9.9.9")
    stale, recent = (models_dir / f".{expected.name}.{tag}.tmp" for tag in ("killed", "exporting"))
    stale.write_bytes(b"half a model")
    recent.write_bytes(b"another process, still exporting")
    os.utime(stale, (time.time() - 2 * onnx_local.STALE_EXPORT_SECONDS,) * 2)
    assert onnx_local.ensure_exported(models_dir) == expected
    assert not stale.exists()
    assert recent.exists()
    recent.unlink()
    assert exported == [expected]
    assert current != expected
    assert current.exists()  # the current version's file is left alone


@pytest.mark.slow
@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty"])
def test_a_corrupt_export_is_exported_again(
    torch_embedder: LocalEmbedder, onnx_embedder: OnnxLocalEmbedder, tmp_path: Path, damage: str
) -> None:
    source = onnx_embedder.model_path
    directory = tmp_path / "models"
    directory.mkdir()
    target = directory / source.name
    content = source.read_bytes()
    target.write_bytes(
        {"truncated": content[: len(content) // 2], "garbage": b"not a model" * 100, "empty": b""}[damage]
    )
    embedder = OnnxLocalEmbedder(models_dir=directory, query_cache=QueryCache(0))
    vectors = embedder.embed(CORPUS[:3])
    assert float(np.abs(vectors - torch_embedder.embed(CORPUS[:3])).max()) < 1e-4
    assert target.stat().st_size == len(content)
    assert only_the_model(directory) == [target.name]


@pytest.mark.slow
def test_an_export_that_differs_from_torch_is_never_put_in_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(onnx_local, "EXPORT_TOLERANCE", -1.0)  # no export can pass
    target = tmp_path / "models" / "model.onnx"
    with pytest.raises(EmbeddingError, match="differs from torch"):
        onnx_local.export_model(target)
    assert list(target.parent.iterdir()) == []  # neither the model nor its temporary file


@pytest.mark.slow
def test_a_store_ingests_and_answers_with_the_onnx_runtime(
    onnx_embedder: OnnxLocalEmbedder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lightfast.app.container import build_services
    from lightfast.app.search import SearchMode, SearchRequest

    settings = Settings(home=tmp_path / "home", embedding_runtime="onnx", default_workspace="demo")
    # The export a previous start made is found in the data directory and used as it is.
    (settings.home_dir / "models").mkdir(parents=True)
    shutil.copy(onnx_embedder.model_path, settings.home_dir / "models" / onnx_embedder.model_path.name)
    monkeypatch.setattr(onnx_local, "export_model", lambda *args: pytest.fail("exported again"))
    repo = tmp_path / "repo"
    (repo / "docs").mkdir(parents=True)
    (repo / "lightfast.yml").write_text("version: 1\nstore: docs\ninclude: ['docs/*.md']\n")
    (repo / "docs" / "keys.md").write_text("# Signing keys\n\nRotate the GitHub App's signing key yearly.\n")
    (repo / "docs" / "cake.md").write_text("# Baking\n\nA sponge cake needs eggs, flour and sugar.\n")
    services = build_services(settings)
    try:
        assert isinstance(services.embedder, OnnxLocalEmbedder)
        assert services.ingest.ingest_path(repo, "demo").summary.chunks_embedded == 2
        response = services.search.search(
            SearchRequest(
                workspace_id=services.workspaces.workspace_id("demo"),
                query="how often should the app's key be rotated",
                mode=SearchMode.DENSE,
            )
        )
    finally:
        services.close()
    assert [Path(result.path).name for result in response.results] == ["keys.md", "cake.md"]
