"""The document pipeline end to end on SQLite and PostgreSQL, with the fake embedder."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from lightfast.app.container import Services
from lightfast.app.search import SearchRequest
from lightfast.db.models import Document, DocumentFailure, Job, Metric, VectorEntry
from lightfast.embed.fake import FakeEmbedder
from lightfast.errors import ConfigError
from tests.conftest import write


def paragraph(topic: str, n: int, words: int = 60) -> str:
    return " ".join(f"{topic}{n}w{i}" for i in range(words)) + "."


def long_doc(topic: str, paragraphs: int = 10) -> str:
    return f"# {topic.title()} guide\n\n" + "\n\n".join(paragraph(topic, n) for n in range(paragraphs)) + "\n"


def counts(services: Services) -> tuple[int, int]:
    with services.sessions() as session:
        documents = session.scalar(select(func.count()).select_from(Document)) or 0
        chunks = session.scalar(select(func.count()).select_from(VectorEntry)) or 0
    return documents, chunks


def lexical_rows(services: Services, word: str) -> int:
    """Rows the lexical index returns for ``word``, straight from the database's own index."""
    with services.sessions() as session:
        if services.engine.dialect.name == "sqlite":
            sql = "SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH :w"
        else:
            sql = "SELECT count(*) FROM vector_entries WHERE tsv @@ plainto_tsquery('english', :w)"
        return int(session.execute(text(sql), {"w": word}).scalar_one())


def search_paths(services: Services, query: str, **kwargs: object) -> list[str]:
    response = services.search.search(
        SearchRequest(workspace_id=services.workspaces.workspace_id(), query=query, **kwargs)  # type: ignore[arg-type]
    )
    return [r.path for r in response.results]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return write(
        tmp_path / "repo",
        {
            "lightfast.yml": "version: 1\nstore: docs\ninclude:\n  - docs/**/*.md\n  - README.md\n",
            "README.md": "# Widget\n\nWidget indexes things quickly.\n",
            "docs/install.md": "---\ntitle: Installing\n---\n\nInstall the widget with pip install widget.\n",
            "docs/guide.md": long_doc("alpha"),
            "notes/ignored.md": "# Ignored\n\nnot included\n",
        },
    )


def test_first_ingest_indexes_every_matching_file(services: Services, repo: Path) -> None:
    result = services.ingest.ingest_path(repo)
    summary = result.summary
    assert result.status == "completed"
    assert summary.documents_added == 3
    assert summary.documents_failed == 0
    documents, chunks = counts(services)
    assert documents == 3
    assert chunks == summary.chunks_embedded > 3  # the long guide needs several chunks
    with services.sessions() as session:
        titles = set(session.scalars(select(Document.title)))
        assert titles == {"Widget", "Installing", "Alpha guide"}
        job = session.get(Job, result.job_id)
        assert job is not None
        assert job.status == "completed"
        assert job.progress_processed == job.progress_total == 3
        assert job.duration_ms is not None
        assert job.output is not None
        assert job.output["documents_added"] == 3
        metric_types = set(session.scalars(select(Metric.type)))
        assert {"job_duration", "documents_indexed"} <= metric_types
    assert search_paths(services, "pip install widget")[0] == "docs/install.md"


def test_second_ingest_of_unchanged_files_embeds_nothing(services: Services, repo: Path) -> None:
    services.ingest.ingest_path(repo)
    embedder = services.embedder
    assert isinstance(embedder, FakeEmbedder)
    before = embedder.texts_embedded
    summary = services.ingest.ingest_path(repo).summary
    assert summary.chunks_embedded == 0
    assert summary.documents_unchanged == 3
    assert summary.documents_added == summary.documents_updated == 0
    assert embedder.texts_embedded == before


def test_edited_paragraph_reembeds_only_its_chunks(services: Services, repo: Path) -> None:
    first = services.ingest.ingest_path(repo).summary
    _, chunks_before = counts(services)
    guide = repo / "docs/guide.md"
    text = guide.read_text()
    guide.write_text(text.replace(paragraph("alpha", 9), paragraph("omega", 9)))

    summary = services.ingest.ingest_path(repo).summary
    assert summary.documents_updated == 1
    assert summary.documents_unchanged == 2
    assert 1 <= summary.chunks_embedded <= 2  # the edited chunk, and the next one if it shared overlap
    assert summary.chunks_reused >= first.chunks_embedded - 2 - 2  # everything else of the guide
    assert summary.chunks_embedded + summary.chunks_reused == counts(services)[1] - 2
    assert counts(services)[1] == chunks_before
    assert lexical_rows(services, "omega9w3") == 1
    assert lexical_rows(services, "alpha9w3") == 0


