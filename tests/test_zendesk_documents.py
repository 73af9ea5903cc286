"""Zendesk documents (pure): tickets, comments and articles rendered to Markdown with seed 004's
metadata; stable, unique paths; article HTML as Markdown; hostile values bounded (hypothesis)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lightfast.sources.zendesk import documents as docs
from lightfast.sources.zendesk.html import MAX_HTML, html_to_markdown
from lightfast.sources.zendesk.metadata import ZendeskDocMetadata
from lightfast.sources.zendesk.webhooks import as_id, comment_fields, parse_delivery, ticket_fields

BASE = "https://acme.zendesk.com"
ids = st.integers(min_value=1, max_value=2**63 - 1)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=20,
)


def test_a_ticket_renders_its_facts_and_description() -> None:
    ticket = ticket_fields(
        {
            "subject": "Cannot login",
            "description": "Login fails after the update. Related to ticket #12 and #99.",
            "status": "OPEN",
            "priority": "HIGH",
            "type": "PROBLEM",
            "tags": ["mobile", 7, "login"],
            "satisfaction_rating": {"score": "good"},
            "via": {"channel": "email"},
            "updated_at": "2025-01-08T10:12:07Z",
            "assignee_id": "8447388090494",
        },
        5158,
    )
    document = docs.render_ticket(ticket, BASE)
    assert document.path == "tickets/5158.md"
    assert document.entity_id == "ticket:5158"
    assert document.markdown.startswith("# Ticket #5158: Cannot login\n\n- Status: open\n- Priority: high\n")
    assert "- Tags: mobile, login" in document.markdown
    assert document.mentions == ["#12"]  # "#99" alone does not say ticket
    meta = ZendeskDocMetadata.model_validate(document.metadata)
    assert (meta.ticket_id, meta.satisfaction, meta.via_channel, meta.assignee_id) == (
        5158,
        "good",
        "email",
        8447388090494,
    )
    assert document.url == "https://acme.zendesk.com/agent/tickets/5158"


def test_a_comment_is_a_child_flagged_public_or_not() -> None:
    comment = comment_fields({"id": 9, "html_body": "<p>Try <b>again</b></p>", "public": False}, 5158)
    assert comment is not None
    document = docs.render_comment(comment, BASE, "Cannot login")
    assert document.parent_id == "ticket:5158"
    assert document.kind == "private_comment"
    assert document.path == "comments/9.md"
    assert document.metadata["public"] is False
    assert "Try **again**" in document.markdown
    assert document.title == "Internal note on ticket #5158: Cannot login"
    assert comment_fields({"body": "no id"}, 1) is None


def test_an_article_is_markdown_with_its_place() -> None:
    article = {
        "id": 360001,
        "title": "Reset your password",
        "body": "<h2>Steps</h2><ul><li>Open <a href='javascript:alert(1)'>this</a></li></ul>"
        "<script>x()</script>",
        "locale": "en-us",
        "section_id": 11,
        "section_name": "Accounts",
        "category_name": "Basics",
        "label_names": ["password"],
        "updated_at": "2025-01-01T00:00:00Z",
        "html_url": "https://acme.zendesk.com/hc/en-us/articles/360001",
    }
    document = docs.render_article(article, BASE)
    assert document.path == "articles/360001.md"
    assert "## Steps" in document.markdown
    assert "- Open this" in document.markdown  # an unsafe link keeps its text, not its target
    assert "javascript" not in document.markdown
    assert "x()" not in document.markdown
    assert document.metadata["sectionName"] == "Accounts"
    assert document.metadata["labels"] == ["password"]


def test_the_opening_comment_is_not_indexed_twice() -> None:
    comments: list[dict[str, Any]] = [{"id": 1, "body": "It  broke.\n"}, {"id": 2, "body": "Fixed"}]
    assert [c["id"] for c in docs.replies(comments, "It broke.")] == [2]
    assert [c["id"] for c in docs.replies(comments, "Something else")] == [1, 2]


@given(st.sampled_from(["ticket", "comment", "private_comment", "article"]), ids)
def test_paths_and_entity_ids_round_trip(kind: str, number: int) -> None:
    entity = docs.entity_id(kind, number)
    path = docs.path_for(kind, entity)
    assert docs.entity_of_path(path) == entity
    assert path.endswith(".md")


@given(st.text(max_size=40))
def test_foreign_paths_are_not_ours(path: str) -> None:
    found = docs.entity_of_path(path)
    if found is not None:
        kind, _, number = found.partition(":")
        assert number.isdigit()
        assert docs.path_for(kind, found) == path


@given(st.dictionaries(st.text(max_size=20), json_values, max_size=12), ids)
@settings(max_examples=200)
def test_any_ticket_body_renders_bounded_and_deterministic(data: dict[str, Any], number: int) -> None:
    ticket = ticket_fields(data, number)
    first = docs.render_ticket(ticket, BASE)
    assert first == docs.render_ticket(ticket, BASE)
    assert len(first.markdown) <= docs.MAX_MARKDOWN
    assert first.markdown.startswith(f"# Ticket #{number}: ")
    ZendeskDocMetadata.model_validate(first.metadata)


@given(st.dictionaries(st.text(max_size=20), json_values, max_size=12))
@settings(max_examples=200)
def test_any_delivery_parses_or_is_refused_naming_a_field(data: dict[str, Any]) -> None:
    from lightfast.errors import InvalidInput

    refused: InvalidInput | None = None
    try:
        delivery = parse_delivery(data)
    except InvalidInput as exc:
        refused = exc
    if refused is not None:
        assert refused.field
        return
    assert delivery.ticket_id is None or delivery.ticket_id > 0


@given(st.one_of(json_values, st.text(max_size=25)))
def test_ids_are_positive_64_bit_integers_or_nothing(value: Any) -> None:
    found = as_id(value)
    assert found is None or 0 < found <= 2**63 - 1


@given(st.text(max_size=400))
@settings(max_examples=300)
def test_html_to_markdown_never_raises_and_is_bounded(html: str) -> None:
    assert len(html_to_markdown(html)) <= len(html) * 4 + 16


@given(st.text(alphabet=st.characters(blacklist_characters="<&"), max_size=300))
def test_plain_text_comes_through_with_its_whitespace_collapsed(text: str) -> None:
    assert html_to_markdown(text) == re.sub(r"\s+", " ", text).strip()


@given(st.text(max_size=60), st.text(max_size=60))
def test_scripts_and_styles_leave_no_text(hidden: str, shown: str) -> None:
    for tag in ("script", "style"):
        html = f"<p>visible</p><{tag}>{hidden.replace('<', '')}</{tag}>"
        assert html_to_markdown(html) == "visible"


def test_html_is_bounded_and_deep_nesting_flattened() -> None:
    deep = "<div>" * 5000 + "deep text" + "</div>" * 5000
    assert html_to_markdown(deep) == "deep text"
    assert len(html_to_markdown("<p>" + "a" * (MAX_HTML + 10) + "</p>")) == MAX_HTML - 3


def test_many_blocks_convert_in_linear_time() -> None:
    import time

    html = "<p>x</p>" * 120_000  # about 1 MB of paragraphs
    started = time.perf_counter()
    text = html_to_markdown(html)
    assert time.perf_counter() - started < 10
    assert text.count("x") == 120_000


def test_an_incident_names_its_problem_ticket() -> None:
    ticket = ticket_fields({"subject": "Down again", "type": "incident", "problem_id": "42"}, 43)
    document = docs.render_ticket(ticket, BASE)
    assert document.metadata["problemId"] == 42
    assert document.mentions == ["#42"]
    assert "- Problem ticket: #42" in document.markdown


@given(st.text(max_size=300), st.one_of(st.none(), ids))
def test_mentions_are_ticket_numbers_other_than_its_own(text: str, own: int | None) -> None:
    found = docs.mentions(text, own)
    assert found == sorted(set(found))
    assert all(m.startswith("#") and m[1:].isdigit() for m in found)
    assert own is None or f"#{own}" not in found


def test_mentions_need_the_word_ticket() -> None:
    assert docs.mentions("See ticket #12, Zendesk #13, case no. #14 and issue #15") == ["#12", "#13", "#14"]


def test_link_targets_stay_inside_their_markdown_link() -> None:
    html = '<a href="https://x.example/a b(c)">see</a> and <a href="/hc/articles/1">this</a>'
    assert html_to_markdown(html) == "[see](https://x.example/a%20b%28c%29) and [this](/hc/articles/1)"


@given(st.text(max_size=70))
def test_a_subdomain_is_accepted_only_as_zendesk_spells_them(subdomain: str) -> None:
    from lightfast.errors import InvalidInput
    from lightfast.sources.zendesk.metadata import SUBDOMAIN, connection_metadata

    valid = SUBDOMAIN.fullmatch(subdomain.strip().lower()) is not None
    if not valid:
        with pytest.raises(InvalidInput) as refused:
            connection_metadata("acme", "api", None, {"subdomain": subdomain})
        assert refused.value.field == "subdomain"
        return
    made = connection_metadata("acme", "api", None, {"subdomain": subdomain})
    assert made["zendeskSubdomain"] == subdomain.strip().lower()
    assert made["indexPrivateComments"] is True
