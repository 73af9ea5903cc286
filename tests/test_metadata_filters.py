"""Search filtered by source metadata (issue 13, seed 004's query patterns): the pure filter (bounds,
``--where`` parsing, the reference semantics) and both indexes against that reference, on SQLite and
PostgreSQL, through Linear issues delivered by signed webhooks; hostile filters refused 400 naming the
field."""

from __future__ import annotations

import copy
import itertools
import json
import math
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from lightfast.api.app import create_app
from lightfast.app.container import Services, build_services
from lightfast.app.search import SearchMode, SearchRequest
from lightfast.db.engine import make_engine
from lightfast.db.models import Document
from lightfast.errors import InvalidInput
from lightfast.search.metadata_filter import (
    MAX_KEYS,
    MAX_VALUE_CHARS,
    MAX_VALUES,
    MetadataCondition,
    matches,
    parse_metadata_filter,
    parse_where,
)
from lightfast.sources.linear.webhooks import sign
from tests.conftest import make_settings

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "webhooks" / "linear"
SECRET = "lin_wh_metadata_filter_secret_0123456789"
STATES = ["Backlog", "In Progress", "Done"]
TEAMS = ["ENG", "OPS"]
LABELS = ["bug", "ui", "api"]

storable = st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",))
scalars = st.one_of(
    st.text(storable, max_size=20),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
)
keys = st.from_regex(r"[A-Za-z_][A-Za-z0-9_-]{0,20}", fullmatch=True)


# -- pure: the filter ---------------------------------------------------------------------------------


@given(st.dictionaries(keys, st.one_of(scalars, st.lists(scalars, min_size=1, max_size=5)), max_size=8))
def test_valid_filters_parse_and_a_document_holding_the_values_matches(raw: dict[str, Any]) -> None:
    conditions = parse_metadata_filter(raw)
    assert [c.key for c in conditions] == sorted(raw)
    # A document whose every key holds the first value (or a list holding it) satisfies the filter.
    document = {c.key: c.values[0] for c in conditions}
    assert matches(conditions, document)
    assert matches(conditions, {k: [v] for k, v in document.items()})
    # Removing any key it names makes it fail.
    for condition in conditions:
        assert not matches(conditions, {k: v for k, v in document.items() if k != condition.key})


