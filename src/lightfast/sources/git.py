"""A local git repository as a source of documents (``source_type = "git"``).

Teams without a GitHub App, or without network access to GitHub at all, still keep their docs in git. This
source reads a repository on disk -- a working tree or a bare mirror -- straight from its object database:
every sync indexes the difference between the last indexed commit and the head of one branch, the same
incremental path a GitHub push takes. Content always comes from commits, never from the working tree, so
uncommitted edits are not indexed and a sync sees one consistent snapshot.

Git is run as a subprocess with ``-z`` everywhere so paths are handled byte-exactly; they are decoded as
UTF-8 with ``surrogateescape`` so a non-UTF-8 name survives the round trip.
"""

from __future__ import annotations

import errno
import functools
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from lightfast.errors import InvalidInput, LightfastError
from lightfast.ingest.config import ConfigReport, SourceConfig, config_file_name, path_matches
from lightfast.ingest.config import inspect_config as detect_config
from lightfast.sources.base import DEFAULT_MAX_FILE_BYTES, SourceFile, Unlisted, oversized_config

SOURCE_TYPE = "git"
REGULAR_MODES = frozenset({"100644", "100755"})  # symlinks (120000) and submodules (160000) are no documents
_TIMEOUT = 60.0
_BATCH_TIMEOUT = 600.0  # one process reads every small blob of a call: allow for big batches


class GitError(LightfastError, RuntimeError):
    """A git command failed."""

    code = "git_error"


class _Blob(NamedTuple):
    sha: str
    size: int


