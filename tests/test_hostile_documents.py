"""A hostile document costs only itself: a YAML bomb in front matter is refused within its limits and
recorded as that document's failure while the rest of the run is indexed (issue 10, item 2)."""

from __future__ import annotations

from pathlib import Path

from lightfast.app.container import Services
from tests.conftest import write

# Nine levels of aliases, each doubling nine times: about 387 million strings when expanded.
BOMB = (
    "---\na: &a [x,x,x,x,x,x,x,x,x]\n"
    + "".join(f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]\n" for i in range(8))
    + "title: boom\n---\n# Bomb\n\ntext\n"
)


def test_a_front_matter_bomb_is_a_failure_of_its_document_only(services: Services, tmp_path: Path) -> None:
    assert len(BOMB) < 600
    repo = write(tmp_path / "repo", {"good.md": "# Good\n\nfine text\n", "bomb.md": BOMB})
    result = services.ingest.ingest_path(repo)
    assert result.status == "completed_with_errors"
    assert result.summary.documents_added == 1
    failures = {f.path: f for f in result.summary.failures}
    assert set(failures) == {"bomb.md"}
    assert failures["bomb.md"].reason == "front_matter_too_large"
    assert "alias" in failures["bomb.md"].message.lower()
