"""``lightfast secrets ...``: the key that seals stored credentials."""

from __future__ import annotations

import json

import typer

from lightfast.cli.common import JsonOption, app, console, guarded, services

secrets_app = typer.Typer(
    help="Credentials at rest (AES-256-GCM under LIGHTFAST_SECRET_KEY).", no_args_is_help=True
)
app.add_typer(secrets_app, name="secrets")


@secrets_app.command("rotate")
def rotate(as_json: JsonOption = False) -> None:
    """Re-seal every stored credential under LIGHTFAST_SECRET_KEY.

    Rotate a key: set the new key in LIGHTFAST_SECRET_KEY and the old one in
    LIGHTFAST_PREVIOUS_SECRET_KEYS, run this, then drop the old key.
    Example: lightfast secrets rotate
    """
    with services() as svc:
        report = guarded(svc.vendors.credentials.rotate)
    if as_json:
        print(
            json.dumps(
                {
                    "keyId": report.key_id,
                    "resealed": report.resealed,
                    "remainingByKey": report.remaining_by_key,
                }
            )
        )
        return
    console.print(f"re-sealed {report.resealed} credential(s) under key {report.key_id}")
    stale = {kid: n for kid, n in report.remaining_by_key.items() if kid != report.key_id}
    if stale:
        console.print(f"[yellow]still under other keys:[/yellow] {stale}")
