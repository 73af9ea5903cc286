"""Tests for lightfast.ingest.config: parsing, validation, glob matching and file listing."""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from lightfast.errors import ConfigError
from lightfast.ingest.config import (
    CONFIG_FILENAMES,
    CONFIG_MAX_CHARS,
    DEFAULT_INCLUDE,
    DEFAULT_STORE,
    MAX_PATTERNS,
    ConfigProblem,
    SourceConfig,
    find_config_file,
    glob_to_regex,
    list_matching_files,
    load_config,
    parse_config,
    path_matches,
    validate_config,
)

VALID = "version: 1\nstore: docs\ninclude:\n  - 'docs/**/*.md'\n  - README.md\n"


def problems_of(text: str) -> list[ConfigProblem]:
    with pytest.raises(ConfigError) as info:
        parse_config(text)
    problems: list[ConfigProblem] = info.value.problems
    return problems


def one_problem(text: str) -> ConfigProblem:
    problems = problems_of(text)
    assert len(problems) == 1, problems
    return problems[0]


def write(root: Path, *paths: str) -> None:
    for rel in paths:
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("x", encoding="utf-8")


# --- valid configurations -------------------------------------------------------------------------------


def test_parse_list_form() -> None:
    config = parse_config(VALID)
    assert config == SourceConfig(
        store="docs", include=("docs/**/*.md", "README.md"), version=1, path="lightfast.yml"
    )
    assert config.exclude == ()
    assert not config.is_default


def test_parse_single_string_include_and_exclude() -> None:
    config = parse_config(
        "version: 1\nstore: team-docs-2\ninclude: '**/*.md'\nexclude: 'vendor/**'\n", ".lightfast.yaml"
    )
    assert config.store == "team-docs-2"
    assert config.include == ("**/*.md",)
    assert config.exclude == ("vendor/**",)
    assert config.path == ".lightfast.yaml"


def test_parse_exclude_list_and_empty_exclude() -> None:
    config = parse_config(VALID + "exclude: [a/*, 'b/**']\n")
    assert config.exclude == ("a/*", "b/**")
    assert parse_config(VALID + "exclude: []\n").exclude == ()


def test_store_of_twenty_characters_is_accepted() -> None:
    assert parse_config("version: 1\nstore: " + "a" * 20 + "\ninclude: x\n").store == "a" * 20


def test_source_config_is_frozen() -> None:
    config = parse_config(VALID)
    with pytest.raises(AttributeError):
        config.store = "other"  # type: ignore[misc]


