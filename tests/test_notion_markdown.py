"""Notion blocks as Markdown (pure): property tests over generated block trees, and the shapes kept."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from lightfast.relationships.documents import identities
from lightfast.sources.notion.markdown import (
    property_text,
    render_blocks,
    render_comment,
    render_page,
    rich_text,
)
from lightfast.testing.notion.server import block, text

KINDS = [
    "paragraph",
    "heading_2",
    "bulleted_list_item",
    "numbered_list_item",
    "to_do",
    "toggle",
    "quote",
    "callout",
]
WORDS = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=3, max_size=12)


def trees(depth: int = 3) -> st.SearchStrategy[list[dict[str, Any]]]:
    leaf = st.builds(lambda kind, word: block(kind, word), st.sampled_from(KINDS), WORDS)
    if depth == 0:
        return st.lists(leaf, max_size=4)
    return st.lists(
        st.one_of(
            leaf,
            st.builds(
                lambda kind, word, children: _with_children(block(kind, word), children),
                st.sampled_from(["bulleted_list_item", "toggle", "paragraph"]),
                WORDS,
                trees(depth - 1),
            ),
        ),
        max_size=4,
    )


def _with_children(parent: dict[str, Any], children: list[dict[str, Any]]) -> dict[str, Any]:
    parent["children"] = children
    return parent


def _words(blocks: list[dict[str, Any]]) -> list[str]:
    found = []
    for item in blocks:
        found.append(item[item["type"]]["rich_text"][0]["plain_text"])
        found += _words(item.get("children") or [])
    return found


@given(trees())
def test_every_text_of_a_tree_is_in_its_markdown(blocks: list[dict[str, Any]]) -> None:
    markdown = render_blocks(blocks)
    for word in _words(blocks):
        assert word in markdown
    assert render_blocks(blocks) == markdown  # deterministic


@given(
    st.lists(
        st.dictionaries(st.text(max_size=5), st.one_of(st.none(), st.text(max_size=5), st.integers())),
        max_size=5,
    )
)
def test_hostile_blocks_never_raise(blocks: list[dict[str, Any]]) -> None:
    render_blocks(blocks)
    rich_text(blocks)
    for item in blocks:
        property_text(item)


def test_lists_code_and_tables() -> None:
    table = block("table", has_column_header=True)
    table["children"] = [
        {"type": "table_row", "table_row": {"cells": [text("key"), text("value")]}},
        {"type": "table_row", "table_row": {"cells": [text("a|b"), text("2")]}},
    ]
    markdown = render_blocks(
        [
            block("numbered_list_item", "one"),
            block("numbered_list_item", "two"),
            block("code", "print(1)", language="python"),
            table,
        ]
    )
    assert markdown == (
        "1. one\n2. two\n\n```python\nprint(1)\n```\n\n| key | value |\n|---|---|\n| a\\|b | 2 |"
    )


def test_a_page_has_its_title_as_the_only_h1() -> None:
    page = {
        "id": "p",
        "properties": {"Name": {"type": "title", "title": text("Runbook")}},
        "last_edited_time": "t",
    }
    markdown, metadata = render_page(page, [block("heading_1", "Steps")])
    assert markdown.startswith("# Runbook\n\n## Steps")
    assert metadata["type"] == "notion"
    assert metadata["title"] == "Runbook"


@given(st.text(max_size=300), st.uuids())
def test_a_comment_renders_as_a_child_of_its_page(said: str, page: Any) -> None:
    comment = {"id": "c1", "rich_text": [{"plain_text": said}], "created_time": "2026-01-01T00:00:00.000Z"}
    markdown, metadata = render_comment(comment, str(page))
    assert metadata["kind"] == "comment"
    assert metadata["pageId"] == str(page)
    assert metadata["title"].startswith("Comment")
    assert len(metadata["title"]) <= len("Comment: ") + 80
    assert said.strip() in markdown
    # A comment names its page; it is not the page: mentions of the page resolve to the page alone.
    assert identities("notion", "c1", metadata) == []
    assert identities("notion", "p1", {"kind": "doc-page", "pageId": str(page)}) != []
