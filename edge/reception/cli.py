"""Subcommands of this package (registered by edge.cli): catalog, calendar, fee."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from pathlib import Path

import click
import sqlite_utils

from edge.context import CliContext, pass_ctx
from edge.errors import StoreError

from ._calendar import Override, WorkCalendar, import_overrides, load_overrides, load_overrides_json
from ._catalog import (
    CHANNEL_VI,
    get_procedure,
    import_catalog,
    list_procedures,
    load_catalog_json,
    parse_day,
)
from ._fees import quote_fee
from ._vietqr import DEFAULT_PURPOSE_MAX, build_vietqr, parse_vietqr, vietqr_png


def _echo_json(data) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2))


# ---------------------------------------------------------------- catalog


@click.group("catalog")
def catalog_group() -> None:
    """Procedure catalog (thủ tục hành chính)."""


@catalog_group.command("import")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@pass_ctx
def catalog_import(ctx: CliContext, file: Path) -> None:
    """Validate FILE (JSON) and replace the local catalog with it."""
    procedures = load_catalog_json(file)
    with ctx.open_store() as store:
        result = import_catalog(store, procedures, source=f"file:{file.name}")
        store.audit("catalog.import", actor="cli", details={"count": result.count, "sha256": result.sha256,
                                                             "source": result.source})
    click.echo(f"imported {result.count} procedures, {result.versions} versions (sha256 {result.sha256[:16]}…)")


@catalog_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the full records as JSON.")
@click.option("--field", help="Only this field (lĩnh vực).")
@click.option("--search", help="Search in names (diacritics optional) and codes.")
@pass_ctx
def catalog_list(ctx: CliContext, as_json: bool, field: str | None, search: str | None) -> None:
    """List the procedures of the local catalog."""
    with ctx.open_store() as store:
        procedures = list_procedures(store, field=field, search=search)
    if as_json:
        _echo_json([p.to_dict() for p in procedures])
        return
    for p in procedures:
        times = ", ".join(f"{CHANNEL_VI[c.kind]} {c.processing_time.text_vi()}" for c in p.channels)
        click.echo(f"{p.code:<24} {p.name} [{p.field}] ({times})")


@catalog_group.command("show")
@click.argument("code")
@click.option("--at", "at", metavar="YYYY-MM-DD", help="The version in force on this day (default: today).")
@pass_ctx
def catalog_show(ctx: CliContext, code: str, at: str | None) -> None:
    """Print one procedure (the version in force today, or on the day --at) as JSON."""
    day = parse_day(at, "--at", "at") if at is not None else None
    with ctx.open_store() as store:
        _echo_json(get_procedure(store, code, at=day).to_dict())


# ---------------------------------------------------------------- calendar


def _parse_dt(value: str, what: str) -> dt.datetime:
    try:
        return dt.datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date-time like 2027-02-03T10:00", param_hint=what) from None


def _state_overrides(ctx: CliContext) -> list[Override]:
    """Overrides of an initialized state directory, read without the station key (not personal)."""
    from edge.store import DB_NAME

    path = Path(ctx.settings.store.state_dir) / DB_NAME
    if not path.exists():
        return []
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            db = sqlite_utils.Database(conn)
            if not db["calendar_overrides"].exists():
                return []
            return [Override(date=dt.date.fromisoformat(r["date"]), kind=r["kind"], reason=r["reason"])
                    for r in db.query("SELECT date, kind, reason FROM calendar_overrides")]
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise StoreError(f"cannot read calendar overrides from {path}: {exc}",
                         message_vi="Không đọc được bảng ngày nghỉ bù / làm bù của trạm.") from None


@click.group("calendar")
def calendar_group() -> None:
    """Working days and appointment dates."""


@calendar_group.command("due")
@click.option("--received", required=True, help="When the dossier was received, e.g. 2027-02-03T10:00.")
@click.option("--days", type=float, help="Processing time in working days.")
@click.option("--hours", type=float, help="Processing time in working hours.")
@click.option("--rule", help="Special rule instead of a processing time, e.g. same_day_cutoff_15.")
@click.option("--suspend", "suspensions", multiple=True, metavar="START/END",
              help="Suspension while waiting for papers (repeatable), e.g. 2027-02-11T08:00/2027-02-12T17:00.")
@click.option("--overrides", "overrides_file", type=click.Path(path_type=Path, dir_okay=False),
              help="JSON file of swapped days off / make-up working days.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_ctx
def calendar_due(ctx: CliContext, received: str, days: float | None, hours: float | None, rule: str | None,
                 suspensions: tuple[str, ...], overrides_file: Path | None, as_json: bool) -> None:
    """Compute the appointment date of a dossier."""
    received_at = _parse_dt(received, "--received")
    pauses = []
    for item in suspensions:
        start, sep, end = item.partition("/")
        if not sep:
            raise click.BadParameter(f"{item!r} must be START/END", param_hint="--suspend")
        pauses.append((_parse_dt(start, "--suspend"), _parse_dt(end, "--suspend")))
    overrides = _state_overrides(ctx)
    if overrides_file is not None:
        overrides += load_overrides_json(overrides_file)
    calendar = WorkCalendar.from_config(ctx.settings.reception, overrides=overrides)
    result = calendar.due(received_at, days=days, hours=hours, suspensions=pauses, rule=rule)
    if as_json:
        _echo_json(result.to_dict())
        return
    click.echo(f"Nhận hồ sơ: {result.received_at:%H:%M %d/%m/%Y}")
    click.echo(f"Hẹn trả:    {result.due_at:%H:%M %d/%m/%Y}")
    for skipped in result.skipped:
        click.echo(f"  bỏ qua {skipped.date:%d/%m/%Y}: {skipped.reason}")


@calendar_group.group("overrides")
def overrides_group() -> None:
    """Swapped days off and make-up working days (normally synced from the city)."""


@overrides_group.command("import")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--replace", is_flag=True, help="Drop every stored override first.")
@pass_ctx
def overrides_import(ctx: CliContext, file: Path, replace: bool) -> None:
    """Import overrides from FILE into the store."""
    items = load_overrides_json(file)
    with ctx.open_store() as store:
        count = import_overrides(store, items, source=f"file:{file.name}", replace=replace)
        store.audit("calendar.overrides_import", actor="cli", details={"count": count, "replace": replace})
    click.echo(f"imported {count} calendar overrides")


@overrides_group.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def overrides_list(ctx: CliContext, as_json: bool) -> None:
    """List the stored overrides."""
    with ctx.open_store() as store:
        items = load_overrides(store)
    if as_json:
        _echo_json([o.to_dict() for o in items])
        return
    for o in items:
        click.echo(f"{o.date.isoformat()}  {o.kind:<12} {o.reason}")


# ---------------------------------------------------------------- fees


@click.group("fee")
def fee_group() -> None:
    """Fees and VietQR payment codes."""


@fee_group.command("vietqr")
@click.option("--bin", "bank_bin", help="Bank BIN (6 digits); default reception.vietqr_bin.")
@click.option("--account", help="Account number; default reception.vietqr_account.")
@click.option("--amount", type=int, help="Amount in VND (omit for a static code).")
@click.option("--purpose", default="", help="Transfer purpose (folded to ASCII), e.g. the dossier code.")
@click.option("--max-purpose", type=click.IntRange(1, 99), default=DEFAULT_PURPOSE_MAX, show_default=True)
@click.option("--png", type=click.Path(path_type=Path, dir_okay=False), help="Also write the QR code as PNG.")
@pass_ctx
def fee_vietqr(ctx: CliContext, bank_bin: str | None, account: str | None, amount: int | None, purpose: str,
               max_purpose: int, png: Path | None) -> None:
    """Print a VietQR payload (EMVCo, CRC-16/CCITT-FALSE)."""
    if bank_bin is None or account is None:
        reception = ctx.settings.reception
        bank_bin = bank_bin or reception.vietqr_bin
        account = account or reception.vietqr_account
    payload = build_vietqr(bank_bin=bank_bin or "", account=account or "", amount=amount, purpose=purpose,
                           max_purpose=max_purpose)
    if png is not None:
        png.write_bytes(vietqr_png(payload))
    click.echo(payload)


@fee_group.command("verify")
@click.argument("payload")
def fee_verify(payload: str) -> None:
    """Parse a VietQR payload, verify its CRC and print its fields as JSON."""
    parsed = parse_vietqr(payload)
    _echo_json({"bin": parsed.bin, "account": parsed.account, "amount": parsed.amount,
                "purpose": parsed.purpose, "service": parsed.service, "dynamic": parsed.dynamic})


@fee_group.command("quote")
@click.argument("code")
@click.option("--channel", type=click.Choice(["direct", "online", "postal"]), default="direct", show_default=True)
@pass_ctx
def fee_quote(ctx: CliContext, code: str, channel: str) -> None:
    """Print the fee lines of a procedure as JSON."""
    with ctx.open_store() as store:
        procedure = get_procedure(store, code)
    _echo_json(quote_fee(procedure, channel).to_dict())