def _decode(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


def _check_rev(revision: str) -> str:
    # A revision is put on git's command line: one starting with "-" would be read as an option.
    if not revision or revision.startswith("-") or any(c.isspace() or c == "\0" for c in revision):
        raise InvalidInput(f"{revision!r} is not a valid git revision", field="revision")
    return revision


def _run(
    root: Path | str,
    args: list[str],
    *,
    ok: tuple[int, ...] = (0,),
    stdin: bytes | None = None,
    timeout: float = _TIMEOUT,
) -> subprocess.CompletedProcess[bytes]:
    command = ["git", "-C", str(root), *args]
    try:
        result = subprocess.run(command, input=stdin, capture_output=True, timeout=timeout, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        raise GitError(f"git {' '.join(args)} failed in {root}: {exc}", command=args) from exc
    if result.returncode not in ok:
        stderr = _decode(result.stderr).strip()
        raise GitError(
            f"git {' '.join(args)} failed in {root} (exit {result.returncode}): {stderr}",
            command=args,
            stderr=stderr,
        )
    return result


def _line(output: bytes) -> str:
    # Only the final newline is git's; a path may legitimately end in spaces.
    return _decode(output.removesuffix(b"\n"))


def parse_raw_diff(output: bytes) -> dict[str, str]:
    """The change set of ``git diff --raw -z --no-renames`` (or ``git diff-tree -r -z``) output.

    A path whose new mode is a regular file is an "upsert"; one that was a regular file and no longer is
    (deleted, or turned into a symlink or submodule) is a "remove"; a path that is not a regular file on
    either side is no document and is left out. Renames and copies (``R``/``C``, two paths) are accepted
    too, though ``--no-renames`` does not produce them. ValueError on output that is not a raw diff."""
    fields = output.split(b"\0")
    if fields and fields[-1] == b"":
        fields.pop()
    changes: dict[str, str] = {}

    def record(path: bytes, op: str) -> None:
        # When one path appears twice (a delete then an add), its state at the new revision wins: if
        # any record says it is a regular file there, it is one.
        name = _decode(path)
        if op == "upsert" or name not in changes:
            changes[name] = op

    i = 0
    while i < len(fields):
        meta = fields[i].split(b" ")
        if len(meta) != 5 or not meta[0].startswith(b":") or not meta[4]:
            raise ValueError(f"not a raw diff record: {fields[i]!r}")
        old_regular = meta[0][1:].decode("ascii", "replace") in REGULAR_MODES
        new_regular = meta[1].decode("ascii", "replace") in REGULAR_MODES
        status = meta[4][:1]
        npaths = 2 if status in (b"R", b"C") else 1
        paths = fields[i + 1 : i + 1 + npaths]
        if len(paths) != npaths:
            raise ValueError(f"raw diff record without its path: {fields[i]!r}")
        i += 1 + npaths
        if npaths == 2:
            if status == b"R" and old_regular:  # a copy leaves its source in place
                record(paths[0], "remove")
            if new_regular:
                record(paths[1], "upsert")
        elif new_regular:
            record(paths[0], "upsert")
        elif old_regular:
            record(paths[0], "remove")
    return changes


@dataclass(frozen=True)
class GitSource:
    root: Path  # absolute, resolved: the working tree's top level, or a bare repository's directory
    branch: str  # the branch whose head is synced
    max_blob_bytes: int = DEFAULT_MAX_FILE_BYTES  # blobs up to this size are read eagerly in one batch

    @classmethod
    def open(
        cls, path: str | Path, branch: str | None = None, *, max_blob_bytes: int = DEFAULT_MAX_FILE_BYTES
    ) -> GitSource:
        directory = Path(path).expanduser()
        if not directory.is_dir():
            raise InvalidInput(f"{path} is not a directory", field="path")
        try:
            bare = _line(_run(directory, ["rev-parse", "--is-bare-repository"]).stdout) == "true"
            top = _run(directory, ["rev-parse", "--absolute-git-dir" if bare else "--show-toplevel"])
        except GitError as exc:
            raise InvalidInput(f"{path} is not a git repository: {exc.message}", field="path") from exc
        root = Path(_line(top.stdout)).resolve()
        if branch is None:
            current = _run(root, ["symbolic-ref", "-q", "--short", "HEAD"], ok=(0, 1))
            if current.returncode != 0:
                raise InvalidInput(f"HEAD of {root} is detached; name the branch to sync", field="branch")
            branch = _line(current.stdout)
        if _run(root, ["check-ref-format", f"refs/heads/{branch}"], ok=(0, 1)).returncode != 0:
            raise InvalidInput(f"{branch!r} is not a valid branch name", field="branch")
        source = cls(root, branch, max_blob_bytes)
        if source.head() is None:
            # A branch without a commit is fine only when it is the unborn branch of a new repository:
            # its first commit will appear there. Any other missing branch is a typo.
            current = _run(root, ["symbolic-ref", "-q", "HEAD"], ok=(0, 1))
            if current.returncode != 0 or _line(current.stdout) != f"refs/heads/{branch}":
                raise InvalidInput(f"branch {branch!r} does not exist in {root}", field="branch")
        return source

    @property
    def source_type(self) -> str:
        return SOURCE_TYPE

    @property
    def external_key(self) -> str:
        return str(self.root)

    @property
    def name(self) -> str:
        return self.root.name or str(self.root)

    def _git(
        self, *args: str, ok: tuple[int, ...] = (0,), stdin: bytes | None = None, timeout: float = _TIMEOUT
    ) -> subprocess.CompletedProcess[bytes]:
        return _run(self.root, list(args), ok=ok, stdin=stdin, timeout=timeout)

    def head(self) -> str | None:
        """The commit sha of the branch's head, None while the branch has no commit (an empty repo)."""
        result = self._git("rev-parse", "--verify", "-q", f"refs/heads/{self.branch}^{{commit}}", ok=(0, 1))
        return _line(result.stdout) if result.returncode == 0 else None

    def _tree(self, revision: str | None) -> tuple[str | None, dict[str, _Blob]]:
        """(resolved revision, every regular file at it -> its blob); empty when there is no commit."""
        rev = self.head() if revision is None else _check_rev(revision)
        if rev is None:
            return None, {}
        # -l lists blob sizes, so oversized files are known before any content is read.
        output = self._git("ls-tree", "-r", "-z", "-l", "--full-tree", rev).stdout
        blobs: dict[str, _Blob] = {}
        for entry in output.split(b"\0"):
            if not entry:
                continue
            meta, _, path = entry.partition(b"\t")
            mode, kind, sha, size = meta.split()
            if kind == b"blob" and mode.decode() in REGULAR_MODES:
                blobs[_decode(path)] = _Blob(sha.decode(), int(size))
        return rev, blobs

    def inspect_config(self, revision: str | None) -> ConfigReport:
        """The configuration file at ``revision`` (None: the branch head); defaults without a commit."""
        _, blobs = self._tree(revision)
        name = config_file_name(path for path in blobs if "/" not in path)
        oversized = oversized_config(name, blobs[name].size, self.max_blob_bytes) if name else None
        if oversized is not None:
            return oversized  # refused by the size git lists, unread
        data = self._read_blob(blobs[name].sha) if name is not None else None
        return detect_config(name, data, sorted(blobs))

    def paths(self, config: SourceConfig, revision: str | None) -> list[str]:
        """Every regular file at ``revision`` the configuration selects, sorted."""
        _, blobs = self._tree(revision)
        return sorted(path for path in blobs if path_matches(path, config))

    def unlisted(self, revision: str | None) -> list[Unlisted]:
        return []  # a commit's tree lists every path, however long or deep

    def versions(self, revision: str | None) -> dict[str, str]:
        """{path: blob sha} at ``revision``: a document stored with the same blob is unchanged."""
        _, blobs = self._tree(revision)
        return {path: blob.sha for path, blob in blobs.items()}

    def source_id(self, path: str) -> str:
        return f"{self.root}:{path}"

    def _read_blob(self, sha: str) -> bytes:
        return self._git("cat-file", "blob", sha).stdout

    def _read_batch(self, shas: list[str]) -> dict[str, bytes]:
        """The content of every blob in ``shas`` from one ``git cat-file --batch`` process."""
        if not shas:
            return {}
        stdin = "".join(f"{sha}\n" for sha in shas).encode()
        output = self._git("cat-file", "--batch", stdin=stdin, timeout=_BATCH_TIMEOUT).stdout
        contents: dict[str, bytes] = {}
        pos = 0
        for sha in shas:
            newline = output.index(b"\n", pos)
            header = output[pos:newline].split(b" ")
            if header[0].decode() != sha:
                raise GitError(f"git cat-file --batch in {self.root} answered {header!r} for {sha}")
            if len(header) == 3 and header[1] == b"blob":
                size = int(header[2])
                contents[sha] = output[newline + 1 : newline + 1 + size]
                pos = newline + 1 + size + 1  # content is followed by a newline
            else:  # "<sha> missing": a corrupt or partial clone; reading that file reports it
                pos = newline + 1
        return contents

    def files(self, paths: list[str], revision: str | None) -> list[SourceFile]:
        """The files at ``paths`` as committed at ``revision``. Small blobs are read now, in one batch;
        bigger ones when read. A path missing at ``revision`` raises FileNotFoundError when read."""
        rev, blobs = self._tree(revision)
        small = sorted({blobs[p].sha for p in paths if p in blobs and blobs[p].size <= self.max_blob_bytes})
        contents = self._read_batch(small)
        result: list[SourceFile] = []
        for path in paths:
            blob = blobs.get(path)
            metadata = {
                "type": SOURCE_TYPE,
                "path": path,
                "root": str(self.root),
                "branch": self.branch,
                "commitSha": rev,
                "blobSha": blob.sha if blob else None,
            }
            read: Callable[[], bytes]
            if blob is None:
                read = functools.partial(_missing, path, rev)
            elif blob.sha in contents:
                read = functools.partial(bytes, contents[blob.sha])
            elif blob.size <= self.max_blob_bytes:
                read = functools.partial(_corrupt, self.root, path, blob.sha)
            else:
                read = functools.partial(self._read_blob, blob.sha)
            result.append(
                SourceFile(
                    source_id=self.source_id(path),
                    path=path,
                    read=read,
                    url=(self.root / path).as_uri(),
                    metadata=metadata,
                    size=blob.size if blob else None,
                )
            )
        return result

    def changes(self, base: str, revision: str) -> dict[str, str] | None:
        """Paths changed from ``base`` to ``revision`` (path -> "upsert" | "remove"), or None when
        ``base`` is not a commit of this repository any more (history was rewritten, or gc'd)."""
        if base.startswith("-") or not base.strip():
            return None
        if self._git("cat-file", "-e", f"{base}^{{commit}}", ok=(0, 1, 128)).returncode != 0:
            return None
        # diff-tree is the plumbing twin of `git diff --raw`: same output, but no user diff.* config
        # (diff.relative, diff.ignoreSubmodules, ...) can change what it reports.
        args = ["diff-tree", "-r", "-z", "--no-renames", "--no-abbrev", base, _check_rev(revision)]
        return parse_raw_diff(self._git(*args).stdout)


def _missing(path: str, revision: str | None) -> bytes:
    raise FileNotFoundError(errno.ENOENT, f"not a file at commit {revision or '(none)'}", path)


def _corrupt(root: Path, path: str, sha: str) -> bytes:
    raise GitError(f"blob {sha} of {path} is missing from the repository {root}")
