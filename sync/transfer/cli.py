"""``motcua transfer``: sealed transfers by USB stick for boxes that never see a network."""

from __future__ import annotations

import json
from pathlib import Path

import click

from edge.context import CliContext, pass_ctx
from sync.errors import SyncError


def _fail(exc: SyncError) -> None:
    raise click.ClickException(f"{exc.message_vi or ''} [{exc}]".strip())


def _target(ctx: CliContext, to: Path | None, usb: bool):
    """The directory to write to: ``--to DIR``, or the one USB stick udev sees (mounted here)."""
    import contextlib

    if to is not None:
        return contextlib.nullcontext(to)
    if not usb:
        raise click.UsageError("give --to DIR, or --usb to use the stick the box sees")
    from ._stick import find_sticks, mounted_stick

    cfg = ctx.settings.transfer
    sticks = find_sticks(filesystems=cfg.filesystems)
    if len(sticks) != 1:
        raise click.ClickException(f"{len(sticks)} USB stick(s) found; plug in exactly one")
    return mounted_stick(sticks[0], mount_dir=Path(cfg.mount_dir))


@click.group("transfer")
def transfer_group() -> None:
    """Sealed transfers by USB stick (no network)."""


@transfer_group.command("export")
@click.option("--to", "to", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="Directory of a mounted stick.")
@click.option("--usb", is_flag=True, help="Mount the one USB stick udev sees, write, unmount.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@pass_ctx
def export_command(ctx: CliContext, to: Path | None, usb: bool, as_json: bool) -> None:
    """Write every dossier the city has not confirmed to a stick, sealed to the city."""
    from ._export import export_transfer

    try:
        with ctx.open_store() as store, _target(ctx, to, usb) as target:
            report = export_transfer(store, target)
    except SyncError as exc:
        _fail(exc)
    if as_json:
        click.echo(json.dumps({"transfer_id": report.transfer_id, "path": str(report.path),
                               "dossiers": report.dossiers, "skipped": report.skipped, "bytes": report.bytes}))
    else:
        click.echo(f"{len(report.dossiers)} dossier(s) written to {report.path} ({report.bytes} bytes); "
                   "they stay on this box until the city's receipt comes back")
        if report.skipped:
            click.echo(f"left off (pages do not verify): {', '.join(report.skipped)}", err=True)


@transfer_group.command("import")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path), required=False)
@click.option("--usb", is_flag=True, help="Mount the one USB stick udev sees, import, unmount.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@pass_ctx
def import_command(ctx: CliContext, directory: Path | None, usb: bool, as_json: bool) -> None:
    """Forward another station's transfer to the hub, or apply a receipts stick."""
    from ._import import import_stick

    try:
        with ctx.open_store() as store, _target(ctx, directory, usb) as root:
            report = import_stick(store, ctx.settings, root)
    except SyncError as exc:
        _fail(exc)
    if as_json:
        click.echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=1))
    else:
        for t in report.transfers:
            if t.refused:
                click.echo(f"{t.name}: refused: {t.refused_vi} [{t.refused}]", err=True)
            else:
                click.echo(f"{t.name}: {len(t.forwarded)} forwarded, {len(t.already)} already at the city")
        if report.receipts_applied or report.receipts_known or report.receipts_refused:
            click.echo(f"receipts: {len(report.receipts_applied)} applied, {report.receipts_known} already known, "
                       f"{len(report.receipts_refused)} refused")
        if report.partial:
            click.echo(f"{report.partial} half-written director(y/ies) ignored", err=True)
    if not report.ok:
        raise SystemExit(1)


@transfer_group.command("receipts")
@click.option("--to", "to", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="Directory of a mounted stick.")
@click.option("--usb", is_flag=True, help="Mount the one USB stick udev sees, write, unmount.")
@click.option("--station", "station_id", default=None, help="Only this origin station's receipts.")
@pass_ctx
def receipts_command(ctx: CliContext, to: Path | None, usb: bool, station_id: str | None) -> None:
    """Write the receipts this box got as a relay to a stick, for their origin stations."""
    from ._receipts import write_receipts_stick

    try:
        with ctx.open_store() as store, _target(ctx, to, usb) as target:
            path, n = write_receipts_stick(store, target, station_id=station_id)
    except SyncError as exc:
        _fail(exc)
    click.echo(f"{n} receipt(s) written to {path}")
