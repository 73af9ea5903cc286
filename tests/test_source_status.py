"""A source tells what is happening to it (seeds 000 and 002): ``configStatus`` reads ``ingesting``
while a sync of it runs, and ``lastError`` keeps the last sync's failure until a clean sync clears it
(issue 10, item 21)."""

from __future__ import annotations

from typing import Any

import pytest

from lightfast.app.sync import run_sync
from lightfast.db import jobs as jobs_repo
from lightfast.errors import ConfigError
from tests import test_api
from tests.test_api import Api

# The API fixtures of test_api.py: workspace "a" with one local source already synced, and a key.
make_api = test_api.make_api
api = test_api.api


def _source(api: Api) -> dict[str, Any]:
    [item] = api.get("/v1/sources")["items"]
    return dict(item)


def test_a_source_reads_ingesting_while_its_sync_runs(api: Api) -> None:
    source = _source(api)
    assert source["configStatus"] == "configured"
    job_id = api.post(f"/v1/sources/{source['id']}/sync", {}, 202)["id"]
    assert _source(api)["configStatus"] == "configured"  # queued: nothing runs yet
    with api.services.sessions.begin() as session:
        jobs_repo.start_job(session, job_id)
    assert _source(api)["configStatus"] == "ingesting"
    run_sync(api.services.runner.steps(job_id))
    assert _source(api)["configStatus"] == "configured"


def test_last_error_keeps_the_last_failure_until_a_clean_sync(api: Api) -> None:
    source = _source(api)
    assert source["lastError"] is None
    (api.repo / "docs" / "broken.md").write_bytes(b"\xff\xfe not utf-8")
    job_id = api.post(f"/v1/sources/{source['id']}/sync", {}, 202)["id"]
    run_sync(api.services.runner.steps(job_id))
    error = _source(api)["lastError"]
    assert error is not None
    assert "1 document(s) could not be indexed" in error
    assert "docs/broken.md" in error

    (api.repo / "docs" / "broken.md").unlink()
    job_id = api.post(f"/v1/sources/{source['id']}/sync", {}, 202)["id"]
    run_sync(api.services.runner.steps(job_id))
    assert _source(api)["lastError"] is None

    (api.repo / "lightfast.yml").write_text("version: 1\nstore: docs\ninclude: [\n")  # unparsable
    job_id = api.post(f"/v1/sources/{source['id']}/sync", {}, 202)["id"]
    with pytest.raises(ConfigError):  # the sync fails; what matters is what the source says
        run_sync(api.services.runner.steps(job_id))
    assert _source(api)["lastError"]
    assert _source(api)["configStatus"] == "error"