@given(scalars)
def test_values_are_typed_as_in_json(value: Any) -> None:
    condition = (MetadataCondition("k", (value,)),)
    assert matches(condition, {"k": value})
    assert not matches(condition, {"k": str(value)}) or isinstance(value, str)
    if isinstance(value, bool):
        assert not matches(condition, {"k": int(value)})
    if isinstance(value, int) and not isinstance(value, bool) and value in (0, 1):
        assert not matches(condition, {"k": bool(value)})
    assert not matches(condition, {"k": {"nested": value}})  # an object's members are not its values
    assert not matches(condition, {"k": [[value]]})  # nor are a nested list's


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ([1], "filters.metadata"),
        ("state", "filters.metadata"),
        ({f"k{i}": 1 for i in range(MAX_KEYS + 1)}, "filters.metadata"),
        ({"a.b": 1}, "filters.metadata"),
        ({'a"]': 1}, "filters.metadata"),
        ({"": 1}, "filters.metadata"),
        ({"k" * 65: 1}, "filters.metadata"),
        ({"state": None}, "filters.metadata.state"),
        ({"state": {"$ne": 1}}, "filters.metadata.state"),
        ({"state": []}, "filters.metadata.state"),
        ({"state": list(range(MAX_VALUES + 1))}, "filters.metadata.state"),
        ({"state": [[1]]}, "filters.metadata.state"),
        ({"state": "x" * (MAX_VALUE_CHARS + 1)}, "filters.metadata.state"),
        ({"state": "a\x00b"}, "filters.metadata.state"),
        ({"state": ["ok", "\ud800"]}, "filters.metadata.state"),
        ({"state": math.inf}, "filters.metadata.state"),
        ({"state": math.nan}, "filters.metadata.state"),
        ({"state": 2**63}, "filters.metadata.state"),
    ],
)
def test_hostile_filters_are_refused_naming_the_field(raw: Any, field: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_metadata_filter(raw)
    assert refused.value.field == field


def test_where_expressions() -> None:
    assert parse_where(["state=In Progress", "teamKey=ENG"]) == {"state": "In Progress", "teamKey": "ENG"}
    assert parse_where(["priority:=2", "done:=true", "label=a=b"]) == {
        "priority": 2,
        "done": True,
        "label": "a=b",
    }
    assert parse_where(["state=Done", "state=Backlog", "n:=[1, 2]"]) == {
        "state": ["Done", "Backlog"],
        "n": [1, 2],
    }
    for bad in ("state", "n:={"):
        with pytest.raises(InvalidInput) as refused:
            parse_where([bad])
        assert refused.value.field == "where"


@given(st.dictionaries(keys, st.text(storable, max_size=30), max_size=5))
def test_where_round_trips_strings(raw: dict[str, str]) -> None:
    assert parse_where(f"{k}={v}" for k, v in raw.items()) == raw


# -- both indexes against the reference ---------------------------------------------------------------


@dataclass
class Corpus:
    services: Services
    client: TestClient
    key: str
    workspace_id: str
    metadata: dict[str, dict[str, Any]]  # identifier -> the document's stored metadata

    def search(self, raw: Any, mode: SearchMode = SearchMode.FAST) -> set[str]:
        results = self.services.search.search(
            SearchRequest(self.workspace_id, "widget", limit=100, mode=mode, metadata=raw)
        ).results
        with self.services.sessions() as session:
            ids = [r.document_id for r in results]
            rows = session.scalars(select(Document).where(Document.id.in_(ids)))
            return {str(row.source_metadata["identifier"]) for row in rows}


def _issue(number: int, team: str | None = None, title: str | None = None) -> dict[str, Any]:
    delivery = json.loads((FIXTURES / "issue.create.json").read_text(encoding="utf-8"))
    data = delivery["data"]
    team = team or TEAMS[number % 2]
    state = STATES[number % 3]
    labels = [label for i, label in enumerate(LABELS) if number >> i & 1]
    data.update(
        id=str(uuid.UUID(int=number)),
        number=number,
        identifier=f"{team}-{number}",
        title=title or f"widget number {number}",
        priority=number % 4,
        state={**data["state"], "id": f"state-{state}", "name": state},
        team={**data["team"], "id": f"team-{team}", "key": team},
        labels=[{"id": f"label-{label}", "name": label} for label in labels],
    )
    delivery["url"] = f"https://linear.app/acme/issue/{team}-{number}/widget"
    return copy.deepcopy(delivery)


def _deliver(services: Services, client: TestClient, source_id: str, issues: list[dict[str, Any]]) -> None:
    for issue in issues:
        body = json.dumps(issue).encode()
        answer = client.post(
            f"/webhooks/linear/{source_id}",
            content=body,
            headers={"Linear-Signature": sign(SECRET, body), "Linear-Delivery": str(uuid.uuid4())},
        )
        assert answer.status_code in (200, 202), answer.text
        for job_id in answer.json()["jobs"]:
            services.runner.run_inline(job_id)


@pytest.fixture
def corpus(tmp_path: Path, database_url: str) -> Iterator[Corpus]:
    settings_ = make_settings(tmp_path, database_url, webhook_max_age=0)
    services = build_services(settings_, engine=make_engine(settings_.resolved_database_url))
    try:
        workspace_id = services.workspaces.ensure_workspace_id()
        source = services.vendors.connections.connect(
            workspace_id, "linear", name="acme", webhook_secret=SECRET
        )
        key = services.api_keys.create(workspace_id, "metadata filters").secret
        with TestClient(create_app(services)) as client:
            _deliver(services, client, source.source.id, [_issue(n) for n in range(1, 13)])
            with services.sessions() as session:
                rows = session.scalars(select(Document).where(Document.source_type == "linear"))
                metadata = {str(r.source_metadata["identifier"]): dict(r.source_metadata) for r in rows}
            assert len(metadata) == 12
            yield Corpus(services, client, key, workspace_id, metadata)
    finally:
        services.close()


def _expected(corpus: Corpus, raw: Any) -> set[str]:
    conditions = parse_metadata_filter(raw)
    return {identifier for identifier, meta in corpus.metadata.items() if matches(conditions, meta)}


def test_state_team_and_labels_filter_search(corpus: Corpus) -> None:
    assert corpus.metadata["ENG-4"]["state"] == "In Progress"
    in_progress = corpus.search({"state": "In Progress"})
    assert in_progress == {"OPS-1", "ENG-4", "OPS-7", "ENG-10"}
    assert corpus.search({"state": "In Progress", "teamKey": "ENG"}) == {"ENG-4", "ENG-10"}
    assert corpus.search({"state": ["Done", "Backlog"]}) == set(corpus.metadata) - in_progress
    assert corpus.search({"labels": "api"}) == {f"{TEAMS[n % 2]}-{n}" for n in range(4, 13) if n & 4}
    assert corpus.search({"priority": 0}) == {"ENG-4", "ENG-8", "ENG-12"}
    assert corpus.search({"priority": "0"}) == set()  # typed: the string is not the number
    assert corpus.search({"state": "in progress"}) == set()  # exact, as Linear names it
    assert corpus.search({"nosuchkey": "x"}) == set()
    # The vector path filters the same way (SQLite's in-memory tables read the kept documents).
    assert corpus.search({"state": "In Progress"}, SearchMode.DENSE) == in_progress
    assert corpus.search({"teamKey": "OPS"}, SearchMode.BALANCED) == {f"OPS-{n}" for n in range(1, 13, 2)}


def test_any_filter_finds_what_the_reference_finds(corpus: Corpus) -> None:
    values: dict[str, list[Any]] = {
        "state": [*STATES, "Canceled"],
        "teamKey": TEAMS,
        "labels": LABELS,
        "priority": [0, 1, 2, 3, 1.0, True, "1"],
        "kind": ["issue", "comment"],
    }
    condition = st.sampled_from(sorted(values)).flatmap(
        lambda key: st.tuples(st.just(key), st.lists(st.sampled_from(values[key]), min_size=1, max_size=3))
    )

    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.lists(condition, min_size=1, max_size=3, unique_by=lambda c: c[0]), st.booleans())
    def check(conditions: list[tuple[str, list[Any]]], dense: bool) -> None:
        raw = {key: chosen if len(chosen) > 1 else chosen[0] for key, chosen in conditions}
        mode = SearchMode.DENSE if dense else SearchMode.FAST
        assert corpus.search(raw, mode) == _expected(corpus, raw), raw

    check()


