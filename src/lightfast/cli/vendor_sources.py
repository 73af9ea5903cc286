"""``lightfast source add linear|notion|zendesk``: connect a Linear or Notion workspace or a Zendesk
account. Each connection has its own webhook URL and signing secret; a token (read from an environment
variable, never from the command line, where other users of the machine can see it) turns on the
backfill through the vendor's API."""

from __future__ import annotations

import json
import os
import re
from typing import Annotated

import typer

from lightfast.cli.common import JsonOption, WorkspaceOption, console, errors, guarded, services
from lightfast.cli.sources import add_app

ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")

NameOption = Annotated[
    str | None, typer.Option("--name", help="The vendor workspace this connection reads (default: the type).")
]
SecretOption = Annotated[
    str | None,
    typer.Option(
        "--webhook-secret",
        help="The webhook's signing secret (Linear shows it when the webhook is created); generated when "
        "not given, and printed once.",
    ),
]
TokenEnvOption = Annotated[
    str | None,
    typer.Option("--token-env", help="Environment variable holding an API token; enables the backfill."),
]


def _token(token_env: str | None) -> str | None:
    if token_env is None:
        return None
    if not ENV_NAME.fullmatch(token_env):
        errors.print("[red]error:[/red] --token-env must be an environment variable's name")
        raise typer.Exit(2)
    value = os.environ.get(token_env)
    if not value:
        errors.print(f"[red]error:[/red] the environment variable {token_env} is not set")
        raise typer.Exit(2)
    return value


def _connect(
    source_type: str,
    workspace: str | None,
    name: str | None,
    webhook_secret: str | None,
    token_env: str | None,
    as_json: bool,
    options: dict[str, str] | None = None,
) -> None:
    token = _token(token_env)
    with services() as svc:
        workspace_id = guarded(lambda: svc.workspaces.ensure_workspace_id(workspace))
        connected = guarded(
            lambda: svc.vendors.connections.connect(
                workspace_id,
                source_type,
                name=name,
                webhook_secret=webhook_secret,
                token=token,
                token_env=token_env,
                options=options,
                triggered_by="cli",
            )
        )
    shown = connected.to_dict()
    if as_json:
        print(json.dumps(shown, indent=2))
        return
    console.print(f"{connected.source.id}: connected {connected.source.display_name} ({connected.mode})")
    console.print(f"webhook URL: {connected.webhook_url}")
    if connected.generated_webhook_secret:
        console.print(f"signing secret (shown once): {connected.generated_webhook_secret}")
    if connected.job_id:
        console.print(f"backfill job: {connected.job_id}")
    if connected.notice:
        console.print(f"[yellow]note:[/yellow] {connected.notice}")


@add_app.command("linear")
def add_linear(
    workspace: WorkspaceOption = None,
    name: NameOption = None,
    webhook_secret: SecretOption = None,
    token_env: TokenEnvOption = None,
    as_json: JsonOption = False,
) -> None:
    """Connect a Linear workspace: issues, comments and projects, indexed from signed webhook deliveries.

    Example: lightfast source add linear --name acme --webhook-secret lin_wh_... --token-env LINEAR_API_KEY
    """
    _connect("linear", workspace, name, webhook_secret, token_env, as_json)


@add_app.command("notion")
def add_notion(
    workspace: WorkspaceOption = None,
    name: NameOption = None,
    token_env: TokenEnvOption = None,
    as_json: JsonOption = False,
) -> None:
    """Connect a Notion workspace. Its webhook subscription's first delivery (the handshake) carries the
    verification token that signs every later one. Notion events carry ids only: without a token they are
    recorded, not indexed.

    Example: lightfast source add notion --name acme --token-env NOTION_TOKEN
    """
    _connect("notion", workspace, name, None, token_env, as_json)


