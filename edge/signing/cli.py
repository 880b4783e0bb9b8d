"""``motcua token``: the signing token's state, read without a PIN."""

from __future__ import annotations

import json
import sys

import click

from edge.context import CliContext, pass_ctx


@click.command("token")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_ctx
def token_command(ctx: CliContext, as_json: bool) -> None:
    """Show the signing token (ký số): present, label, certificate subject and expiry, PIN state.

    Exits 1 when the token cannot sign (absent, locked, expired or untrusted certificate)."""
    from ._token import token_status

    status = token_status(ctx.settings.signing)
    if as_json:
        click.echo(json.dumps(status.to_dict(), ensure_ascii=False, indent=1))
    else:
        click.echo(f"state: {status.state}")
        for key in ("label", "cert_subject", "cert_not_after", "days_left"):
            value = getattr(status, key)
            if value not in ("", None):
                click.echo(f"{key}: {value}")
        click.echo(f"pin: {'locked' if status.pin_locked else ('count low' if status.pin_count_low else 'ok')}")
        if status.message_vi:
            click.echo(status.message_vi)
    if not status.can_sign:
        sys.exit(1)
