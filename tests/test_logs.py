"""JSON logs (LIGHTFAST_LOG_FORMAT=json): one object a line, with the request id of the API request
and the job id of the job being run."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st

from lightfast.api.app import create_app
from lightfast.app import logs
from lightfast.app.container import Services, build_services
from lightfast.db.engine import make_engine
from lightfast.settings import Settings
from tests.conftest import make_settings


@pytest.fixture
def json_logs(tmp_path: Path) -> Iterator[tuple[io.StringIO, Settings]]:
    settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'lf.db'}", log_format="json")
    stream = io.StringIO()
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    handler = logs.configure_logging(settings, stream)
    try:
        yield stream, settings
    finally:
        root.removeHandler(handler)
        for old in saved[0]:
            root.addHandler(old)
        root.setLevel(saved[1])


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_api_request_lines_carry_the_request_id(json_logs: tuple[io.StringIO, Settings]) -> None:
    stream, settings = json_logs
    services: Services = build_services(settings, engine=make_engine(settings.resolved_database_url))
    try:
        services.workspaces.ensure_workspace_id()
        app = create_app(services)

        @app.get("/v1/_log_probe", include_in_schema=False)
        def probe() -> dict[str, str]:
            logging.getLogger("lightfast.probe").info("probing", extra={"detail": {"n": 1}})
            return {}

        response = TestClient(app).get("/v1/_log_probe", headers={"x-request-id": "req_abc123"})
        assert response.headers["x-request-id"] == "req_abc123"
    finally:
        services.close()
    (line,) = [entry for entry in lines(stream) if entry["logger"] == "lightfast.probe"]
    assert line["requestId"] == "req_abc123"
    assert line["message"] == "probing"
    assert line["level"] == "info"
    assert line["detail"] == {"n": 1}
    assert str(line["time"]).endswith("+00:00")


def test_job_id_is_on_lines_logged_while_a_job_runs(json_logs: tuple[io.StringIO, Settings]) -> None:
    stream, _ = json_logs
    token = logs.job_id_var.set(None)
    try:
        logs.bind_job("job_42")
        logging.getLogger("lightfast.sync").warning("slow document")
    finally:
        logs.job_id_var.reset(token)
    (line,) = lines(stream)
    assert line["jobId"] == "job_42"
    assert "requestId" not in line


def test_exceptions_stay_on_one_line(json_logs: tuple[io.StringIO, Settings]) -> None:
    stream, _ = json_logs
    try:
        raise ValueError("boom\nsecond line")
    except ValueError:
        logging.getLogger("lightfast.x").exception("failed")
    (line,) = lines(stream)
    assert "ValueError: boom" in str(line["exception"])
    assert stream.getvalue().count("\n") == 1


@given(st.text(max_size=200), st.text(max_size=40))
def test_any_message_is_one_json_line(message: str, extra_value: str) -> None:
    record = logging.LogRecord("lightfast.t", logging.INFO, __file__, 1, message, None, None)
    record.custom = extra_value
    record.opaque = object()
    text = logs.JsonFormatter().format(record)
    assert "\n" not in text
    parsed = json.loads(text)
    assert parsed["message"] == message
    assert parsed["custom"] == extra_value
    assert parsed["opaque"].startswith("<object")


def test_text_format_is_the_default(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'lf.db'}")
    assert settings.log_format == "text"
    assert logs.uvicorn_options(settings) == {}
    assert logs.uvicorn_options(settings.model_copy(update={"log_format": "json"})) == {"log_config": None}