@add_app.command("zendesk")
def add_zendesk(
    subdomain: Annotated[
        str, typer.Option("--subdomain", help="The account's subdomain: acme for acme.zendesk.com.")
    ],
    workspace: WorkspaceOption = None,
    name: NameOption = None,
    webhook_secret: Annotated[
        str | None,
        typer.Option(
            "--webhook-secret",
            help="The webhook's signing secret (Zendesk: Admin Center > Apps and integrations > Webhooks > "
            "the webhook > Reveal secret). Without it every delivery is refused.",
        ),
    ] = None,
    email: Annotated[
        str | None,
        typer.Option("--email", help="The agent the API token belongs to (email/token auth)."),
    ] = None,
    token_env: TokenEnvOption = None,
    private_comments: Annotated[
        bool,
        typer.Option(
            "--private-comments/--no-private-comments",
            help="Index internal notes (flagged private in their metadata); on by default.",
        ),
    ] = True,
    as_json: JsonOption = False,
) -> None:
    """Connect a Zendesk account: tickets with their comments, and help-center articles, indexed from
    signed webhook deliveries; with an API token, backfilled and reconciled through Zendesk's API.

    Example: lightfast source add zendesk --subdomain acme --webhook-secret ... --email agent@acme.com
    --token-env ZENDESK_API_TOKEN
    """
    options = {"subdomain": subdomain, "privateComments": str(private_comments).lower()}
    if email:
        options["email"] = email
    _connect("zendesk", workspace, name or subdomain, webhook_secret, token_env, as_json, options)


@add_app.command("sentry")
def add_sentry(
    organization: Annotated[str, typer.Option("--organization", help="The Sentry organization's slug.")],
    projects: Annotated[
        list[str] | None,
        typer.Option(
            "--project", help="A project's slug (repeat it); none: every project of the organization."
        ),
    ] = None,
    workspace: WorkspaceOption = None,
    name: NameOption = None,
    webhook_secret: Annotated[
        str | None,
        typer.Option(
            "--webhook-secret",
            help="The integration's client secret (Sentry: Settings > Developer Settings > the integration > "
            "Client Secret). Without it every delivery is refused.",
        ),
    ] = None,
    token_env: TokenEnvOption = None,
    as_json: JsonOption = False,
) -> None:
    """Connect a Sentry organization: issues (with their latest event's stack) and their comments,
    indexed from signed webhook deliveries; with an auth token, backfilled and reconciled through the API.

    Example: lightfast source add sentry --organization acme --project web --webhook-secret ...
    --token-env SENTRY_AUTH_TOKEN
    """
    options = {"organization": organization}
    if projects:
        options["projects"] = ",".join(projects)
    _connect("sentry", workspace, name or organization, webhook_secret, token_env, as_json, options)


@add_app.command("vercel")
def add_vercel(
    projects: Annotated[
        list[str], typer.Option("--project", help="A project's id (prj_...) or name (repeat it).")
    ],
    team: Annotated[
        str | None, typer.Option("--team", help="The team's id (team_...), for a team's projects.")
    ] = None,
    workspace: WorkspaceOption = None,
    name: NameOption = None,
    webhook_secret: Annotated[
        str | None,
        typer.Option(
            "--webhook-secret",
            help="The webhook's secret (Vercel: Account or Team Settings > Webhooks, shown once when the "
            "webhook is created). Without it every delivery is refused.",
        ),
    ] = None,
    token_env: TokenEnvOption = None,
    as_json: JsonOption = False,
) -> None:
    """Connect Vercel projects: one document per deployment (its state, commit, branch and, for a failed
    build, its error lines), indexed from signed webhook deliveries; with an access token, each project's
    newest deployments backfilled and reconciled through the API.

    Example: lightfast source add vercel --project web --team team_abc --webhook-secret ...
    --token-env VERCEL_TOKEN
    """
    options = {"projects": ",".join(projects)} | ({"team": team} if team else {})
    _connect("vercel", workspace, name or projects[0][:100], webhook_secret, token_env, as_json, options)
