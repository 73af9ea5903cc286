"""A Vercel deployment as a document (pure): its project, state, environment, address, commit, branch,
author, times and, for a failed one, its error and the build log's error lines, with seed 004's
``VercelDocMetadata``.

Entity ids are ``deployment:<dpl_id>`` and paths ``deployments/<dpl_id>.md``: Vercel's deployment ids
are unique across its accounts, so both are stable and unique per connection."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lightfast.sources.vercel.metadata import VercelDocMetadata
from lightfast.sources.vercel.webhooks import DEPLOYMENT_ID

KINDS = ("deployment",)
FOLDER = "deployments"
MAX_MARKDOWN = 200_000
MAX_SUMMARY = 300


@dataclass(frozen=True)
class VercelDocument:
    entity_id: str
    path: str
    title: str
    markdown: str
    url: str
    metadata: dict[str, Any]
    relationships: dict[str, Any]


def entity_id(deployment_id: str) -> str:
    return f"deployment:{deployment_id}"


def path_for(kind: str, entity: str) -> str:
    """The path of an entity (``deployment:dpl_x`` -> ``deployments/dpl_x.md``)."""
    del kind  # one kind
    return f"{FOLDER}/{entity.partition(':')[2]}.md"


def entity_of_path(path: str) -> str | None:
    folder, _, name = path.partition("/")
    deployment = name[: -len(".md")] if name.endswith(".md") else ""
    if folder != FOLDER or not DEPLOYMENT_ID.fullmatch(deployment):
        return None
    return entity_id(deployment)


def environment(deployment: dict[str, Any]) -> str:
    """Vercel's two environments: a deployment with the ``production`` target is production, one without
    a target a preview; a custom environment (``staging``) is its own name."""
    target = deployment.get("target")
    return str(target) if target else "preview"


def _one_line(value: Any, limit: int = 300) -> str:
    return " ".join(str(value).split())[:limit]


def error_summary(deployment: dict[str, Any], lines: list[str]) -> str | None:
    """One line saying why a failed deployment failed: Vercel's error message, else the log's last
    error line."""
    if deployment.get("state") != "ERROR":
        return None
    given = deployment.get("error_message") or deployment.get("error_code") or (lines[-1] if lines else None)
    return _one_line(given, MAX_SUMMARY) if given else None


def render_deployment(
    deployment: dict[str, Any], errors: list[str] | None, *, project: str | None = None
) -> VercelDocument:
    """``deployment``: deployment_fields (merged over what was stored); ``errors``: its build log's
    error lines (already bounded), None when they were not read."""
    deployment_id = str(deployment["id"])
    lines = list(errors or [])
    state = str(deployment.get("state") or "BUILDING")
    name = project or deployment.get("name") or deployment.get("project_id") or "project"
    host = deployment.get("url")
    url = deployment.get("inspector_url") or (f"https://{host}" if host else f"https://vercel.com/{name}")
    repo = (
        f"{deployment['repo_owner']}/{deployment['repo_name']}"
        if deployment.get("repo_owner") and deployment.get("repo_name")
        else None
    )
    sha = deployment.get("commit_sha")
    message = deployment.get("commit_message")
    env = environment(deployment)
    title = f"Deployment of {_one_line(name, 100)} ({env}): {state}"
    lines_md = [f"# {title}", ""]
    facts = [
        ("Deployment", deployment_id),
        ("Project", name),
        ("Status", state),
        ("Environment", env),
        ("Address", f"https://{host}" if host else None),
        ("Aliases", ", ".join(deployment.get("aliases") or []) or None),
        ("Branch", deployment.get("branch")),
        ("Repository", repo),
        ("Commit", sha),
        ("Author", deployment.get("author")),
        ("Pull request", deployment.get("pull_request")),
        ("Created", deployment.get("created_at")),
        ("Ready", deployment.get("ready_at")),
        ("Error code", deployment.get("error_code")),
    ]
    lines_md += [f"- {key}: {_one_line(value, 500)}" for key, value in facts if value not in (None, "")]
    if message:
        lines_md += ["", "## Commit message", "", str(message).replace("```", "'''")]
    summary = error_summary(deployment, lines)
    if state == "ERROR":
        lines_md += ["", "## Error", ""]
        if deployment.get("error_message"):
            lines_md.append(_one_line(deployment["error_message"], 5000))
        if lines:
            body = "\n".join(line.replace("```", "'''") for line in lines)
            lines_md += ["", "Build log (error lines):", "", "```", body, "```"]
        elif not deployment.get("error_message"):
            lines_md.append("The build failed; its log was not read (the connection has no API token).")
    markdown = "\n".join(lines_md)[:MAX_MARKDOWN] + "\n"
    metadata = VercelDocMetadata(
        deployment_id=deployment_id,
        deployment_url=host,
        project=name,
        project_id=deployment.get("project_id"),
        environment=env,
        status=state,
        target=deployment.get("target"),
        commit_sha=sha,
        commit_message=_one_line(message, 500) if message else None,
        branch=deployment.get("branch"),
        repo=repo,
        author=deployment.get("author"),
        error_count=len(lines) if state == "ERROR" else None,
        error_summary=summary,
        created_at=deployment.get("created_at") or deployment.get("building_at"),
        ready_at=deployment.get("ready_at"),
        url=url,
        github_commit_sha=sha if repo and deployment.get("repo_owner") else None,
        github_commit_org=deployment.get("repo_owner"),
        github_commit_repo=deployment.get("repo_name"),
        github_pr_id=deployment.get("pull_request"),
    ).wire()
    temporal: dict[str, Any] = {"deploymentId": deployment_id}
    if sha:
        temporal["commitSha"] = sha
    relationships = {"mentions": {"vercel": [deployment_id]}, "temporal": temporal}
    entity = entity_id(deployment_id)
    return VercelDocument(
        entity, path_for("deployment", entity), title, markdown, url, metadata, relationships
    )
