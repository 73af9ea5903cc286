"""The git side of the GitHub stand-in: served repositories, read with the ``git`` CLI (committed content)."""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

# Refs reach `git rev-parse`: refuse options, ranges, reflog and `rev:path` forms GitHub does not take.
SAFE_REF = re.compile(r"(?!-)(?!.*\.\.)(?!.*@\{)[^\s:?*\[\\]+")
FULL_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
_STATUS = {"A": "added", "D": "removed", "M": "modified", "R": "renamed", "C": "copied", "T": "changed"}
_LOG_FORMAT = "%H%x00%T%x00%P%x00%an%x00%ae%x00%at%x00%aI%x00%cn%x00%ce%x00%ct%x00%cI%x00%B"
_GIT_REPO_VARIABLES = frozenset(
    {"GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY", "GIT_COMMON_DIR", "GIT_NAMESPACE"}
)


@dataclass
class Repo:
    full_name: str
    path: Path
    repo_id: int
    installation_id: int
    private: bool
    default_branch: str
    created: float


@dataclass(frozen=True)
class Person:
    name: str
    email: str
    epoch: int
    iso: str  # with the person's own UTC offset, as push payloads show it


@dataclass(frozen=True)
class Commit:
    sha: str
    tree: str
    parents: list[str]
    author: Person
    committer: Person
    message: str


@dataclass(frozen=True)
class Change:
    status: str
    path: str
    old_path: str
    sha: str
    additions: int = 0
    deletions: int = 0


@dataclass(frozen=True)
class Entry:
    mode: str
    type: str
    sha: str
    size: int | None
    path: str


class GitError(Exception):
    pass


def git(path: Path, *args: str) -> bytes:
    # Inherited repository variables (set when running inside a git hook) would redirect every command.
    env = {k: v for k, v in os.environ.items() if k not in _GIT_REPO_VARIABLES}
    # No optional locks: reading must never take index.lock while a test commits in the same tree.
    env |= {"GIT_OPTIONAL_LOCKS": "0", "LC_ALL": "C", "GIT_TERMINAL_PROMPT": "0"}
    cmd = ["git", "-C", str(path), "-c", "log.showSignature=false", *args]
    proc = subprocess.run(cmd, capture_output=True, env=env, check=False)
    if proc.returncode != 0:
        raise GitError(proc.stderr.decode("utf-8", "replace").strip())
    return proc.stdout


def resolve_ref(path: Path, ref: str, kind: str = "commit") -> str | None:
    if not SAFE_REF.fullmatch(ref):
        return None
    try:
        out = git(path, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{{kind}}}")
    except GitError:
        return None
    return out.decode().strip()


def read_commits(path: Path, *args: str) -> list[Commit]:
    out = git(path, "log", "-z", f"--format={_LOG_FORMAT}", *args, "--").decode("utf-8", "replace")
    parts, found = out.split("\0"), []
    for i in range(0, len(parts) - 11, 12):
        sha, tree, parents, an, ae, at, ai, cn, ce, ct, ci, message = parts[i : i + 12]
        author, committer = Person(an, ae, int(at), ai), Person(cn, ce, int(ct), ci)
        found.append(Commit(sha, tree, parents.split(), author, committer, message.rstrip("\n")))
    return found


def read_commit(path: Path, sha: str) -> Commit:
    return read_commits(path, "-1", sha)[0]


def ls_tree(path: Path, tree: str, *, recursive: bool = False, prefix: str = "") -> list[Entry]:
    out = git(path, "ls-tree", "-z", "-l", *(["-r", "-t"] if recursive else []), tree)
    entries = []
    for record in out.decode("utf-8", "surrogateescape").split("\0"):
        if record:
            meta, name = record.split("\t", 1)
            mode, kind, sha, size = meta.split()
            entries.append(Entry(mode, kind, sha, None if size == "-" else int(size), prefix + name))
    return entries


def diff_tree(path: Path, old: str | None, new: str, *, renames: bool, stats: bool) -> list[Change]:
    args = ["diff-tree", "-r", "-z", "--no-commit-id", "-M" if renames else "--no-renames"]
    args += [old, new] if old else ["--root", new]
    tokens = git(path, *args).decode("utf-8", "surrogateescape").split("\0")
    changes, i = [], 0
    while i < len(tokens) and tokens[i].startswith(":"):
        _, _, old_sha, new_sha, status = tokens[i][1:].split(" ")
        two = status[0] in "RC"  # renames and copies name the old path, then the new one
        old_path, new_path = (tokens[i + 1], tokens[i + 2]) if two else (tokens[i + 1], tokens[i + 1])
        i += 3 if two else 2
        sha = old_sha if status[0] == "D" else new_sha
        changes.append(Change(_STATUS.get(status[0], "changed"), new_path, old_path, sha))
    if not stats:
        return changes
    tokens, i, counts = git(path, *args, "--numstat").decode("utf-8", "surrogateescape").split("\0"), 0, []
    while i < len(tokens) and tokens[i]:
        added, deleted, name = tokens[i].split("\t", 2)
        i += 3 if name == "" else 1
        # numstat prints "-" for a binary file, which GitHub counts as 0 lines.
        counts.append((int(added) if added != "-" else 0, int(deleted) if deleted != "-" else 0))
    return [
        Change(c.status, c.path, c.old_path, c.sha, a, d) for c, (a, d) in zip(changes, counts, strict=True)
    ]


def lookup_path(repo: Repo, commit: str, parts: list[str]) -> Entry | None:
    if any(p in (".", "..") for p in parts):
        return None
    if not parts:
        return Entry("040000", "tree", resolve_ref(repo.path, commit, "tree") or "", None, "")
    parent = "/".join(parts[:-1])
    try:  # `<commit>:<dir>` takes the directory literally, unlike ls-tree's path patterns
        siblings = ls_tree(repo.path, f"{commit}:{parent}", prefix=f"{parent}/" if parent else "")
    except GitError:
        return None
    return next((e for e in siblings if e.path == "/".join(parts)), None)


def submodule_url(repo: Repo, commit: str, path: str) -> str:
    try:
        out = git(repo.path, "config", "-z", "--blob", f"{commit}:.gitmodules", "--list")
    except GitError:
        return ""
    pairs = dict(item.split("\n", 1) for item in out.decode().split("\0") if "\n" in item)
    names = [k.removesuffix(".path") for k, v in pairs.items() if k.endswith(".path") and v == path]
    return pairs.get(f"{names[0]}.url", "") if names else ""