def test_deleted_file_loses_its_rows_vectors_and_lexical_postings(services: Services, repo: Path) -> None:
    services.ingest.ingest_path(repo)
    assert search_paths(services, "pip install widget")[0] == "docs/install.md"
    (repo / "docs/install.md").unlink()
    summary = services.ingest.ingest_path(repo).summary
    assert summary.documents_deleted == 1
    assert summary.chunks_deleted == 1
    assert counts(services)[0] == 2
    assert lexical_rows(services, "pip") == 0
    assert "docs/install.md" not in search_paths(services, "pip install widget")
    assert "docs/install.md" not in search_paths(services, "pip install widget", mode="dense")


def test_files_no_longer_included_are_removed(services: Services, repo: Path) -> None:
    services.ingest.ingest_path(repo)
    (repo / "lightfast.yml").write_text(
        "version: 1\nstore: docs\ninclude:\n  - docs/**/*.md\n  - README.md\nexclude:\n  - docs/guide.md\n"
    )
    summary = services.ingest.ingest_path(repo).summary
    assert summary.documents_deleted == 1
    assert summary.chunks_deleted > 1
    with services.sessions() as session:
        assert set(session.scalars(select(Document.path))) == {"README.md", "docs/install.md"}
    assert lexical_rows(services, "alpha3w1") == 0


def test_shorter_document_loses_its_vanished_chunks(services: Services, repo: Path) -> None:
    services.ingest.ingest_path(repo)
    guide = repo / "docs/guide.md"
    _, before = counts(services)
    guide.write_text(long_doc("alpha", paragraphs=2))
    summary = services.ingest.ingest_path(repo).summary
    _, after = counts(services)
    assert after < before
    assert summary.chunks_deleted >= before - after
    with services.sessions() as session:
        indexes = list(
            session.scalars(
                select(VectorEntry.chunk_index)
                .join(Document)
                .where(Document.path == "docs/guide.md")
                .order_by(VectorEntry.chunk_index)
            )
        )
    assert indexes == list(range(len(indexes)))
    assert lexical_rows(services, "alpha8w1") == 0


def test_bad_files_are_recorded_and_skipped(services: Services, tmp_path: Path) -> None:
    repo = write(
        tmp_path / "bad",
        {
            "good.md": "# Good\n\nfine text\n",
            "binary.md": b"PNG\x00\x01\x02",
            "latin1.md": "caf\xe9".encode("latin-1"),
            "big.md": "x" * 2048,
        },
    )
    services.pipeline.max_file_bytes = 1024
    result = services.ingest.ingest_path(repo)
    assert result.status == "completed_with_errors"
    summary = result.summary
    assert summary.documents_added == 1
    assert summary.documents_failed == 3
    reasons = {f.path: f.reason for f in summary.failures}
    assert reasons == {"binary.md": "binary", "latin1.md": "invalid_utf8", "big.md": "too_large"}
    with services.sessions() as session:
        rows = session.scalars(select(DocumentFailure).where(DocumentFailure.job_id == result.job_id)).all()
        assert {r.path: r.reason for r in rows} == reasons
        assert all(r.message for r in rows)
        job = session.get(Job, result.job_id)
        assert job is not None
        assert job.status == "completed_with_errors"
        errors = session.scalars(select(Metric.value).where(Metric.type == "errors")).all()
        assert errors == [3]


def test_a_file_that_turns_bad_keeps_its_last_good_version(services: Services, repo: Path) -> None:
    services.ingest.ingest_path(repo)
    (repo / "docs/install.md").write_bytes(b"\xff\xfe broken")
    result = services.ingest.ingest_path(repo)
    assert result.summary.documents_failed == 1
    assert search_paths(services, "pip install widget")[0] == "docs/install.md"


def test_changed_chunking_config_reembeds_the_store(services: Services, repo: Path) -> None:
    services.ingest.ingest_path(repo)
    _, chunks = counts(services)
    # Asked for by the process that queues the job (its settings), not decided by the one that runs it.
    services.ingest.settings = services.settings.model_copy(update={"chunk_size": 100, "chunk_overlap": 10})
    summary = services.ingest.ingest_path(repo).summary
    assert summary.documents_updated == 3
    assert summary.chunks_reused == 0
    assert counts(services)[1] > chunks
    [warning] = summary.warnings
    assert "chunks of 100 tokens overlapping by 10" in warning


def test_malformed_config_is_refused_with_line_and_reason(services: Services, tmp_path: Path) -> None:
    repo = write(tmp_path / "r", {"lightfast.yml": "version: 1\nstore: Docs!\ninclude: [a.md\n"})
    with pytest.raises(ConfigError) as info:
        services.ingest.ingest_path(repo)
    assert "line" in str(info.value)


def test_unconfigured_directory_uses_default_globs(services: Services, tmp_path: Path) -> None:
    repo = write(
        tmp_path / "plain",
        {"README.md": "# Hi\n\nhello\n", "src/a.py": "print(1)\n", "docs/x.mdx": "# X\n\nmdx text\n"},
    )
    result = services.ingest.ingest_path(repo)
    assert result.config.is_default
    with services.sessions() as session:
        assert set(session.scalars(select(Document.path))) == {"README.md", "docs/x.mdx"}
