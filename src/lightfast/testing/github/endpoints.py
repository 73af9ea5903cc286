"""The stand-in's repository endpoints: branches, commits, trees, blobs, contents and comparisons."""

from __future__ import annotations

import posixpath
from typing import Any
from urllib.parse import quote

from .replies import HTTPError, Reply
from .repository import (
    FULL_SHA,
    SAFE_REF,
    GitError,
    Repo,
    diff_tree,
    git,
    lookup_path,
    ls_tree,
    read_commit,
    read_commits,
    resolve_ref,
    submodule_url,
)
from .shapes import Shapes, base64_lines, node_id, repo_html_url

_MAX_INLINE = 1024 * 1024  # the contents API stops inlining file content above 1 MB
_RAW = {"content-type": "application/vnd.github.raw; charset=utf-8"}


def _branch(shapes: Shapes, repo: Repo, name: str, query: dict[str, str], raw: bool) -> Reply:
    sha = resolve_ref(repo.path, f"refs/heads/{name}") if SAFE_REF.fullmatch(name) else None
    if sha is None:
        raise HTTPError(404, "Branch not found")
    api = f"{shapes.api(repo)}/branches/{quote(name)}"
    checks = {"enforcement_level": "off", "contexts": [], "checks": []}
    body = {
        "name": name,
        "commit": shapes.commit_json(repo, read_commit(repo.path, sha)),
        "_links": {"self": api, "html": f"{repo_html_url(repo)}/tree/{name}"},
        "protected": False,
        "protection": {"enabled": False, "required_status_checks": checks},
        "protection_url": f"{api}/protection",
    }
    return Reply(200, body)


def _commit_endpoint(shapes: Shapes, repo: Repo, ref: str, query: dict[str, str], raw: bool) -> Reply:
    sha = resolve_ref(repo.path, ref)
    if sha is None:
        raise HTTPError(422, f"No commit found for SHA: {ref}")
    commit = read_commit(repo.path, sha)
    files = diff_tree(repo.path, commit.parents[0] if commit.parents else None, sha, renames=True, stats=True)
    return Reply(200, shapes.commit_json(repo, commit, files))


def _tree(shapes: Shapes, repo: Repo, ref: str, query: dict[str, str], raw: bool) -> Reply:
    tree = resolve_ref(repo.path, ref, "tree")
    if tree is None:
        raise HTTPError(404, "Not Found")
    # GitHub recurses whenever the parameter is present, whatever its value ("0" and "false" too).
    entries = ls_tree(repo.path, tree, recursive="recursive" in query)
    api = shapes.api(repo)
    items = []
    for e in entries[:100_000]:
        item: dict[str, Any] = {"path": e.path, "mode": e.mode, "type": e.type, "sha": e.sha}
        if e.type == "blob":
            item |= {"size": e.size, "url": f"{api}/git/blobs/{e.sha}"}
        elif e.type == "tree":
            item["url"] = f"{api}/git/trees/{e.sha}"
        items.append(item)
    body = {
        "sha": tree,
        "url": f"{api}/git/trees/{tree}",
        "tree": items,
        "truncated": len(entries) > 100_000,
    }
    return Reply(200, body)


def _blob(shapes: Shapes, repo: Repo, sha: str, query: dict[str, str], raw: bool) -> Reply:
    if not FULL_SHA.fullmatch(sha):
        raise HTTPError(422, "The sha parameter must be exactly 40 characters and contain only [0-9a-f].")
    try:
        data = git(repo.path, "cat-file", "blob", sha)
    except GitError:
        raise HTTPError(404, "Not Found") from None
    if raw:
        return Reply(200, data, dict(_RAW))
    body = {
        "sha": sha,
        "node_id": node_id(f"04:Blob{repo.repo_id}:{sha}"),
        "size": len(data),
        "url": f"{shapes.api(repo)}/git/blobs/{sha}",
        "content": base64_lines(data),
        "encoding": "base64",
    }
    return Reply(200, body)


