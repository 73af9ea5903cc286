"""The ``lightfast`` pytest plugin (``lightfast.testing.plugin``): its fixtures used directly here (the
entry point loads it into this suite too), and from an outside project run by ``pytester``, where nothing
but the installed entry point provides them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from lightfast.app.container import Services
from lightfast.app.engine import JobEngine
from lightfast.embed.fake import FakeEmbedder
from lightfast.sdk import Lightfast
from lightfast.settings import Settings
from lightfast.testing import FakeClock
from tests.conftest import write

pytest_plugins = ["pytester"]

CONFIG = "version: 1\nstore: docs\ninclude:\n  - '**/*.md'\n"
DOCS = {"lightfast.yml": CONFIG, "guide.md": "# Guide\n\nRotate the signing keys every quarter.\n"}


def test_settings_live_in_tmp_path_with_the_fake_embedder(
    lightfast_settings: Settings, tmp_path: Path
) -> None:
    assert lightfast_settings.home_dir.is_relative_to(tmp_path)
    assert lightfast_settings.resolved_database_url == f"sqlite:///{tmp_path / 'lightfast' / 'lightfast.db'}"
    assert lightfast_settings.embedding_provider == "fake"
    assert lightfast_settings.allow_anonymous is False


def test_services_use_the_fake_embedder_and_the_fake_clock(
    lightfast_services: Services, lightfast_clock: FakeClock
) -> None:
    assert isinstance(lightfast_services.embedder, FakeEmbedder)
    assert lightfast_services.clock is lightfast_clock
    before = lightfast_services.clock.now()
    lightfast_clock.advance(90)
    assert (lightfast_services.clock.now() - before).total_seconds() == 90


def test_client_sends_the_key_and_reaches_the_api(lightfast_client: TestClient) -> None:
    assert lightfast_client.get("/v1/stores").status_code == 200
    assert lightfast_client.get("/v1/stores", headers={"Authorization": ""}).status_code == 401


def test_sdk_searches_what_the_services_ingested(
    lightfast_services: Services, lightfast_sdk: Lightfast, tmp_path: Path
) -> None:
    result = lightfast_services.ingest.ingest_path(write(tmp_path / "repo", dict(DOCS)))
    assert result.status == "completed"
    hits = lightfast_sdk.search("signing keys", limit=3).data
    assert [hit.title for hit in hits] == ["Guide"]
    assert lightfast_sdk.jobs.get(result.job_id).status == "completed"


def test_worker_runs_queued_jobs(
    lightfast_services: Services, lightfast_worker: JobEngine, tmp_path: Path
) -> None:
    registered = lightfast_services.ingest.register_local(write(tmp_path / "repo", dict(DOCS)))
    queued = lightfast_services.jobs.enqueue_sync(registered.workspace_id, registered.connection_id)
    job = lightfast_services.jobs.wait(registered.workspace_id, queued.job_id, timeout=60)
    assert job.status == "completed"
    assert lightfast_worker.services is lightfast_services


# -- an outside project ------------------------------------------------------------------------------

OUTSIDE_CONFTEST = """
import pytest

@pytest.fixture
def lightfast_settings_overrides():
    return {"default_workspace": "team", "chunk_size": 64}
"""

OUTSIDE_TEST = """
def test_uses_the_plugin(lightfast_settings, lightfast_services, lightfast_client, lightfast_clock):
    assert lightfast_settings.default_workspace == "team"
    assert lightfast_settings.chunk_size == 64
    assert lightfast_services.clock is lightfast_clock
    workspaces = lightfast_client.get("/v1/workspaces").json()
    assert [w["name"] for w in workspaces["items"]] == ["team"]
"""


def run_outside(pytester: pytest.Pytester, *args: str) -> Any:
    pytester.makeconftest(OUTSIDE_CONFTEST)
    pytester.makepyfile(test_outside=OUTSIDE_TEST)
    pytester.makeini("[pytest]\nfilterwarnings = error\n")
    return pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider", *args)


def test_an_outside_project_gets_the_fixtures_from_the_entry_point(pytester: pytest.Pytester) -> None:
    result = run_outside(pytester)
    result.assert_outcomes(passed=1)


def test_the_plugin_can_be_turned_off(pytester: pytest.Pytester) -> None:
    result = run_outside(pytester, "-p", "no:lightfast")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*fixture 'lightfast_settings' not found*"])
