"""The git side of the GitHub stand-in: served repositories, read with the ``git`` CLI (committed content)."""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

# Refs reach `git rev-parse`: refuse options, ranges, reflog and `rev:path` forms GitHub does not take.
_SAFE_REF = re.compile(r"(?!-)(?!.*\.\.)(?!.*@\{)[^\s:?*\[\\]+")
_FULL_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
_STATUS = {"A": "added", "D": "removed", "M": "modified", "R": "renamed", "C": "copied", "T": "changed"}
_LOG_FORMAT = "%H%x00%T%x00%P%x00%an%x00%ae%x00%at%x00%aI%x00%cn%x00%ce%x00%ct%x00%cI%x00%B"
_GIT_REPO_VARIABLES = frozenset(
    {"GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY", "GIT_COMMON_DIR", "GIT_NAMESPACE"}
)


@dataclass
class _Repo:
    full_name: str
    path: Path
    repo_id: int
    installation_id: int
    private: bool
    default_branch: str
    created: float


@dataclass(frozen=True)
class _Person:
    name: str
    email: str
    epoch: int
    iso: str  # with the person's own UTC offset, as push payloads show it


@dataclass(frozen=True)
class _Commit:
    sha: str
    tree: str
    parents: list[str]
    author: _Person
    committer: _Person
    message: str


@dataclass(frozen=True)
class _Change:
    status: str
    path: str
    old_path: str
    sha: str
    additions: int = 0
    deletions: int = 0


@dataclass(frozen=True)
class _Entry:
    mode: str
    type: str
    sha: str
    size: int | None
    path: str


class _GitError(Exception):
    pass


def _git(path: Path, *args: str) -> bytes:
    # Inherited repository variables (set when running inside a git hook) would redirect every command.
    env = {k: v for k, v in os.environ.items() if k not in _GIT_REPO_VARIABLES}
    # No optional locks: reading must never take index.lock while a test commits in the same tree.
    env |= {"GIT_OPTIONAL_LOCKS": "0", "LC_ALL": "C", "GIT_TERMINAL_PROMPT": "0"}
    cmd = ["git", "-C", str(path), "-c", "log.showSignature=false", *args]
    proc = subprocess.run(cmd, capture_output=True, env=env, check=False)
    if proc.returncode != 0:
        raise _GitError(proc.stderr.decode("utf-8", "replace").strip())
    return proc.stdout


def _resolve(path: Path, ref: str, kind: str = "commit") -> str | None:
    if not _SAFE_REF.fullmatch(ref):
        return None
    try:
        out = _git(path, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{{kind}}}")
    except _GitError:
        return None
    return out.decode().strip()


def _commits(path: Path, *args: str) -> list[_Commit]:
    out = _git(path, "log", "-z", f"--format={_LOG_FORMAT}", *args, "--").decode("utf-8", "replace")
    parts, found = out.split("\0"), []
    for i in range(0, len(parts) - 11, 12):
        sha, tree, parents, an, ae, at, ai, cn, ce, ct, ci, message = parts[i : i + 12]
        author, committer = _Person(an, ae, int(at), ai), _Person(cn, ce, int(ct), ci)
        found.append(_Commit(sha, tree, parents.split(), author, committer, message.rstrip("\n")))
    return found


def _commit(path: Path, sha: str) -> _Commit:
    return _commits(path, "-1", sha)[0]


def _ls_tree(path: Path, tree: str, *, recursive: bool = False, prefix: str = "") -> list[_Entry]:
    out = _git(path, "ls-tree", "-z", "-l", *(["-r", "-t"] if recursive else []), tree)
    entries = []
    for record in out.decode("utf-8", "surrogateescape").split("\0"):
        if record:
            meta, name = record.split("\t", 1)
            mode, kind, sha, size = meta.split()
            entries.append(_Entry(mode, kind, sha, None if size == "-" else int(size), prefix + name))
    return entries


def _diff(path: Path, old: str | None, new: str, *, renames: bool, stats: bool) -> list[_Change]:
    args = ["diff-tree", "-r", "-z", "--no-commit-id", "-M" if renames else "--no-renames"]
    args += [old, new] if old else ["--root", new]
    tokens = _git(path, *args).decode("utf-8", "surrogateescape").split("\0")
    changes, i = [], 0
    while i < len(tokens) and tokens[i].startswith(":"):
        _, _, old_sha, new_sha, status = tokens[i][1:].split(" ")
        two = status[0] in "RC"  # renames and copies name the old path, then the new one
        old_path, new_path = (tokens[i + 1], tokens[i + 2]) if two else (tokens[i + 1], tokens[i + 1])
        i += 3 if two else 2
        sha = old_sha if status[0] == "D" else new_sha
        changes.append(_Change(_STATUS.get(status[0], "changed"), new_path, old_path, sha))
    if not stats:
        return changes
    tokens, i, counts = _git(path, *args, "--numstat").decode("utf-8", "surrogateescape").split("\0"), 0, []
    while i < len(tokens) and tokens[i]:
        added, deleted, name = tokens[i].split("\t", 2)
        i += 3 if name == "" else 1
        # numstat prints "-" for a binary file, which GitHub counts as 0 lines.
        counts.append((int(added) if added != "-" else 0, int(deleted) if deleted != "-" else 0))
    return [
        _Change(c.status, c.path, c.old_path, c.sha, a, d) for c, (a, d) in zip(changes, counts, strict=True)
    ]


def _lookup(repo: _Repo, commit: str, parts: list[str]) -> _Entry | None:
    if any(p in (".", "..") for p in parts):
        return None
    if not parts:
        return _Entry("040000", "tree", _resolve(repo.path, commit, "tree") or "", None, "")
    parent = "/".join(parts[:-1])
    try:  # `<commit>:<dir>` takes the directory literally, unlike ls-tree's path patterns
        siblings = _ls_tree(repo.path, f"{commit}:{parent}", prefix=f"{parent}/" if parent else "")
    except _GitError:
        return None
    return next((e for e in siblings if e.path == "/".join(parts)), None)


def _submodule_url(repo: _Repo, commit: str, path: str) -> str:
    try:
        out = _git(repo.path, "config", "-z", "--blob", f"{commit}:.gitmodules", "--list")
    except _GitError:
        return ""
    pairs = dict(item.split("\n", 1) for item in out.decode().split("\0") if "\n" in item)
    names = [k.removesuffix(".path") for k, v in pairs.items() if k.endswith(".path") and v == path]
    return pairs.get(f"{names[0]}.url", "") if names else ""