def contents_endpoint(shapes: Shapes, repo: Repo, sub: str, query: dict[str, str], raw: bool) -> Reply:
    ref = query.get("ref") or repo.default_branch
    commit = resolve_ref(repo.path, ref)
    if commit is None:
        raise HTTPError(404, f"No commit found for the ref {ref}")
    entry = lookup_path(repo, commit, [p for p in sub.split("/") if p])
    if entry is None:
        raise HTTPError(404, "Not Found")
    if entry.type == "tree":
        listing = ls_tree(repo.path, entry.sha, prefix=f"{entry.path}/" if entry.path else "")
        return Reply(200, [shapes.content_json(repo, ref, e, listing=True) for e in listing])
    if entry.mode == "120000":  # a symlink to a regular file in the repository answers with that file
        target = git(repo.path, "cat-file", "blob", entry.sha).decode("utf-8", "surrogateescape")
        resolved = posixpath.normpath(posixpath.join(posixpath.dirname(entry.path), target))
        inside = not target.startswith("/") and resolved != ".." and not resolved.startswith("../")
        followed = lookup_path(repo, commit, resolved.split("/")) if inside else None
        if followed is None or followed.mode not in ("100644", "100755"):
            return Reply(200, shapes.content_json(repo, ref, entry, listing=False) | {"target": target})
        entry = followed
    if entry.type == "commit":
        submodule = {"submodule_git_url": submodule_url(repo, commit, entry.path)}
        return Reply(200, shapes.content_json(repo, ref, entry, listing=False) | submodule)
    data = git(repo.path, "cat-file", "blob", entry.sha)
    if raw:
        return Reply(200, data, dict(_RAW))
    inline = len(data) <= _MAX_INLINE
    encoded = {
        "encoding": "base64" if inline else "none",
        "content": base64_lines(data) if inline else "",
    }
    return Reply(200, shapes.content_json(repo, ref, entry, listing=False) | encoded)


def _compare(shapes: Shapes, repo: Repo, basehead: str, query: dict[str, str], raw: bool) -> Reply:
    base_ref, sep, head_ref = basehead.partition("...")
    base, head = resolve_ref(repo.path, base_ref), resolve_ref(repo.path, head_ref)
    if not sep or base is None or head is None:
        raise HTTPError(404, "Not Found")
    try:
        merge_base = git(repo.path, "merge-base", base, head).decode().strip()
    except GitError:
        raise HTTPError(404, f"No common ancestor between {base_ref} and {head_ref}.") from None
    commits = read_commits(repo.path, "--reverse", f"{merge_base}..{head}")
    ahead, behind = len(commits), int(git(repo.path, "rev-list", "--count", f"{merge_base}..{base}"))
    status = {(False, False): "identical", (True, False): "ahead", (False, True): "behind"}
    files = diff_tree(repo.path, merge_base, head, renames=True, stats=True)
    html, owner = f"{repo_html_url(repo)}/compare/", repo.full_name.split("/")[0]
    body = {
        "url": f"{shapes.api(repo)}/compare/{quote(basehead)}",
        "html_url": f"{html}{basehead}",
        "permalink_url": f"{html}{owner}:{base}...{owner}:{head}",
        "diff_url": f"{html}{basehead}.diff",
        "patch_url": f"{html}{basehead}.patch",
        "base_commit": shapes.commit_json(repo, read_commit(repo.path, base)),
        "merge_base_commit": shapes.commit_json(repo, read_commit(repo.path, merge_base)),
        "status": status.get((ahead > 0, behind > 0), "diverged"),
        "ahead_by": ahead,
        "behind_by": behind,
        "total_commits": ahead,
        "commits": [shapes.commit_json(repo, c) for c in commits[:250]],  # GitHub's limits
        "files": [shapes.file_json(repo, head, f) for f in files[:300]],
    }
    return Reply(200, body)


# Path prefixes under a repository's API URL and their handlers, tried in order.
HANDLERS = {
    "/branches/": _branch,
    "/commits/": _commit_endpoint,
    "/git/trees/": _tree,
    "/git/blobs/": _blob,
    "/compare/": _compare,
    "/contents/": contents_endpoint,
}