# --- errors ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "field", "message", "line", "column"),
    [
        ("version: 2\nstore: docs\ninclude: x\n", "version", "must be 1", 1, 10),
        ("version: '1'\nstore: docs\ninclude: x\n", "version", "must be 1", 1, 10),
        ("version: 1.0\nstore: docs\ninclude: x\n", "version", "must be 1", 1, 10),
        ("version: true\nstore: docs\ninclude: x\n", "version", "must be 1", 1, 10),
        ("store: docs\nversion: 1\ninclude: x\n", None, None, None, None),  # key order does not matter
        (
            "version: 1\nstore: Docs\ninclude: x\n",
            "store",
            "must be 1-20 characters of a-z, 0-9 and '-'",
            2,
            8,
        ),
        ("version: 1\nstore: " + "a" * 21 + "\ninclude: x\n", "store", None, 2, 8),
        ("version: 1\nstore: ''\ninclude: x\n", "store", None, 2, 8),
        ("version: 1\nstore: 12\ninclude: x\n", "store", None, 2, 8),
        ("version: 1\nstore: my_docs\ninclude: x\n", "store", None, 2, 8),
        ("version: 1\nstore: docs\ninclude: []\n", "include", "must not be empty", 3, 10),
        (
            "version: 1\nstore: docs\ninclude:\n",
            "include",
            "must be a glob string or a non-empty list of glob strings",
            3,
            9,
        ),
        ("version: 1\nstore: docs\ninclude: {a: b}\n", "include", None, 3, 10),
        ("version: 1\nstore: docs\ninclude: 5\n", "include", None, 3, 10),
        (
            "version: 1\nstore: docs\ninclude: /docs/*.md\n",
            "include",
            "absolute globs are not allowed; write it relative to the repository root",
            3,
            10,
        ),
        (
            "version: 1\nstore: docs\ninclude:\n  - a.md\n  - ../x/*.md\n",
            "include[1]",
            "'.' and '..' segments are not allowed",
            5,
            5,
        ),
        ("version: 1\nstore: docs\ninclude:\n  - ./a.md\n", "include[0]", None, 4, 5),
        ("version: 1\nstore: docs\ninclude:\n  - ''\n", "include[0]", "must not be empty", 4, 5),
        ("version: 1\nstore: docs\ninclude:\n  - a//b\n", "include[0]", None, 4, 5),
        (
            "version: 1\nstore: docs\ninclude:\n  - '[z-a].md'\n",
            "include[0]",
            "invalid character range 'z-a'",
            4,
            5,
        ),
        ("version: 1\nstore: docs\ninclude:\n  - 3\n", "include[0]", "must be a glob string", 4, 5),
        ("version: 1\nstore: docs\ninclude:\n  - [a]\n", "include[0]", "must be a glob string", 4, 5),
        (
            "version: 1\nstore: docs\ninclude: x\nexclude:\n",
            "exclude",
            "must be a glob string or a list of glob strings",
            4,
            9,
        ),
        ("version: 1\nstore: docs\ninclude: x\nexclude: [a, /b]\n", "exclude[1]", None, 4, 14),
        ("version: 1\nstore: docs\ninclude: x\nsotre: docs\n", "sotre", "unknown key", 4, 1),
        ("version: 1\nstore: docs\ninclude: x\n1: y\n", "1", "unknown key", 4, 1),
        ("version: 1\nstore: docs\ninclude: x\n? [a]\n: y\n", "(file)", "keys must be plain strings", 4, 3),
        ("store: docs\ninclude: x\n", "version", "is required", None, None),
        ("version: 1\ninclude: x\n", "store", "is required", None, None),
        ("version: 1\nstore: docs\n", "include", "is required", None, None),
        (
            "version: 1\nstore: docs\ninclude: a\nstore: other\n",
            "store",
            "duplicate key (first set on line 2)",
            4,
            1,
        ),
        ("- a\n- b\n", "(file)", "must be a mapping of keys to values", 1, 1),
        ("just text\n", "(file)", "must be a mapping of keys to values", 1, 1),
        ("", "(file)", "is empty; it must set version, store and include", None, None),
        ("# only a comment\n", "(file)", None, None, None),
    ],
)
def test_single_problem(
    text: str, field: str | None, message: str | None, line: int | None, column: int | None
) -> None:
    if field is None:
        assert parse_config(text).store == "docs"
        return
    problem = one_problem(text)
    assert problem.field == field
    if message is not None:
        assert problem.message == message
    assert (problem.line, problem.column) == (line, column)


@pytest.mark.parametrize(
    ("text", "line", "column", "fragment"),
    [
        ("version: 1\nstore: docs\ninclude: [a\n", 4, 1, "expected ',' or ']'"),
        ("version: 1\nstore: docs\n  include: x\n", 3, 10, "mapping values are not allowed here"),
        ("version: 1\nstore: docs\ninclude: *.md\n", 3, 11, "must be quoted"),
        ("version: 1\n\tstore: docs\n", 2, 1, "found character '\\t'"),
        ("a: 1\n---\nb: 2\n", 2, 1, "expected a single document"),
    ],
)
def test_bad_yaml_has_line_and_column(text: str, line: int, column: int, fragment: str) -> None:
    problem = one_problem(text)
    assert problem.field == "(yaml)"
    assert (problem.line, problem.column) == (line, column)
    assert fragment in problem.message


def test_all_problems_reported_at_once() -> None:
    text = (
        "version: 2\n"  # 1
        "store: Bad Store\n"  # 2
        "include:\n"  # 3
        "  - '/abs/*.md'\n"  # 4
        "  - ok/*.md\n"  # 5
        "  - '../up'\n"  # 6
        "colour: red\n"  # 7
    )
    problems = problems_of(text)
    assert [(p.field, p.line) for p in problems] == [
        ("version", 1),
        ("store", 2),
        ("include[0]", 4),
        ("include[2]", 6),
        ("colour", 7),
    ]
    with pytest.raises(ConfigError) as info:
        parse_config(text, "conf.yml")
    error = info.value
    assert error.code == "invalid_config"
    assert str(error).startswith("conf.yml: line 1, column 10: version: must be 1; line 2, column 8: store")
    assert "line 7, column 1: colour: unknown key" in str(error)


