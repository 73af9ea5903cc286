"""Front matter, titles and slugs (``ingest.markdown``), decoding of file bytes (``ingest.files``) and the
identity hashes (``ingest.hashing``)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lightfast.errors import DocumentRejected, InvalidInput
from lightfast.ingest.files import Rejection, decode_text
from lightfast.ingest.hashing import (
    chunk_hash,
    config_hash,
    content_hash,
    document_id,
    vector_id,
)
from lightfast.ingest.markdown import (
    FRONTMATTER_MAX_ALIASES,
    FRONTMATTER_MAX_CHARS,
    FRONTMATTER_MAX_DEPTH,
    REJECTED_FRONT_MATTER,
    first_heading,
    parse_document,
    slugify,
)

# --------------------------------------------------------------------------------------------------
# Titles
# --------------------------------------------------------------------------------------------------


def test_title_comes_from_the_front_matter_first() -> None:
    doc = parse_document(
        "---\ntitle: From YAML\ndescription: Short.\n---\n# From the heading\n\nBody.\n", "docs/x.md"
    )
    assert doc.title == "From YAML"
    assert doc.description == "Short."
    assert doc.frontmatter == {"title": "From YAML", "description": "Short."}
    assert doc.body == "# From the heading\n\nBody.\n"
    assert doc.warnings == ()


def test_a_number_title_is_used_as_text_and_a_blank_or_boolean_one_is_ignored() -> None:
    assert parse_document("---\ntitle: 2024\n---\n# H\n", "a.md").title == "2024"
    assert parse_document("---\ntitle: '  '\n---\n# H\n", "a.md").title == "H"
    assert parse_document("---\ntitle: [a, b]\n---\n# H\n", "a.md").title == "H"
    # YAML 1.1 reads ``yes`` as True: "True" is not the document's title.
    assert parse_document("---\ntitle: yes\n---\n# H\n", "a.md").title == "H"


def test_title_falls_back_to_the_first_h1() -> None:
    text = "Intro text.\n\n## Not this (H2)\n\n# The Title #\n\n# Later H1\n"
    assert parse_document(text, "guide.md").title == "The Title"


def test_an_h1_inside_a_code_fence_is_not_the_title() -> None:
    text = "```markdown\n# Inside code\n```\n\n# Outside\n"
    assert parse_document(text, "x.md").title == "Outside"
    assert first_heading("~~~\n# tilde code\n~~~\n# Real\n") == "Real"


@pytest.mark.parametrize(
    "text",
    [
        # A ``` line inside a ```` block is code, not the end of the block.
        "````md\n```\n# Fake\n```\n````\n# Real\n",
        # A ``` line inside a ~~~ block neither closes nor reopens anything.
        "~~~\n```\n~~~\n# Real\n",
        # The closing fence may be longer than the opening one; an info string does not close.
        "```\n```python\n# Fake\n`````\n# Real\n",
    ],
)
def test_nested_fences_do_not_confuse_the_title(text: str) -> None:
    # These returned "Fake" or None before first_heading tracked the opening fence's marker.
    assert first_heading(text) == "Real"


def test_setext_h1_is_a_title() -> None:
    assert parse_document("Intro\n\nSetext Title\n============\n\nBody\n", "x.md").title == "Setext Title"
    # A line of = after a blank line is not an underline; an H2 underline (---) is not an H1.
    assert first_heading("\n===\n") is None
    assert first_heading("Sub\n---\n") is None
    assert first_heading("```\nCode\n=====\n```\n") is None


@pytest.mark.parametrize(
    ("line", "title"),
    [
        ("# Intro to C#", "Intro to C#"),  # was "Intro to C" before the closing-# fix
        ("# Title ##  ", "Title"),
        ("#\tTabbed", "Tabbed"),
        ("   # Three spaces", "Three spaces"),
        ("    # Four spaces is code", None),
        ("#NoSpace", None),
        ("## Level two", None),
    ],
)
def test_atx_h1_forms(line: str, title: str | None) -> None:
    assert first_heading(line) == title


def test_title_falls_back_to_the_file_stem() -> None:
    assert parse_document("No heading here.\n", "docs/Getting Started.md").title == "Getting Started"
    assert parse_document("", "notes/todo.txt").title == "todo"
    assert parse_document("", "README").title == "README"


def test_long_titles_are_truncated() -> None:
    assert parse_document("# " + "x" * 600, "a.md").title == "x" * 512


# --------------------------------------------------------------------------------------------------
# Front matter
# --------------------------------------------------------------------------------------------------


def test_invalid_front_matter_yaml_gives_a_warning_and_keeps_the_text() -> None:
    text = "---\ntitle: [unclosed\n---\n# Heading\n\nBody.\n"
    doc = parse_document(text, "x.md")
    assert doc.body == text
    assert doc.frontmatter == {}
    assert doc.title == "Heading"
    assert len(doc.warnings) == 1
    assert "not valid YAML" in doc.warnings[0]


def test_front_matter_that_is_not_a_mapping_is_kept_as_text() -> None:
    text = "---\n- a\n- b\n---\nBody\n"
    doc = parse_document(text, "x.md")
    assert doc.body == text
    assert doc.warnings == ("front matter is not a mapping; kept as text",)


@pytest.mark.parametrize(
    "text",
    [
        "---\n---\n# Real\n",  # Jekyll's empty front matter: this one was kept in the body before
        "---\n\n---\n# Real\n",
        "---\r\n---\r\n# Real\n",
        "\ufeff---\n---\n# Real\n",
    ],
)
def test_empty_front_matter_is_removed(text: str) -> None:
    doc = parse_document(text, "x.md")
    assert doc.body.lstrip("\r\n") == "# Real\n"
    assert doc.frontmatter == {}
    assert doc.title == "Real"
    assert doc.warnings == ()


def test_front_matter_must_open_the_file_and_may_close_with_dots() -> None:
    late = "\n---\ntitle: Late\n---\n# H\n"
    assert parse_document(late, "x.md").frontmatter == {}
    dots = parse_document("---\ntitle: Dots\n...\nBody", "x.md")
    assert (dots.title, dots.body) == ("Dots", "Body")
    eof = parse_document("---\ntitle: Only\n---", "x.md")
    assert (eof.title, eof.body) == ("Only", "")


def test_front_matter_dates_and_other_yaml_types_become_json_values() -> None:
    text = (
        "---\n"
        "date: 2024-01-02\n"
        "updated: 2024-01-02T10:30:00Z\n"
        "draft: false\n"
        "weight: 3\n"
        "ratio: 0.5\n"
        "empty:\n"
        "tags: [a, 2023-12-31]\n"
        "nested: {when: 2020-05-05, n: 1}\n"
        "---\nBody\n"
    )
    fm = parse_document(text, "x.md").frontmatter
    assert fm == {
        "date": "2024-01-02",
        "updated": "2024-01-02 10:30:00+00:00",
        "draft": False,
        "weight": 3,
        "ratio": 0.5,
        "empty": None,
        "tags": ["a", "2023-12-31"],
        "nested": {"when": "2020-05-05", "n": 1},
    }
    json.dumps(fm)  # storable in a JSON column


def test_a_byte_order_mark_does_not_hide_the_front_matter() -> None:
    doc = parse_document("\ufeff---\ntitle: T\n---\nBody", "x.md")
    assert (doc.title, doc.body) == ("T", "Body")


# --------------------------------------------------------------------------------------------------
# Front matter limits and values a JSON column cannot hold
# --------------------------------------------------------------------------------------------------


def rejected(front_matter: str) -> DocumentRejected:
    with pytest.raises(DocumentRejected) as info:
        parse_document(f"---\n{front_matter}\n---\n# Body\n", "x.md")
    assert info.value.reason == REJECTED_FRONT_MATTER
    return info.value


def billion_laughs(levels: int) -> str:
    lines = ['l0: &l0 "lol"']
    lines += [f"l{i}: &l{i} [{','.join([f'*l{i - 1}'] * 9)}]" for i in range(1, levels + 1)]
    return "\n".join(lines)


def test_billion_laughs_is_rejected_before_expansion() -> None:
    front_matter = billion_laughs(8)
    assert len(front_matter) < 400  # 9**8 = 43 million "lol" once expanded (254 MB of JSON before)
    error = rejected(front_matter)
    assert isinstance(error, InvalidInput)
    assert error.code == "document_rejected"
    assert "front matter expands to more than" in error.message
    assert "YAML aliases" in error.message


def test_a_few_aliases_are_fine() -> None:
    doc = parse_document("---\nbase: &b {tags: [a, b]}\nother: *b\nmerged: {<<: *b, x: 1}\n---\n", "x.md")
    assert doc.frontmatter == {
        "base": {"tags": ["a", "b"]},
        "other": {"tags": ["a", "b"]},
        "merged": {"tags": ["a", "b"], "x": 1},
    }
    assert parse_document("---\n" + billion_laughs(2) + "\n---\n", "x.md").frontmatter["l2"][0] == ["lol"] * 9


def test_too_many_aliases_are_rejected() -> None:
    aliases = "\n".join(f"k{i}: *a" for i in range(FRONTMATTER_MAX_ALIASES))
    assert len(parse_document(f"---\nv: &a 1\n{aliases}\n---\n", "x.md").frontmatter) == 101
    error = rejected(f"v: &a 1\n{aliases}\nlast: *a")
    assert f"more than {FRONTMATTER_MAX_ALIASES} YAML aliases" in error.message
    assert f"(line {FRONTMATTER_MAX_ALIASES + 3})" in error.message  # the line in the file


def test_an_alias_to_its_own_node_is_rejected() -> None:
    """Before: RecursionError."""
    rejected("a: &x [*x]")
    rejected("a: &x {b: *x}")


@pytest.mark.parametrize("nested", ["a: " + "[" * 5_000, "a: " + "{a: " * 5_000, "- " * 5_000 + "a"])
def test_deep_nesting_is_rejected(nested: str) -> None:
    """Before: RecursionError (or a JSON value nested thousands of levels deep)."""
    error = rejected(nested)
    assert f"nested deeper than {FRONTMATTER_MAX_DEPTH} levels" in error.message


def test_nesting_up_to_the_limit_is_fine() -> None:
    depth = FRONTMATTER_MAX_DEPTH - 1  # the mapping itself is one level
    doc = parse_document(f"---\na: {'[' * depth}1{']' * depth}\n---\n", "x.md")
    value = doc.frontmatter["a"]
    for _ in range(depth):
        value = value[0]
    assert value == 1
    rejected(f"a: {'[' * (depth + 1)}1{']' * (depth + 1)}")


def test_nesting_made_deep_by_aliases_is_rejected() -> None:
    half = FRONTMATTER_MAX_DEPTH // 2 + 1
    rejected(f"a: &a {'[' * half}1{']' * half}\nb: {'[' * half}*a{']' * half}")


def test_long_front_matter_is_rejected_before_parsing() -> None:
    fine = "a: " + "x" * (FRONTMATTER_MAX_CHARS - 3)
    assert parse_document(f"---\n{fine}\n---\n", "x.md").frontmatter["a"] == "x" * (FRONTMATTER_MAX_CHARS - 3)
    error = rejected(fine + "x")
    assert error.message == f"front matter is longer than {FRONTMATTER_MAX_CHARS:,} characters"


@pytest.mark.parametrize(
    "value",
    ["2024-13-45", "!!timestamp 2024-02-30", "!!timestamp x", "!!int x", "!!int", "!!bool x", "!!float"],
)
def test_values_yaml_cannot_build_keep_the_front_matter_as_text(value: str) -> None:
    """Before: ValueError or KeyError out of parse_document, failing the whole batch."""
    text = f"---\nwhen: {value}\n---\n# H\n"
    doc = parse_document(text, "x.md")
    assert (doc.body, doc.frontmatter, doc.title) == (text, {}, "H")
    assert "not valid YAML" in doc.warnings[0]


def test_front_matter_values_are_storable_as_json() -> None:
    doc = parse_document(
        "---\n"
        'title: "Ti\\0tle"\n'
        'nul: "a\\x00b\\u0000c"\n'
        'surrogate: "\\ud800x"\n'
        '"k\\0ey": 1\n'
        "nan: .nan\n"
        "inf: -.inf\n"
        "big: 0x1" + "0" * 4_000 + "\n"
        "small: 0x10\n"
        "tags: !!set {b, a}\n"
        "---\nBody\n",
        "x.md",
    )
    assert doc.title == "Title"
    fm = doc.frontmatter
    assert (fm["nul"], fm["surrogate"], fm["key"]) == ("abc", "?x", 1)
    assert (fm["nan"], fm["inf"], fm["small"], fm["tags"]) == ("nan", "-inf", 16, ["a", "b"])
    assert fm["big"] == "0x1" + "0" * 4_000
    json.dumps(fm, allow_nan=False).encode("utf-8")


def test_a_nul_in_the_text_does_not_reach_the_title() -> None:
    assert parse_document("# A\x00B\n", "x.md").title == "AB"


YAMLISH = st.lists(
    st.sampled_from(
        [
            "a",
            "b",
            ": ",
            "\n",
            "\n  ",
            "- ",
            "[",
            "]",
            "{",
            "}",
            ", ",
            "&x ",
            "*x",
            "&y ",
            "*y",
            "<<: ",
            "? ",
            "!!int ",
            "!!float ",
            "!!bool ",
            "!!timestamp ",
            "!!binary ",
            "!!set ",
            "!!omap ",
            "!!str ",
            "!!null ",
            "2024-13-45",
            "2024-01-02",
            '"\\0"',
            '"\\ud800"',
            ".nan",
            ".inf",
            "0x" + "f" * 30,
            "1e999",
            "1_0",
            "|\n  ",
            "'",
            '"',
            "#",
            "\x00",
            "~",
            "yes",
            "\t",
        ]
    ),
    max_size=30,
).map("".join)


@settings(max_examples=600, deadline=None)
@given(YAMLISH, st.text(max_size=20))
def test_any_front_matter_parses_to_storable_values_or_is_rejected(front_matter: str, body: str) -> None:
    try:
        doc = parse_document(f"---\n{front_matter}\n---\n{body}", "x.md")
    except DocumentRejected:
        return
    stored = json.dumps(doc.frontmatter, allow_nan=False, ensure_ascii=False)
    assert "\x00" not in stored
    assert "\\u0000" not in stored
    stored.encode("utf-8")
    for text in (doc.title, doc.description or ""):
        assert "\x00" not in text
        text.encode("utf-8")


# --------------------------------------------------------------------------------------------------
# Slugs
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "slug"),
    [
        ("docs/Getting Started.md", "docs/getting-started"),
        ("README.md", "readme"),
        ("README", "readme"),
        ("docs/My File (v2).MD", "docs/my-file-v2"),
        ("notes.tar.gz", "notes-tar"),
        ("/abs/path/Page.md", "abs/path/page"),
        ("docs/ spaced /x.md", "docs/spaced/x"),
        ("a/../b.md", "a/b"),  # was "a//b"
        ("a//b", "a/b"),
        ("Ünïcödé/Café.md", "n-c-d/caf"),
        ("日本語.md", "index"),
        ("", "index"),
        ("---.md", "index"),
    ],
)
def test_slugify_examples(path: str, slug: str) -> None:
    assert slugify(path) == slug


@pytest.mark.parametrize("path", ["a-" * 200, "ab/" * 100, "x" * 255 + " y", "x" * 255 + "/y.md"])
def test_long_slugs_are_cut_without_a_dangling_separator(path: str) -> None:
    slug = slugify(path)
    assert len(slug) <= 256
    assert slug[-1] not in "-/"  # the cut at 256 characters used to leave one


SLUG = re.compile(r"[a-z0-9]+(?:[-/][a-z0-9]+)*")


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from("aZ09 -_./é/日"), max_size=600))
def test_slugs_are_clean_and_short(path: str) -> None:
    slug = slugify(path)
    # Lowercase words separated by single dashes or slashes: no leading, trailing or doubled separator,
    # also after the cut to 256 characters (a cut used to leave a trailing dash).
    assert SLUG.fullmatch(slug), slug
    assert len(slug) <= 256
    assert slugify(path) == slug


# --------------------------------------------------------------------------------------------------
# Decoding file bytes
# --------------------------------------------------------------------------------------------------


def test_text_is_decoded() -> None:
    assert decode_text("héllo\n".encode(), 100) == "héllo\n"
    assert decode_text(b"", 100) == ""


def test_too_large_is_rejected_with_both_sizes() -> None:
    result = decode_text(b"x" * 2001, 2000)
    assert isinstance(result, Rejection)
    assert result.reason == "too_large"
    assert "2,001" in result.message
    assert "2,000" in result.message
    assert decode_text(b"x" * 2000, 2000) == "x" * 2000  # the limit itself is allowed


@pytest.mark.parametrize("position", [0, 100, 8191, 8192, 50_000])
def test_nul_bytes_mean_binary(position: int) -> None:
    data = bytearray(b"a" * 60_000)
    data[position] = 0
    result = decode_text(bytes(data), 10**6)
    # Also past the first 8 KiB, which used to pass and then fail on PostgreSQL (no NUL in text).
    assert isinstance(result, Rejection)
    assert result.reason == "binary"


@pytest.mark.parametrize(
    ("data", "offset"),
    [
        (b"abc\xff", 3),
        (b"\x80", 0),
        ("héllo wörld ".encode() + b"\xc3\x28", 14),
        (b"ok" + "é".encode()[:1], 2),  # truncated multi-byte sequence at the end
    ],
)
def test_invalid_utf8_names_the_byte_offset(data: bytes, offset: int) -> None:
    result = decode_text(data, 10**6)
    assert isinstance(result, Rejection)
    assert result.reason == "invalid_utf8"
    assert f"byte {offset}:" in result.message


def test_byte_order_mark_is_stripped() -> None:
    assert decode_text(b"\xef\xbb\xbf# Title\n", 100) == "# Title\n"
    assert decode_text(b"\xef\xbb\xbf", 100) == ""
    # Only one leading BOM is a byte order mark.
    assert decode_text(b"\xef\xbb\xbf\xef\xbb\xbfx", 100) == "\ufeffx"


# --------------------------------------------------------------------------------------------------
# Hashes and identities
# --------------------------------------------------------------------------------------------------


def test_document_id_is_deterministic_and_depends_on_every_part() -> None:
    a = document_id("store_1", "local", "docs/a.md")
    assert a == document_id("store_1", "local", "docs/a.md")
    assert re.fullmatch(r"doc_[0-9a-f]{32}", a)
    assert a != document_id("store_2", "local", "docs/a.md")
    assert a != document_id("store_1", "github", "docs/a.md")
    assert a != document_id("store_1", "local", "docs/b.md")
    # Parts are delimited: moving text from one part to the next changes the id.
    assert document_id("ab", "c", "d") != document_id("a", "bc", "d")


@given(st.text(max_size=30), st.text(max_size=30), st.text(max_size=30), st.text(max_size=30))
def test_document_ids_differ_per_store(store_a: str, store_b: str, source_type: str, source_id: str) -> None:
    same = document_id(store_a, source_type, source_id) == document_id(store_b, source_type, source_id)
    assert same == (store_a == store_b)


def test_vector_id_format() -> None:
    doc = document_id("store_1", "local", "a.md")
    assert vector_id(doc, 0) == f"{doc}#0"
    assert vector_id(doc, 17) == f"{doc}#17"
    assert vector_id(doc, 3).rsplit("#", 1) == [doc, "3"]


def test_content_and_chunk_hashes() -> None:
    assert content_hash(b"abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert chunk_hash("abc") == content_hash(b"abc")
    assert chunk_hash("é") == content_hash("é".encode())


CONFIG = st.tuples(
    st.sampled_from(["local", "fake", "openai"]),
    st.text(max_size=20),
    st.integers(1, 4096),
    st.integers(1, 2048),
    st.integers(0, 512),
)


@given(CONFIG, st.integers(0, 4), st.data())
def test_config_hash_changes_when_any_field_changes(
    config: tuple[str, str, int, int, int], field: int, data: st.DataObject
) -> None:
    changed: list[Any] = list(config)
    if isinstance(config[field], str):
        changed[field] = data.draw(st.text(max_size=20).filter(lambda v: v != config[field]))
    else:
        changed[field] = data.draw(st.integers(0, 5000).filter(lambda v: v != config[field]))
    assert config_hash(*config) == config_hash(*config)
    assert re.fullmatch(r"[0-9a-f]{64}", config_hash(*config))
    assert config_hash(*changed) != config_hash(*config)


def test_config_hash_fields_do_not_run_together() -> None:
    assert config_hash("local", "m", 12, 3, 4) != config_hash("local", "m1", 2, 3, 4)
    assert config_hash("a", "bc", 1, 2, 3) != config_hash("ab", "c", 1, 2, 3)
