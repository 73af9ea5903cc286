"""GitHub's JSON shapes for the stand-in's answers and ``push`` webhook payloads."""

from __future__ import annotations

import base64
import posixpath
import time
import zlib
from typing import Any
from urllib.parse import quote

from .repository import Change, Commit, Entry, GitError, Repo, diff_tree, git, read_commit, read_commits

_ZERO_SHA = "0" * 40
# URL templates as GitHub spells them, suffixes of the repository's / the user's API URL.
_REPO_LINKS = (
    "forks_url=/forks keys_url=/keys{/key_id} collaborators_url=/collaborators{/collaborator} "
    "teams_url=/teams hooks_url=/hooks issue_events_url=/issues/events{/number} events_url=/events "
    "assignees_url=/assignees{/user} branches_url=/branches{/branch} tags_url=/tags "
    "blobs_url=/git/blobs{/sha} git_tags_url=/git/tags{/sha} git_refs_url=/git/refs{/sha} "
    "trees_url=/git/trees{/sha} statuses_url=/statuses/{sha} languages_url=/languages "
    "stargazers_url=/stargazers contributors_url=/contributors subscribers_url=/subscribers "
    "subscription_url=/subscription commits_url=/commits{/sha} git_commits_url=/git/commits{/sha} "
    "comments_url=/comments{/number} issue_comment_url=/issues/comments{/number} "
    "contents_url=/contents/{+path} compare_url=/compare/{base}...{head} merges_url=/merges "
    "archive_url=/{archive_format}{/ref} downloads_url=/downloads issues_url=/issues{/number} "
    "pulls_url=/pulls{/number} milestones_url=/milestones{/number} "
    "notifications_url=/notifications{?since,all,participating} labels_url=/labels{/name} "
    "releases_url=/releases{/id} deployments_url=/deployments"
)
_USER_LINKS = (
    "followers_url=/followers following_url=/following{/other_user} gists_url=/gists{/gist_id} "
    "starred_url=/starred{/owner}{/repo} subscriptions_url=/subscriptions organizations_url=/orgs "
    "repos_url=/repos events_url=/events{/privacy} received_events_url=/received_events"
)
_REPO_DEFAULTS: dict[str, Any] = {
    **dict.fromkeys(("description", "homepage", "language", "mirror_url", "license"), None),
    **dict.fromkeys(("fork", "has_pages", "archived"), False),
    **dict.fromkeys(("has_issues", "has_projects", "has_downloads", "has_wiki"), True),
    **dict.fromkeys(("size", "stargazers_count", "watchers_count", "forks_count", "open_issues_count"), 0),
    **dict.fromkeys(("forks", "open_issues", "watchers"), 0),
}
_API_REPO_EXTRAS: dict[str, Any] = {
    **dict.fromkeys(("disabled", "has_discussions", "is_template", "web_commit_signoff_required"), False),
    **{"allow_forking": True, "topics": [], "subscribers_count": 0, "network_count": 0},
}


def _links(base: str, spec: str) -> dict[str, str]:
    return {key: base + suffix for key, _, suffix in (item.partition("=") for item in spec.split())}