def test_missing_keys_are_all_reported() -> None:
    problems = problems_of("colour: red\n")
    assert [(p.field, p.message) for p in problems] == [
        ("colour", "unknown key"),
        ("version", "is required"),
        ("store", "is required"),
        ("include", "is required"),
    ]


def test_problem_str() -> None:
    assert str(ConfigProblem("include[0]", "bad", 3, 5)) == "line 3, column 5: include[0]: bad"
    assert str(ConfigProblem("store", "bad", 2)) == "line 2: store: bad"
    assert str(ConfigProblem("version", "is required")) == "version: is required"


def test_unsafe_tags_are_not_constructed() -> None:
    problem = one_problem("version: 1\nstore: !!python/object:os.system docs\ninclude: x\n")
    assert (problem.field, problem.line) == ("store", 2)


# --- finding and loading --------------------------------------------------------------------------------


def test_default_config_when_no_file(tmp_path: Path) -> None:
    assert find_config_file(tmp_path) is None
    config = load_config(tmp_path)
    assert config == SourceConfig(store=DEFAULT_STORE, include=DEFAULT_INCLUDE)
    assert config.is_default
    assert config.path is None
    assert DEFAULT_STORE == "docs"
    assert validate_config(tmp_path) == []


@pytest.mark.parametrize("name", CONFIG_FILENAMES)
def test_each_filename_is_found(tmp_path: Path, name: str) -> None:
    (tmp_path / name).write_text(VALID, encoding="utf-8")
    assert find_config_file(tmp_path) == tmp_path / name
    config = load_config(tmp_path)
    assert config.path == name
    assert config.include == ("docs/**/*.md", "README.md")


def test_filename_priority(tmp_path: Path) -> None:
    assert CONFIG_FILENAMES == ("lightfast.yml", ".lightfast.yml", "lightfast.yaml", ".lightfast.yaml")
    for index, name in enumerate(reversed(CONFIG_FILENAMES)):
        (tmp_path / name).write_text(VALID.replace("store: docs", f"store: s{index}"), encoding="utf-8")
        assert find_config_file(tmp_path) == tmp_path / name
        assert load_config(tmp_path).store == f"s{index}"


def test_directory_named_like_config_is_ignored(tmp_path: Path) -> None:
    (tmp_path / "lightfast.yml").mkdir()
    (tmp_path / "lightfast.yaml").write_text(VALID, encoding="utf-8")
    assert find_config_file(tmp_path) == tmp_path / "lightfast.yaml"


def test_config_symlink_outside_root_is_ignored(tmp_path: Path) -> None:
    outside = tmp_path / "outside.yml"
    outside.write_text(VALID, encoding="utf-8")
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "lightfast.yml").symlink_to(outside)
    assert find_config_file(repo) is None


def test_load_config_raises_with_file_name(tmp_path: Path) -> None:
    (tmp_path / ".lightfast.yml").write_text("version: 3\nstore: docs\ninclude: x\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path)
    assert str(info.value) == ".lightfast.yml: line 1, column 10: version: must be 1"


def test_load_config_not_utf8(tmp_path: Path) -> None:
    (tmp_path / "lightfast.yml").write_bytes(b"version: 1\nstore: \xff\xfe\n")
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path)
    assert [str(p) for p in info.value.problems] == ["(file): is not valid UTF-8 text"]


# --- validate_config ------------------------------------------------------------------------------------


def test_validate_reports_glob_matching_nothing(tmp_path: Path) -> None:
    write(tmp_path, "docs/a.md", "README.md")
    (tmp_path / "lightfast.yml").write_text(
        "version: 1\nstore: docs\ninclude:\n  - docs/**/*.md\n  - guides/*.md\n  - README.md\n",
        encoding="utf-8",
    )
    assert validate_config(tmp_path) == [ConfigProblem("include[1]", "matches no file", 5, 5)]


def test_validate_single_glob_and_parse_problems_together(tmp_path: Path) -> None:
    (tmp_path / "lightfast.yml").write_text(
        "version: 1\nstore: BAD\ninclude: 'nothing/**'\n", encoding="utf-8"
    )
    assert validate_config(tmp_path) == [
        ConfigProblem("store", "must be 1-20 characters of a-z, 0-9 and '-'", 2, 8),
        ConfigProblem("include", "matches no file", 3, 10),
    ]