def test_api_takes_the_filter_and_refuses_hostile_ones_naming_the_field(corpus: Corpus) -> None:
    auth = {"Authorization": f"Bearer {corpus.key}"}

    def search(metadata: Any) -> Any:
        body = {"query": "widget", "limit": 50, "mode": "fast", "filters": {"metadata": metadata}}
        return corpus.client.post("/v1/search", json=body, headers=auth)

    found = search({"state": "In Progress", "teamKey": "ENG"})
    assert found.status_code == 200, found.text
    assert {r["title"] for r in found.json()["data"]} == {
        "ENG-4: widget number 4",
        "ENG-10: widget number 10",
    }
    hostile: list[tuple[Any, str]] = [
        ({"state": None}, "filters.metadata.state"),
        ({"state": {"$gt": ""}}, "filters.metadata.state"),
        ({"state": [[1]]}, "filters.metadata.state"),
        ({"state": list(range(MAX_VALUES + 1))}, "filters.metadata.state"),
        ({f"k{i}": 1 for i in range(MAX_KEYS + 1)}, "filters.metadata"),
        ({"a'); DROP TABLE documents; --": 1}, "filters.metadata"),
        ({"state": "x" * (MAX_VALUE_CHARS + 1)}, "filters.metadata.state"),
        ("In Progress", "filters.metadata"),
    ]
    for metadata, field in hostile:
        answer = search(metadata)
        assert answer.status_code == 400, (metadata, answer.text)
        assert answer.json()["error"] == "invalid_input"
        assert field in answer.json()["message"], (metadata, answer.json()["message"])
    assert search({"state": "In Progress"}).status_code == 200  # nothing was dropped


def test_every_combination_of_state_and_team_partitions_the_corpus(corpus: Corpus) -> None:
    parts = [corpus.search({"state": s, "teamKey": t}) for s, t in itertools.product(STATES, TEAMS)]
    assert sum(len(p) for p in parts) == len(corpus.metadata)
    assert set().union(*parts) == set(corpus.metadata)


def test_an_issue_key_finds_its_issue_first_on_both_databases(corpus: Corpus) -> None:
    """PostgreSQL's parser reads ENG-7 as "eng" and "-7": without the key's phrase in the query, the
    issue matched on "eng" alone and a document saying "7" ranked above it."""
    source = corpus.services.vendors.connections.connect(corpus.workspace_id, "linear", name="acme")
    issues = [
        _issue(107, "KEY", "alpha"),
        _issue(108, "KEY", "beta"),
        _issue(207, "OTH", "gamma"),
        _issue(209, "OTH", "release 107 plan"),
    ]
    _deliver(corpus.services, corpus.client, source.source.id, issues)
    for query, expected in [("KEY-107", "KEY-107"), ("what is key-108?", "KEY-108"), ("OTH-207", "OTH-207")]:
        for mode in (SearchMode.FAST, SearchMode.BALANCED):
            results = corpus.services.search.search(
                SearchRequest(corpus.workspace_id, query, mode=mode)
            ).results
            assert results, (query, mode)
            assert results[0].title.startswith(f"{expected}:"), (query, mode, results[:3])