def node_id(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def iso_time(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def base64_lines(data: bytes) -> str:
    # GitHub wraps base64 at 60 characters and ends every line, the last included, with "\n".
    encoded = base64.b64encode(data).decode()
    return "".join(encoded[i : i + 60] + "\n" for i in range(0, len(encoded), 60))


def repo_html_url(repo: Repo) -> str:
    return f"https://github.com/{repo.full_name}"


class Shapes:
    """The JSON shapes, with API URLs under the stand-in's ``url`` (GitHub's own before it is started)."""

    def __init__(self, url: str | None) -> None:
        self.root = url or "https://api.github.com"

    def api(self, repo: Repo | None = None) -> str:
        return f"{self.root}/repos/{repo.full_name}" if repo else self.root

    def user_json(self, login: str, kind: str) -> dict[str, Any]:
        uid, url = zlib.crc32(login.lower().encode()) % 90_000_000 + 1_000_000, f"{self.api()}/users/{login}"
        node = node_id(f"04:User{uid}" if kind == "User" else f"012:Organization{uid}")
        return {
            **{"login": login, "id": uid, "node_id": node, "gravatar_id": "", "url": url},
            **{"avatar_url": f"https://avatars.githubusercontent.com/u/{uid}?v=4"},
            **{"html_url": f"https://github.com/{login}", **_links(url, _USER_LINKS)},
            **{"type": kind, "site_admin": False},
        }

    def repo_json(self, repo: Repo, *, push: bool = False) -> dict[str, Any]:
        login, name = repo.full_name.split("/", 1)
        api, html, full = self.api(repo), repo_html_url(repo), repo.full_name
        try:
            pushed = float(
                git(repo.path, "log", "-1", "--format=%ct", f"refs/heads/{repo.default_branch}", "--")
            )
        except (GitError, ValueError):
            pushed = repo.created  # an empty repository has no commit yet
        owner = self.user_json(login, "Organization")
        times = (
            {"created_at": int(repo.created), "updated_at": iso_time(pushed), "pushed_at": int(pushed)}
            if push  # push deliveries keep epoch seconds here, like GitHub's own
            else {
                "created_at": iso_time(repo.created),
                "updated_at": iso_time(pushed),
                "pushed_at": iso_time(pushed),
            }
        )
        body: dict[str, Any] = {
            **{"id": repo.repo_id, "node_id": node_id(f"010:Repository{repo.repo_id}"), "name": name},
            **{"full_name": full, "private": repo.private, "html_url": html, "url": html if push else api},
            "owner": {"name": login, "email": None, **owner} if push else owner,
            **_links(api, _REPO_LINKS),
            **times,
            **{"git_url": f"git://github.com/{full}.git", "ssh_url": f"git@github.com:{full}.git"},
            **{"clone_url": f"{html}.git", "svn_url": html},
            **_REPO_DEFAULTS,
            "default_branch": repo.default_branch,
        }
        if push:
            return body | {"stargazers": 0, "master_branch": repo.default_branch}
        return body | {"visibility": "private" if repo.private else "public", **_API_REPO_EXTRAS}

    def commit_json(self, repo: Repo, c: Commit, files: list[Change] | None = None) -> dict[str, Any]:
        api, html = self.api(repo), repo_html_url(repo)
        verification = {"verified": False, "reason": "unsigned", "signature": None, "payload": None}
        committed = iso_time(c.committer.epoch)
        body: dict[str, Any] = {
            "sha": c.sha,
            "node_id": node_id(f"06:Commit{repo.repo_id}:{c.sha}"),
            "commit": {
                "author": {"name": c.author.name, "email": c.author.email, "date": iso_time(c.author.epoch)},
                "committer": {"name": c.committer.name, "email": c.committer.email, "date": committed},
                "message": c.message,
                "tree": {"sha": c.tree, "url": f"{api}/git/trees/{c.tree}"},
                "url": f"{api}/git/commits/{c.sha}",
                "comment_count": 0,
                "verification": verification | {"verified_at": None},
            },
            "url": f"{api}/commits/{c.sha}",
            "html_url": f"{html}/commit/{c.sha}",
            "comments_url": f"{api}/commits/{c.sha}/comments",
            "author": None,  # no GitHub account behind a stand-in commit's e-mail address
            "committer": None,
            "parents": [
                {"sha": p, "url": f"{api}/commits/{p}", "html_url": f"{html}/commit/{p}"} for p in c.parents
            ],
        }
        if files is not None:
            added, deleted = sum(f.additions for f in files), sum(f.deletions for f in files)
            body["stats"] = {"total": added + deleted, "additions": added, "deletions": deleted}
            body["files"] = [self.file_json(repo, c.sha, f) for f in files[:300]]
        return body

    def file_json(self, repo: Repo, ref: str, f: Change) -> dict[str, Any]:
        path, html = quote(f.path), repo_html_url(repo)
        body = {
            **{"sha": f.sha, "filename": f.path, "status": f.status, "additions": f.additions},
            **{"deletions": f.deletions, "changes": f.additions + f.deletions},
            **{"blob_url": f"{html}/blob/{ref}/{path}", "raw_url": f"{html}/raw/{ref}/{path}"},
            "contents_url": f"{self.api(repo)}/contents/{path}?ref={ref}",
        }
        return body | ({"previous_filename": f.old_path} if f.status == "renamed" else {})

    def content_json(self, repo: Repo, ref: str, e: Entry, *, listing: bool) -> dict[str, Any]:
        # Directory listings call submodules "file", for backwards compatibility (documented by GitHub).
        kind = {"tree": "dir", "commit": "file" if listing else "submodule"}.get(e.type, "file")
        kind = "symlink" if e.mode == "120000" else kind
        path, api = quote(e.path), self.api(repo)
        url = f"{api}/contents/{path}?ref={quote(ref, safe='')}"
        git_url = (
            None if e.type == "commit" else f"{api}/git/{'trees' if e.type == 'tree' else 'blobs'}/{e.sha}"
        )
        html_url = f"{repo_html_url(repo)}/{'blob' if e.type == 'blob' else 'tree'}/{ref}/{path}"
        download = (
            f"https://raw.githubusercontent.com/{repo.full_name}/{ref}/{path}" if e.type == "blob" else None
        )
        return {
            **{"type": kind, "size": e.size or 0, "name": posixpath.basename(e.path), "path": e.path},
            **{"sha": e.sha, "url": url, "git_url": git_url, "html_url": html_url, "download_url": download},
            "_links": {"self": url, "git": git_url, "html": html_url},
        }

    # ----------------------------------------------------------------------- webhooks

    def push_payload(
        self, repo: Repo, account: str, before: str, after: str, *, ref: str | None, installation: bool
    ) -> dict[str, Any]:
        """A ``push`` webhook payload for ``before..after`` of ``repo``, installed on ``account``."""
        created, deleted = before == _ZERO_SHA, after == _ZERO_SHA
        # A new branch lists only its head: GitHub's "commits new to the repository" needs the remote's refs.
        commits = [] if deleted else [read_commit(repo.path, after)] if created else None
        commits = read_commits(repo.path, "--reverse", f"{before}..{after}") if commits is None else commits
        forced = False
        if not created and not deleted:
            try:  # a push is forced when the old head is not an ancestor of the new one
                git(repo.path, "merge-base", "--is-ancestor", before, after)
            except GitError:
                forced = True
        payloads = [self.push_commit(repo, c) for c in commits[-2048:]]
        head = payloads[-1] if payloads and commits[-1].sha == after else None
        if head is None and not deleted:
            head = self.push_commit(repo, read_commit(repo.path, after))
        html = repo_html_url(repo)
        compare = f"{html}/commit/{after[:12]}" if created else f"{html}/compare/{before[:12]}...{after[:12]}"
        pusher = {"name": account, "email": None}
        if commits:
            pusher = {"name": commits[-1].committer.name, "email": commits[-1].committer.email}
        body: dict[str, Any] = {
            "ref": ref or f"refs/heads/{repo.default_branch}",
            **{"before": before, "after": after, "created": created, "deleted": deleted, "forced": forced},
            "base_ref": None,
            "compare": compare,
            "commits": payloads,
            "head_commit": head,
            "repository": self.repo_json(repo, push=True),
            "pusher": pusher,
            "sender": self.user_json(account, "User"),
        }
        if installation:
            node = node_id(f"23:IntegrationInstallation{repo.installation_id}")
            body["installation"] = {"id": repo.installation_id, "node_id": node}
        return body

    def push_commit(self, repo: Repo, c: Commit) -> dict[str, Any]:
        changes = diff_tree(repo.path, c.parents[0] if c.parents else None, c.sha, renames=False, stats=False)
        return {
            **{"id": c.sha, "tree_id": c.tree, "distinct": True, "message": c.message},
            **{"timestamp": c.author.iso, "url": f"{repo_html_url(repo)}/commit/{c.sha}"},
            "author": {"name": c.author.name, "email": c.author.email, "username": c.author.name},
            "committer": {"name": c.committer.name, "email": c.committer.email, "username": c.committer.name},
            "added": [ch.path for ch in changes if ch.status == "added"],
            "removed": [ch.path for ch in changes if ch.status == "removed"],
            "modified": [ch.path for ch in changes if ch.status in ("modified", "changed")],
        }