def test_validate_valid_config(tmp_path: Path) -> None:
    write(tmp_path, "docs/x/y.md", "README.md")
    (tmp_path / "lightfast.yml").write_text(VALID, encoding="utf-8")
    assert validate_config(tmp_path) == []


def test_validate_ignores_files_in_git_dir(tmp_path: Path) -> None:
    write(tmp_path, ".git/notes.md", "a.txt")
    (tmp_path / "lightfast.yml").write_text("version: 1\nstore: d\ninclude: '**/*.md'\n", encoding="utf-8")
    assert validate_config(tmp_path) == [ConfigProblem("include", "matches no file", 3, 10)]


def test_validate_bad_yaml(tmp_path: Path) -> None:
    (tmp_path / "lightfast.yml").write_text("version: [\n", encoding="utf-8")
    problems = validate_config(tmp_path)
    assert len(problems) == 1
    assert (problems[0].field, problems[0].line) == ("(yaml)", 2)


# --- matching and listing -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "path", "expected"),
    [
        ("**/*.md", "a.md", True),
        ("**/*.md", "x/y/a.md", True),
        ("**/*.md", "x/y/a.mdx", False),
        ("*.md", "a.md", True),
        ("*.md", "docs/a.md", False),
        ("*.md", ".md", True),
        ("docs/**", "docs/a", True),
        ("docs/**", "docs/a/b/c.txt", True),
        ("docs/**", "docs", False),
        ("docs/**", "docsx/a", False),
        ("docs/", "docs/a/b", True),
        ("docs/**/", "docs/a/b", True),
        ("**/**", "a", True),
        ("**/**/*.md", "a/b/c.md", True),
        ("a/**/**", "a/b/c", True),
        ("a/**/**", "a", False),
        ("docs/**/x.md", "docs/x.md", True),
        ("docs/**/x.md", "docs/a/b/x.md", True),
        ("docs/**/x.md", "other/docs/x.md", False),
        ("a?c", "abc", True),
        ("a?c", "a/c", False),
        ("[ab].md", "b.md", True),
        ("[ab].md", "c.md", False),
        ("[!ab].md", "c.md", True),
        ("[!ab].md", "a.md", False),
        ("[^ab].md", "a.md", False),
        ("[a-c]x", "bx", True),
        ("[a-c]x", "dx", False),
        ("[!a]", "/", False),
        ("[]]", "]", True),
        ("[a-]", "-", True),
        ("[a-b-]", "-", True),
        ("[+--]", ",", True),
        ("[+--]", "a", False),
        ("[", "[", True),
        ("a[b", "a[b", True),
        ("\\*.md", "*.md", True),
        ("\\*.md", "a.md", False),
        ("a**b", "axxb", True),
        ("a**b", "a/b", False),
        ("README", "README", True),
        ("README", "readme", False),
        ("a.md", "aXmd", False),
        ("a+(b).md", "a+(b).md", True),
        ("**/README.*", "pkg/README.rst", True),
    ],
)
def test_glob_to_regex(pattern: str, path: str, expected: bool) -> None:
    assert (glob_to_regex(pattern).match(path) is not None) is expected


@pytest.mark.parametrize("pattern", ["", "/a", "a/../b", "./a", "a//b", "[z-a]"])
def test_glob_to_regex_rejects_invalid(pattern: str) -> None:
    with pytest.raises(ValueError, match=r"."):
        glob_to_regex(pattern)


def test_default_include_globs() -> None:
    config = SourceConfig(DEFAULT_STORE, DEFAULT_INCLUDE)
    for path in ["README", "README.md", "a/README", "a/README.rst", "x.mdx", "a/b/c.md"]:
        assert path_matches(path, config), path
    for path in ["readme.txt", "a/b.txt", "README/x.txt", "a.md.bak"]:
        assert not path_matches(path, config), path


def test_path_matches_include_and_exclude() -> None:
    config = SourceConfig("docs", ("docs/**/*.md", "*.md"), ("docs/drafts/**", "CHANGELOG.md"))
    assert path_matches("docs/a.md", config)
    assert path_matches("README.md", config)
    assert not path_matches("docs/drafts/wip.md", config)
    assert not path_matches("CHANGELOG.md", config)
    assert not path_matches("src/a.md", config)


