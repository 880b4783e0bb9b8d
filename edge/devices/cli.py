"""Subcommands of this package (registered by edge.cli): ``devices`` and ``scan``."""

from __future__ import annotations

import json
import shlex

import click

from edge.context import CliContext, pass_ctx


@click.command("devices")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@pass_ctx
def devices_command(ctx: CliContext, as_json: bool) -> None:
    """List scanners, QR scanners and card readers (one enumeration, no monitoring)."""
    from edge.devices import DeviceManager

    manager = DeviceManager(settings=ctx.settings, start_qr_readers=False)
    records = manager.enumerate_once()
    if as_json:
        click.echo(json.dumps({"devices": [r.to_dict() for r in records],
                               "drivers": [{"name": d.name, "ok": d.ok, "error": d.error}
                                           for d in manager.drivers()]}, ensure_ascii=False))
        return
    if not records:
        click.echo("no devices found")
    for rec in records:
        label = " ".join(x for x in (rec.vendor, rec.model) if x) or rec.name
        click.echo(f"{rec.kind:<12} {rec.status:<7} {rec.id}  {label}"
                   + (f"  [{rec.last_error}]" if rec.last_error else ""))
    for drv in manager.drivers():
        if not drv.ok:
            click.echo(f"driver {drv.name}: {drv.error}", err=True)


@click.command("scan")
@click.option("--device", "device", help="SANE device name (default: devices.scanner).")
@click.option("--pages", type=click.IntRange(1, 500), default=1, show_default=True)
@click.option("--dossier", "dossier_id", required=True, help="Draft dossier id.")
@click.option("--component", required=True, help="Dossier component the pages belong to.")
@click.option("--resolution", type=int, default=None, help="dpi (default: devices.scan_resolution).")
@click.option("--mode", default=None, help="Color, Gray or Lineart (default: devices.scan_mode).")
@click.option("--source", default="", help="ADF, Flatbed, Duplex or the scanner's own source name.")
@click.option("--duplex", is_flag=True, help="Scan both sides where the scanner offers it.")
@click.option("--option", "options", multiple=True,
              help="Extra scanimage option passed through, e.g. --option='-x 50'.")
@click.option("--actor", default="cli", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@pass_ctx
def scan_command(ctx: CliContext, device: str | None, pages: int, dossier_id: str, component: str,
                 resolution: int | None, mode: str | None, source: str, duplex: bool,
                 options: tuple[str, ...], actor: str, as_json: bool) -> None:
    """Scan PAGES pages into a draft dossier (encrypted; one PDF per component)."""
    from edge.devices import ScanProgress, ScanRequest, scan_to_store

    cfg = ctx.settings.devices
    name = device or cfg.scanner.split(",")[0].strip()
    extra: list[str] = []
    for opt in options:
        extra.extend(shlex.split(opt))
    request = ScanRequest(device=name, dossier_id=dossier_id, component=component, pages=pages,
                          resolution=resolution or cfg.scan_resolution, mode=mode or cfg.scan_mode,
                          source=source, duplex=duplex, actor=actor, extra_options=tuple(extra))

    def progress(event: ScanProgress) -> None:
        if event.state in ("page_stored", "error", "assembling"):
            text = event.message_vi or event.state
            click.echo(f"[{event.page}/{event.pages}] {text}", err=True)

    with ctx.open_store() as store:
        result = scan_to_store(store, request, on_progress=progress,
                               max_page_bytes=ctx.settings.store.max_page_mb * 1024 * 1024)
    if as_json:
        click.echo(json.dumps(result.to_dict(), ensure_ascii=False))
    else:
        click.echo(f"{len(result.pages)} page(s) stored in component {component}"
                   + (f", PDF page {result.pdf.index}" if result.pdf is not None else ""))
    if result.error is not None and not result.feeder_empty:
        click.echo(f"lỗi: {result.error.message_vi or result.error}", err=True)
        raise SystemExit(2)
