"""Sentry documents (pure): an issue with its latest event's bounded stack, a comment as its child;
stable ids and paths; whatever Sentry sends, rendering neither raises nor grows without bound."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lightfast.app.sentry_backfill import connection_metadata, render, version_after
from lightfast.errors import InvalidInput
from lightfast.sources.sentry import documents as docs
from lightfast.sources.sentry.webhooks import (
    MAX_FRAMES,
    comment_fields,
    event_fields,
    issue_fields,
    parse_delivery,
)
from lightfast.sources.snapshots import Snapshot

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "webhooks" / "sentry"
WEB = "https://sentry.io"


def fixture(name: str) -> dict[str, Any]:
    return dict(json.loads((FIXTURES / name).read_text(encoding="utf-8")))


def issue_and_event() -> tuple[dict[str, Any], dict[str, Any]]:
    issue = issue_fields(fixture("issue.created.json")["data"]["issue"])
    event = event_fields(fixture("error.created.json")["data"]["error"])
    assert issue is not None
    assert event is not None
    return issue, event


def test_an_issue_renders_with_seed_004s_metadata_and_its_stack() -> None:
    issue, event = issue_and_event()
    document = docs.render_issue(issue, event, organization="test-org", web_url=WEB)
    assert (document.entity_id, document.path) == ("issue:1170820242", "issues/1170820242.md")
    assert document.markdown.startswith("# FRONT-END-9: ReferenceError: blooopy is not defined\n")
    assert "- Culprit: ?(runner)" in document.markdown
    assert "at ? (/runner:3:5)" in document.markdown
    meta = document.metadata
    for name in (
        "issueId",
        "shortId",
        "project",
        "level",
        "status",
        "count",
        "userCount",
        "firstSeen",
        "lastSeen",
    ):
        assert name in meta, name
    assert (meta["type"], meta["kind"], meta["platform"]) == ("sentry", "issue", "javascript")
    assert meta["environments"] == []
    assert meta["releases"] == []
    assert meta["tags"]["os.name"] == ["Mac OS X"]
    assert document.relationships == {"mentions": {"sentry": ["FRONT-END-9"]}}
    assert document.url == "https://sentry.io/organizations/test-org/issues/1170820242/"


def test_a_release_named_by_a_commit_links_the_commit() -> None:
    issue, event = issue_and_event()
    sha = "a" * 40
    document = docs.render_issue(issue, {**event, "release": sha}, organization="o", web_url=WEB)
    assert document.metadata["commitSha"] == sha
    assert document.relationships is not None
    assert document.relationships["temporal"] == {"commitSha": sha}
    named = docs.render_issue(issue, {**event, "release": "web@1.2.3"}, organization="o", web_url=WEB)
    assert named.metadata["releases"] == ["web@1.2.3"]
    assert named.relationships is not None
    assert "temporal" not in named.relationships


def test_a_comment_is_a_child_of_its_issue() -> None:
    comment = comment_fields({"comment": "see FRONT-END-2", "comment_id": 7, "issue_id": 1170820242})
    assert comment is not None
    issue, _ = issue_and_event()
    document = docs.render_comment(comment, issue, organization="test-org", web_url=WEB)
    assert (document.entity_id, document.path, document.parent_id) == (
        "comment:7",
        "comments/7.md",
        "issue:1170820242",
    )
    assert document.mentions == ["FRONT-END-2"]
    alone = docs.render_comment(comment, None, organization="test-org", web_url=WEB)
    assert alone.title == "Comment on issue 1170820242"


def test_paths_and_entity_ids_round_trip_and_refuse_anything_else() -> None:
    for kind in docs.KINDS:
        entity = docs.entity_id(kind, "42")
        assert docs.entity_of_path(docs.path_for(kind, entity)) == entity
    for path in (
        "issues/../x.md",
        "issues/4a.md",
        "tickets/1.md",
        "issues/1/2.md",
        "issues/1.txt",
        "issues/².md",
    ):
        assert docs.entity_of_path(path) is None, path


@given(st.text(alphabet="0123456789", min_size=1, max_size=20), st.sampled_from(docs.KINDS))
def test_every_entity_has_one_stable_path(number: str, kind: str) -> None:
    entity = docs.entity_id(kind, number)
    assert docs.path_for(kind, entity) == docs.path_for(kind, entity)
    assert docs.entity_of_path(docs.path_for(kind, entity)) == entity


# Whatever JSON Sentry sends (hostile, or just another SDK's shape).
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=50),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=12), inner, max_size=5),
    max_leaves=30,
)


@settings(max_examples=200)
@given(
    st.dictionaries(
        st.sampled_from(
            [
                "id",
                "shortId",
                "title",
                "count",
                "status",
                "project",
                "metadata",
                "firstRelease",
                "assignedTo",
                "userCount",
                "level",
            ]
        ),
        json_values,
    )
)
def test_any_issue_shape_renders_or_is_refused_without_raising(data: dict[str, Any]) -> None:
    issue = issue_fields({**data, "id": "99"})
    assert issue is not None
    document = docs.render_issue(issue, None, organization="o", web_url=WEB)
    assert len(document.markdown) <= docs.MAX_MARKDOWN + 1
    assert issue_fields({**data, "id": "not digits"}) is None


@settings(max_examples=200)
@given(
    st.lists(
        st.dictionaries(
            st.sampled_from(["filename", "function", "lineno", "colno", "in_app", "context_line", "module"]),
            json_values,
        ),
        max_size=120,
    ),
    st.text(max_size=3000),
)
def test_any_stack_renders_bounded(frames: list[dict[str, Any]], value: str) -> None:
    event = event_fields(
        {
            "event_id": "bb78c1407cea4519aa397afc059c793d",
            "exception": {"values": [{"type": "E", "value": value, "stacktrace": {"frames": frames}}] * 8},
        }
    )
    assert event is not None
    assert len(event["exceptions"]) <= 5
    assert all(len(e["frames"]) <= MAX_FRAMES for e in event["exceptions"])
    text = docs.exception_text(event)
    assert all(len(line) <= 2200 for line in text.splitlines())


@given(
    json_values, st.sampled_from(["issue", "error", "comment", "event_alert", "metric_alert", "installation"])
)
def test_any_body_parses_or_is_refused_with_a_field(data: Any, resource: str) -> None:
    found: str | None = "parsed"
    try:
        parse_delivery(resource, {"action": "created", "data": data})
    except InvalidInput as refused:
        found = refused.field
    assert found  # parsed, or refused naming what was wrong


def test_a_snapshot_renders_through_the_source_and_an_empty_one_does_not() -> None:
    issue, event = issue_and_event()
    rendered = render(Snapshot("issue:1170820242", "issue", "v", {"issue": issue, "event": event}), "o", WEB)
    assert rendered is not None
    assert rendered.path == "issues/1170820242.md"
    assert render(Snapshot("issue:1", "issue", "v", {}), "o", WEB) is None
    assert render(Snapshot("x", "alert", "v", {"issue": issue}), "o", WEB) is None


def test_connection_options_are_checked_naming_the_field() -> None:
    made = connection_metadata(
        "acme", "api", "SENTRY_TOKEN", {"organization": "Acme", "projects": "web, api web"}
    )
    assert made["sentryOrganizationSlug"] == "acme"
    assert made["sentryProjectSlugs"] == ["api", "web"]
    one = connection_metadata("acme", "webhook-only", None, {"organization": "acme", "projects": "web"})
    assert one["sentryProjectSlug"] == "web"
    for options, field in [
        ({}, "organization"),
        ({"organization": "a/b"}, "organization"),
        ({"organization": "acme", "projects": "../etc"}, "projects"),
        ({"organization": "acme", "projects": ",".join(f"p{n}" for n in range(101))}, "projects"),
    ]:
        with pytest.raises(InvalidInput) as refused:
            connection_metadata("acme", "api", None, options)
        assert refused.value.field == field


@given(st.lists(st.integers(0, 5), min_size=1, max_size=12))
def test_versions_only_move_forward_and_a_same_second_change_moves_them(seconds: list[int]) -> None:
    stored: str | None = None
    for second in seconds:
        version = version_after(stored, f"2026-11-28T12:00:0{second}.000000Z", same=False)
        if stored is not None and version.rstrip("+") == stored.rstrip("+"):
            assert version > stored  # a different state in the same second wins over the stored one
        stored = max(stored or version, version)
    assert stored is not None
    assert stored.startswith(f"2026-11-28T12:00:0{max(seconds)}")


def test_only_the_issue_document_is_known_by_the_issues_short_id() -> None:
    """Comments carry their issue's short id (for display and filters); mentions of it must resolve to
    the issue alone."""
    from lightfast.relationships.documents import identities

    issue, event = issue_and_event()
    comment = comment_fields({"comment": "hi", "comment_id": 7, "issue_id": 1170820242})
    assert comment is not None
    issue_doc = docs.render_issue(issue, event, organization="o", web_url=WEB)
    comment_doc = docs.render_comment(comment, issue, organization="o", web_url=WEB)
    assert {t.key for t in identities("sentry", issue_doc.entity_id, issue_doc.metadata)} >= {"FRONT-END-9"}
    assert identities("sentry", comment_doc.entity_id, comment_doc.metadata) == []


def test_the_connection_fields_are_declared_for_every_shell() -> None:
    """The console's connect form and connect()'s checks read them (VendorKind.options)."""
    import time

    from lightfast.app.sentry_backfill import SENTRY

    organization, projects = SENTRY.options
    assert (organization.name, organization.required) == ("organization", True)
    assert projects.name == "projects"
    assert not projects.required
    assert organization.check(" acme ") == "acme"
    assert projects.check("web, api  mobile") == "web, api  mobile"
    assert projects.check("") is None
    for bad in ("Web", "web,,../x", "a" * 51):
        with pytest.raises(InvalidInput) as refused:
            projects.check(bad)
        assert refused.value.field == "projects"
    began = time.perf_counter()
    with pytest.raises(InvalidInput):
        projects.check("a," * 2000 + "!")  # no catastrophic backtracking
    assert time.perf_counter() - began < 0.5
    with pytest.raises(InvalidInput) as missing:
        organization.check(None)
    assert missing.value.field == "organization"