def test_list_matching_files(tmp_path: Path) -> None:
    write(
        tmp_path,
        "README.md",
        "CHANGELOG.md",
        "docs/index.md",
        "docs/guide/setup.md",
        "docs/guide/setup.txt",
        "docs/drafts/wip.md",
        "src/pkg/notes.md",
        ".git/HEAD.md",
        "docs/.git/x.md",
        ".hg/y.md",
    )
    config = SourceConfig("docs", ("**/*.md",), ("docs/drafts/**", "CHANGELOG.md"))
    assert list_matching_files(tmp_path, config) == [
        "README.md",
        "docs/guide/setup.md",
        "docs/index.md",
        "src/pkg/notes.md",
    ]
    only_docs = SourceConfig("docs", ("docs/**",))
    assert list_matching_files(tmp_path, only_docs) == [
        "docs/drafts/wip.md",
        "docs/guide/setup.md",
        "docs/guide/setup.txt",
        "docs/index.md",
    ]


def test_list_matching_files_symlinks(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    write(outside, "secret.md", "dir/inner.md")
    repo = tmp_path / "repo"
    write(repo, "real/a.md")
    (repo / "inside-link.md").symlink_to(repo / "real" / "a.md")
    (repo / "outside-link.md").symlink_to(outside / "secret.md")
    (repo / "linked-dir").symlink_to(outside / "dir", target_is_directory=True)
    (repo / "loop").symlink_to(repo, target_is_directory=True)
    (repo / "broken.md").symlink_to(repo / "missing.md")
    config = SourceConfig("docs", ("**/*.md",))
    assert list_matching_files(repo, config) == ["inside-link.md", "real/a.md"]


def test_list_matching_files_empty_tree(tmp_path: Path) -> None:
    assert list_matching_files(tmp_path, SourceConfig("docs", DEFAULT_INCLUDE)) == []


# --- properties -----------------------------------------------------------------------------------------

SAFE_CHARS = st.characters(codec="utf-8", exclude_characters="/*?[]\\!^\n\r")
SEGMENT = st.text(SAFE_CHARS, min_size=1, max_size=8).filter(lambda s: s not in (".", ".."))
PATHS = st.lists(SEGMENT, min_size=1, max_size=5).map("/".join)


@given(PATHS, st.integers(min_value=1, max_value=4))
def test_double_star_matches_every_path(path: str, repeat: int) -> None:
    assert glob_to_regex("**/*").match(path)
    assert glob_to_regex("/".join(["**"] * repeat)).match(path)
    assert glob_to_regex("**/" * repeat + "*").match(path)


@given(PATHS, PATHS)
def test_literal_pattern_matches_exactly_itself(pattern: str, other: str) -> None:
    regex = glob_to_regex(pattern)
    assert regex.match(pattern)
    assert (regex.match(other) is not None) is (other == pattern)
    assert not regex.match(pattern + "x")
    assert not regex.match("x/" + pattern)


@given(PATHS)
def test_star_never_crosses_slash(path: str) -> None:
    depth = path.count("/") + 1
    assert (glob_to_regex("*").match(path) is not None) is (depth == 1)
    assert (glob_to_regex("*/*").match(path) is not None) is (depth == 2)
    assert (glob_to_regex("?" * len(path)).match(path) is not None) is (depth == 1)


@given(PATHS, PATHS)
def test_directory_double_star_matches_everything_below(directory: str, rest: str) -> None:
    regex = glob_to_regex(directory + "/**")
    assert regex.match(f"{directory}/{rest}")
    assert not regex.match(directory)


@given(st.text(st.sampled_from("ab*?[]!-/.\\"), max_size=12), PATHS)
def test_any_glob_is_valid_or_value_error(pattern: str, path: str) -> None:
    try:
        regex = glob_to_regex(pattern)
    except ValueError:
        return
    assert isinstance(regex, re.Pattern)
    regex.match(path)


@given(
    st.text(st.sampled_from("ab*?[]!-"), min_size=1, max_size=8), st.text("ab]![-*?", min_size=1, max_size=6)
)
def test_single_segment_agrees_with_fnmatch(pattern: str, name: str) -> None:
    """Inside one segment (no ``**`` segment, no ``^``/``\\``) the semantics are fnmatch's."""
    assume(pattern != "**")
    try:
        regex = glob_to_regex(pattern)
    except ValueError:
        assume(False)
        return
    assert (regex.match(name) is not None) is fnmatch.fnmatchcase(name, pattern)


# --- limits -----------------------------------------------------------------------------------------------


def globs_yaml(key: str, count: int) -> str:
    return f"{key}:\n" + "".join(f"  - 'd{i}/*.md'\n" for i in range(count))


def test_at_most_max_patterns_globs() -> None:
    base = "version: 1\nstore: docs\n"
    assert len(parse_config(base + globs_yaml("include", MAX_PATTERNS)).include) == MAX_PATTERNS
    problem = one_problem(base + globs_yaml("include", MAX_PATTERNS + 1))
    assert problem.field == "include"
    assert f"has {MAX_PATTERNS + 1} globs; at most {MAX_PATTERNS} are allowed" in problem.message
    problem = one_problem(base + globs_yaml("include", 200) + globs_yaml("exclude", 100))
    assert problem.field == "exclude"
    assert "include and exclude have 300 globs together" in problem.message


def test_ten_thousand_globs_are_one_problem() -> None:
    text = "version: 1\nstore: docs\ninclude: [" + ", ".join(f"'a{i}*'" for i in range(10_001)) + "]\n"
    assert one_problem(text).field == "include"


def test_long_globs_are_refused_naming_the_item() -> None:
    problem = one_problem(VALID + "exclude: ['" + "a*" * 300 + "']\n")
    assert (problem.field, problem.message) == ("exclude[0]", "is longer than 512 characters")
    problem = one_problem(VALID + "exclude: ['" + "a/" * 40 + "b']\n")
    assert (problem.field, problem.message) == ("exclude[0]", "has more than 32 path segments")


def test_yaml_aliases_are_refused() -> None:
    problem = one_problem("version: 1\nstore: docs\ninclude: &g ['*.md']\nexclude: *g\n")
    assert (problem.field, problem.line, problem.column) == ("(yaml)", 4, 10)
    assert "aliases" in problem.message
    # An unquoted glob starting with '*' still gets its hint.
    assert "must be quoted" in one_problem(VALID + "exclude: *.md\n").message


def test_billion_laughs_is_refused_quickly() -> None:
    levels = "".join(f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]\n" for i in range(1, 9))
    problem = one_problem("l0: &l0 [lol]\n" + levels + "version: 1\nstore: docs\ninclude: '*.md'\n")
    assert problem.field == "(yaml)"
    assert "aliases" in problem.message


@pytest.mark.parametrize("opening", ["[", "{a: "])
def test_deep_nesting_is_refused_without_recursion_error(opening: str) -> None:
    problem = one_problem(VALID + "exclude: " + opening * 5_000 + "\n")
    assert problem.field == "(yaml)"
    assert "nested deeper than 8 levels" in problem.message


def test_a_huge_file_is_refused_before_parsing() -> None:
    problem = one_problem(VALID + "#" * CONFIG_MAX_CHARS + "\n")
    assert problem == ConfigProblem("(file)", f"is longer than {CONFIG_MAX_CHARS:,} characters")


def test_a_parsed_config_keeps_its_compiled_globs() -> None:
    config = parse_config(VALID + "exclude: docs/drafts/**\n")
    assert config.path_filter is config.path_filter
    assert path_matches("docs/x/a.md", config)
    assert not path_matches("docs/drafts/a.md", config)


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("chunk_size: 'big'", "chunk_size: must be a whole number from 16 to 8192"),
        ("chunk_size: 8", "chunk_size: must be a whole number from 16 to 8192"),
        ("chunk_overlap: -1", "chunk_overlap: must be a whole number from 0 to 4096"),
        ("chunk_overlap: 1.5", "chunk_overlap: must be a whole number from 0 to 4096"),
    ],
)
def test_chunking_keys_are_checked(line: str, problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(f"version: 1\nstore: docs\ninclude: ['*.md']\n{line}\n")
    assert problem in str(caught.value)


def test_chunking_keys_are_read() -> None:
    config = parse_config("version: 1\nstore: docs\ninclude: ['*.md']\nchunk_size: 300\nchunk_overlap: 30\n")
    assert (config.chunk_size, config.chunk_overlap) == (300, 30)
