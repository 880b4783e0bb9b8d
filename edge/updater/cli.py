"""`motcua update …`: the box's updater (run by motcua-update.service) and its service-user helpers."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from edge.context import CliContext, pass_ctx


@click.group("update")
def update_group() -> None:
    """Install a release the hub rolled out, check the box, roll back when unhealthy (docs/deploy.md)."""


@update_group.command("run")
@click.option("--pool", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Install with dpkg from this directory of .deb files instead of apt.")
@click.option("--user", default="motcua", show_default=True, help="The service user that owns the store.")
@click.option("--web-url", default=None, help="The clerk web app to check (default: from the box's web.host/web.port).")
@click.option("--health-timeout", type=float, default=300, show_default=True)
@click.option("--receipt-key", type=click.Path(dir_okay=False, path_type=Path),
              default=Path("/etc/motcua/hub-receipt.pub"), show_default=True,
              help="The hub's receipt key (written by first boot) that signs update commands.")
def run_cmd(pool: Path | None, user: str, web_url: str | None, health_timeout: float, receipt_key: Path) -> None:
    """As root: take the hub's pending update, install it, check the box, roll back if it is unhealthy."""
    from ._health import SystemHealth
    from ._installer import AptInstaller, DpkgInstaller
    from ._runuser import RunuserBox
    from ._updater import Updater

    motcua = sys.argv[0] if Path(sys.argv[0]).is_absolute() else "/usr/bin/motcua"
    box = RunuserBox(user=user, motcua=motcua, receipt_key_file=receipt_key)
    installer = DpkgInstaller(pool) if pool else AptInstaller()
    health = SystemHealth(user=user, motcua=motcua, web_url=web_url or box.web_url(), timeout=health_timeout)
    result = Updater(box=box, installer=installer, health=health).run()
    click.echo(result.message)
    if result.outcome in ("rolled_back", "failed"):
        sys.exit(1)


@update_group.command("pending")
@pass_ctx
def pending_cmd(ctx: CliContext) -> None:
    """As the service user: the newest update command, intake activity, the store's floor (JSON)."""
    from ._box import StoreBox

    with ctx.open_store() as store:
        box = StoreBox(ctx.settings, store)
        rows = store.query("SELECT command_id, body FROM sync_commands WHERE kind = 'update' "
                           "ORDER BY received_at DESC, rowid DESC LIMIT 1")
        out = {"station_id": store.station_id, "signed": json.loads(rows[0]["body"]) if rows else None,
               "busy": box.intake_busy(), "schema_min_version": box.schema_min_version(),
               "last_result": box.last_result(), "web_url": _web_url(ctx.settings)}
    click.echo(json.dumps(out, ensure_ascii=False))


@update_group.command("record")
@pass_ctx
def record_cmd(ctx: CliContext) -> None:
    """As the service user: keep the updater's result (JSON on standard input) in the store."""
    result = _read_result()
    from ._box import StoreBox

    with ctx.open_store() as store:
        StoreBox(ctx.settings, store).record(result)


@update_group.command("report")
@pass_ctx
def report_cmd(ctx: CliContext) -> None:
    """As the service user: send the updater's result (JSON on standard input) to the hub."""
    result = _read_result()
    from ._box import StoreBox

    with ctx.open_store() as store:
        StoreBox(ctx.settings, store).report(result)
    click.echo("reported")


@update_group.command("migrate")
@pass_ctx
def migrate_cmd(ctx: CliContext) -> None:
    """Open the store once, applying its pending migrations (the package's postinst runs this)."""
    with ctx.open_store() as store:
        applied = store.startup_report.migrations_applied
    click.echo(f"store migrated: {len(applied)} step(s) applied" + (f" ({', '.join(applied)})" if applied else ""))


def _web_url(settings) -> str:
    host = settings.web.host if settings.web.host not in ("0.0.0.0", "::", "") else "127.0.0.1"
    return f"http://{'[' + host + ']' if ':' in host else host}:{settings.web.port}/"


def _read_result() -> dict[str, Any]:
    try:
        result = json.loads(sys.stdin.read())
    except ValueError as exc:
        raise click.ClickException(f"standard input is not JSON: {exc}") from None
    if not isinstance(result, dict):
        raise click.ClickException("standard input must be a JSON object")
    return result
