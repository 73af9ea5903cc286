"""The local git repository source: real repositories built with the git CLI in tmp_path, plus property
tests of the pure raw-diff parser."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lightfast.errors import InvalidInput
from lightfast.ingest.config import DEFAULT_INCLUDE, SourceConfig
from lightfast.sources.git import GitSource, parse_raw_diff

ALL = SourceConfig("docs", ("**",))


@pytest.fixture(autouse=True)
def _isolated_git(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # The machine's git configuration must not change what the tests see, and discovery must not
    # climb out of tmp_path into a repository that happens to contain it.
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    for name in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE"):
        monkeypatch.delenv(name, raising=False)


def git(repo: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "-C", str(repo), *args],
        capture_output=True,
        check=True,
    )
    return result.stdout.decode().strip()


def init(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", "main")
    return path


def write(repo: Path, files: dict[str, bytes | str]) -> None:
    for name, content in files.items():
        target = repo / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content.encode() if isinstance(content, str) else content)


def commit(repo: Path, files: dict[str, bytes | str] | None = None, message: str = "c") -> str:
    write(repo, files or {})
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--allow-empty", "-m", message)
    return git(repo, "rev-parse", "HEAD")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return init(tmp_path / "repo")


def read_all(source: GitSource, paths: list[str], revision: str | None) -> dict[str, bytes]:
    return {f.path: f.read() for f in source.files(paths, revision)}


# --- open ---------------------------------------------------------------------------------------------


def test_open_not_a_directory(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    for path in (tmp_path / "missing", tmp_path / "file"):
        with pytest.raises(InvalidInput, match="not a directory") as err:
            GitSource.open(path)
        assert err.value.field == "path"
        assert str(path) in err.value.message


def test_open_not_a_repository(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(InvalidInput, match="not a git repository") as err:
        GitSource.open(plain)
    assert err.value.field == "path"
    assert str(plain) in err.value.message


def test_open_subdirectory_gives_top_level(repo: Path) -> None:
    commit(repo, {"docs/deep/a.md": "a"})
    source = GitSource.open(repo / "docs" / "deep")
    assert source.root == repo.resolve()
    assert source.branch == "main"
    assert (source.source_type, source.external_key, source.name) == ("git", str(repo.resolve()), "repo")
    assert source.source_id("docs/deep/a.md") == f"{repo.resolve()}:docs/deep/a.md"


def test_open_detached_head_needs_a_branch(repo: Path) -> None:
    first = commit(repo, {"a.md": "a"})
    commit(repo, {"a.md": "b"})
    git(repo, "checkout", "-q", "--detach", first)
    with pytest.raises(InvalidInput, match="detached") as err:
        GitSource.open(repo)
    assert err.value.field == "branch"
    source = GitSource.open(repo, "main")
    assert source.head() != first  # the branch head, not the checked-out commit


def test_open_unknown_or_invalid_branch(repo: Path) -> None:
    commit(repo, {"a.md": "a"})
    for branch in ("nope", "-x", "a..b"):
        with pytest.raises(InvalidInput) as err:
            GitSource.open(repo, branch)
        assert err.value.field == "branch"
        assert branch in err.value.message


def test_open_other_branch_and_bare_mirror(repo: Path, tmp_path: Path) -> None:
    commit(repo, {"a.md": "main"})
    git(repo, "checkout", "-q", "-b", "feature")
    feature = commit(repo, {"a.md": "feature"})
    git(repo, "checkout", "-q", "main")
    source = GitSource.open(repo, "feature")
    assert source.head() == feature
    assert read_all(source, ["a.md"], None) == {"a.md": b"feature"}

    git(tmp_path, "clone", "-q", "--bare", str(repo), str(tmp_path / "mirror.git"))
    bare = GitSource.open(tmp_path / "mirror.git" / "refs")
    assert bare.root == (tmp_path / "mirror.git").resolve()
    assert bare.branch == "main"
    assert read_all(bare, ["a.md"], None) == {"a.md": b"main"}


# --- empty repository ------------------------------------------------------------------------------------


def test_empty_repository(repo: Path) -> None:
    source = GitSource.open(repo)
    assert source.branch == "main"
    assert source.head() is None
    assert source.paths(ALL, None) == []
    report = source.inspect_config(None)
    assert report.status == "unconfigured"
    assert report.config is not None
    assert report.config.include == DEFAULT_INCLUDE
    [missing] = source.files(["a.md"], None)
    with pytest.raises(FileNotFoundError):
        missing.read()
    with pytest.raises(InvalidInput):  # only the unborn branch may lack a commit
        GitSource.open(repo, "other")


# --- paths and config at a revision ----------------------------------------------------------------------


def test_paths_at_revision_ignore_working_tree(repo: Path) -> None:
    first = commit(repo, {"README.md": "r", "docs/a.md": "a", "src/x.py": "x"})
    second = commit(repo, {"docs/b.md": "b"})
    write(repo, {"docs/uncommitted.md": "u", "docs/a.md": "edited"})
    os.symlink("docs/a.md", repo / "link.md")
    git(repo, "add", "link.md")  # staged, not committed: still not seen
    source = GitSource.open(repo)
    config = SourceConfig("docs", ("**/*.md",), ("docs/b*",))
    assert source.paths(config, first) == ["README.md", "docs/a.md"]
    assert source.paths(config, second) == ["README.md", "docs/a.md"]
    assert source.paths(ALL, None) == ["README.md", "docs/a.md", "docs/b.md", "src/x.py"]
    assert read_all(source, ["docs/a.md"], None) == {"docs/a.md": b"a"}


def test_symlinks_and_submodules_are_not_paths(repo: Path) -> None:
    commit(repo, {"a.md": "a"})
    os.symlink("a.md", repo / "link.md")
    sub = commit(repo)
    git(repo, "update-index", "--add", "--cacheinfo", f"160000,{sub},vendor/sub")
    head = commit(repo)
    source = GitSource.open(repo)
    assert source.paths(ALL, head) == ["a.md"]


def test_config_detection_at_revisions(repo: Path) -> None:
    bare = commit(repo, {"README.md": "r", "docs/a.md": "a"})
    good = commit(repo, {"lightfast.yml": "version: 1\nstore: kb\ninclude: ['docs/**', 'none/*.md']\n"})
    broken = commit(
        repo, {".lightfast.yml": "x", "lightfast.yml": "version: 1\nstore: Not Valid!\ninclude: x\n"}
    )
    write(repo, {"lightfast.yml": "version: 1\nstore: later\ninclude: '**'\n"})  # uncommitted
    source = GitSource.open(repo)

    unconfigured = source.inspect_config(bare)
    assert (unconfigured.status, unconfigured.path) == ("unconfigured", None)
    assert unconfigured.config is not None
    assert unconfigured.config.is_default

    configured = source.inspect_config(good)
    assert (configured.status, configured.path) == ("configured", "lightfast.yml")
    assert configured.config is not None
    assert (configured.config.store, configured.config.include) == ("kb", ("docs/**", "none/*.md"))
    assert configured.message is not None
    assert "include[1]" in configured.message
    assert source.paths(configured.config, good) == ["docs/a.md"]

    for report in (source.inspect_config(broken), source.inspect_config(None)):
        assert (report.status, report.path, report.config) == ("error", "lightfast.yml", None)
        assert report.message is not None
        assert "store" in report.message


def test_unknown_revision_is_an_error(repo: Path) -> None:
    commit(repo, {"a.md": "a"})
    source = GitSource.open(repo)
    with pytest.raises(RuntimeError, match="ls-tree"):
        source.paths(ALL, "0" * 40)
    with pytest.raises(InvalidInput):
        source.paths(ALL, "--output=/tmp/x")


# --- files -------------------------------------------------------------------------------------------------


def test_files_are_read_from_the_commit(repo: Path) -> None:
    binary = bytes(range(256)) * 3
    names = {
        "with space.md": b"spaced\r\n",
        "bin/data.bin": binary,
        "crlf.md": b"a\r\nb\r\n",
        "empty.md": b"",
    }
    first = commit(repo, {**names, "run.sh": b"#!/bin/sh\n"})
    os.chmod(repo / "run.sh", 0o755)
    second = commit(repo, {"with space.md": "changed"})
    write(repo, {"crlf.md": "working tree"})
    source = GitSource.open(repo)

    files = source.files([*names, "run.sh"], first)
    assert {f.path: f.read() for f in files} == {**names, "run.sh": b"#!/bin/sh\n"}
    spaced = files[0]
    assert spaced.size == len(b"spaced\r\n")
    assert spaced.source_id == f"{source.root}:with space.md"
    assert spaced.url == (source.root / "with space.md").as_uri()
    blob_sha = git(repo, "rev-parse", f"{first}:with space.md")
    assert spaced.metadata == {
        "type": "git",
        "path": "with space.md",
        "root": str(source.root),
        "branch": "main",
        "commitSha": first,
        "blobSha": blob_sha,
    }
    assert read_all(source, ["with space.md"], second) == {"with space.md": b"changed"}
    assert source.files(["crlf.md"], None)[0].metadata["commitSha"] == second


def test_non_utf8_file_name(repo: Path) -> None:
    raw = os.fsencode(repo) + b"/caf\xe9 na\xefve.md"
    try:
        with open(raw, "wb") as handle:
            handle.write(b"latin-1 name")
    except OSError:
        pytest.skip("the filesystem does not accept non-UTF-8 names")
    head = commit(repo)
    source = GitSource.open(repo)
    [path] = source.paths(ALL, head)
    assert os.fsencode(path) == b"caf\xe9 na\xefve.md"
    [file] = source.files([path], head)
    assert file.read() == b"latin-1 name"
    assert file.url is not None
    assert file.url.endswith("caf%E9%20na%EFve.md")


def test_large_blobs_are_read_lazily(repo: Path) -> None:
    big = os.urandom(4096)
    first = commit(repo, {"big.bin": big, "small.md": "tiny", "same.md": "tiny"})
    source = GitSource.open(repo, max_blob_bytes=100)
    files = {f.path: f for f in source.files(["big.bin", "small.md", "same.md"], first)}
    assert files["big.bin"].size == 4096
    commit(repo, {"big.bin": b"replaced"})  # the lazy read still returns the blob of `first`
    assert files["big.bin"].read() == big
    assert files["small.md"].read() == files["same.md"].read() == b"tiny"


def test_missing_path_raises_on_read(repo: Path) -> None:
    first = commit(repo, {"a.md": "a", "gone.md": "g"})
    git(repo, "rm", "-q", "gone.md")
    second = commit(repo)
    source = GitSource.open(repo)
    present, gone, never = source.files(["a.md", "gone.md", "dir/never.md"], second)
    assert present.read() == b"a"
    assert gone.size is None
    assert never.size is None
    for file in (gone, never):
        with pytest.raises(FileNotFoundError):
            file.read()
    assert source.files(["gone.md"], first)[0].read() == b"g"


# --- changes ---------------------------------------------------------------------------------------------


def test_changes_across_commits(repo: Path) -> None:
    c1 = commit(repo, {"keep.md": "k", "edit.md": "1", "drop.md": "d", "old name.md": "r", "link.md": "l"})
    c2 = commit(repo, {"edit.md": "2", "new.md": "n"})
    git(repo, "rm", "-q", "drop.md")
    (repo / "docs").mkdir()
    git(repo, "mv", "old name.md", "docs/new name.md")
    c3 = commit(repo)
    os.remove(repo / "link.md")
    os.symlink("keep.md", repo / "link.md")
    c4 = commit(repo)
    git(repo, "update-index", "--add", "--cacheinfo", f"160000,{c1},vendor/sub")
    c5 = commit(repo)
    os.symlink("keep.md", repo / "other-link.md")
    c6 = commit(repo, {"edit.md": "3"})
    source = GitSource.open(repo)

    assert source.changes(c1, c2) == {"edit.md": "upsert", "new.md": "upsert"}
    assert source.changes(c2, c3) == {
        "drop.md": "remove",
        "old name.md": "remove",
        "docs/new name.md": "upsert",
    }
    assert source.changes(c3, c4) == {"link.md": "remove"}
    assert source.changes(c4, c5) == {}
    assert source.changes(c5, c6) == {"edit.md": "upsert"}
    assert source.changes(c6, c6) == {}
    assert source.changes(c1, c6) == {
        "edit.md": "upsert",
        "new.md": "upsert",
        "drop.md": "remove",
        "old name.md": "remove",
        "docs/new name.md": "upsert",
        "link.md": "remove",
    }
    # Backwards: the symlink turns back into a file.
    assert source.changes(c4, c3) == {"link.md": "upsert"}


def test_changes_with_unknown_base(repo: Path) -> None:
    commit(repo, {"a.md": "a"})
    orphan = commit(repo, {"b.md": "b"})
    git(repo, "reset", "-q", "--hard", "HEAD~1")
    git(repo, "reflog", "expire", "--expire=now", "--all")
    git(repo, "gc", "-q", "--prune=now")
    head = commit(repo, {"c.md": "c"})
    source = GitSource.open(repo)
    assert source.changes(orphan, head) is None
    assert source.changes("0" * 40, head) is None
    assert source.changes("not-a-ref", head) is None
    assert source.changes("--all", head) is None
    tree = git(repo, "rev-parse", "HEAD^{tree}")
    assert source.changes(tree, head) is None  # an object, but not a commit


# --- parse_raw_diff ----------------------------------------------------------------------------------------

REGULAR = ("100644", "100755")
OTHER = ("120000", "160000")
NONE = "000000"
segment = st.text(st.characters(exclude_characters="\0/", exclude_categories=["Cs"]), min_size=1, max_size=8)
path_strategy = st.lists(segment, min_size=1, max_size=3).map("/".join)


@st.composite
def raw_record(draw: st.DrawFn) -> tuple[str, str, str]:
    """(status, old mode, new mode) with modes plausible for the status."""
    status = draw(st.sampled_from("AMDT"))
    mode = st.sampled_from(REGULAR + OTHER)
    if status == "A":
        return status, NONE, draw(mode)
    if status == "D":
        return status, draw(mode), NONE
    if status == "M":
        old = draw(mode)
        return status, old, draw(st.sampled_from(REGULAR)) if old in REGULAR else old
    old, new = draw(mode), draw(mode)
    return status, old, new


def encode(records: list[tuple[str, tuple[str, str, str]]]) -> bytes:
    sha = "a" * 40
    return b"".join(
        f":{old} {new} {sha} {sha} {status}".encode() + b"\0" + path.encode() + b"\0"
        for path, (status, old, new) in records
    )


@given(st.dictionaries(path_strategy, raw_record(), max_size=30))
def test_parse_raw_diff_properties(records: dict[str, tuple[str, str, str]]) -> None:
    changes = parse_raw_diff(encode(list(records.items())))
    assert set(changes) <= set(records)  # nothing invented
    for path, (_, old, new) in records.items():
        if new in REGULAR:
            assert changes[path] == "upsert"
        elif old in REGULAR:
            assert changes[path] == "remove"
        else:
            assert path not in changes


@given(path_strategy, st.sampled_from(REGULAR), st.sampled_from(REGULAR))
def test_parse_raw_diff_delete_then_add_keeps_the_file(path: str, old: str, new: str) -> None:
    both = encode([(path, ("D", old, NONE)), (path, ("A", NONE, new))])
    assert parse_raw_diff(both) == {path: "upsert"}


def test_parse_raw_diff_renames_copies_and_bytes() -> None:
    sha = b"b" * 40
    output = (
        b":100644 100644 " + sha + b" " + sha + b" R100\0old.md\0new.md\0"
        b":100644 100644 " + sha + b" " + sha + b" C075\0src.md\0copy.md\0"
        b":000000 100644 " + sha + b" " + sha + b" A\0caf\xe9.md\0"
    )
    assert parse_raw_diff(output) == {
        "old.md": "remove",
        "new.md": "upsert",
        "copy.md": "upsert",
        "caf\udce9.md": "upsert",
    }
    assert parse_raw_diff(b"") == {}
    for bad in (b"garbage\0x\0", b":100644 100644 " + sha + b" " + sha + b" M\0"):
        with pytest.raises(ValueError, match="raw diff"):
            parse_raw_diff(bad)
