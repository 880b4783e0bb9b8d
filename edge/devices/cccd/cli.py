"""Subcommands of this package (registered by edge.cli): ``motcua cccd parse-qr|read|readers``."""

from __future__ import annotations

import json
import sys

import click

from edge.context import pass_ctx
from edge.errors import MotcuaError


def _fail(exc: MotcuaError, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps({"ok": False, "error": type(exc).__name__, "message": str(exc),
                               "message_vi": exc.message_vi, "field": getattr(exc, "field", None)},
                              ensure_ascii=False))
    else:
        click.echo(f"error: {exc}", err=True)
        if exc.message_vi:
            click.echo(f"lỗi: {exc.message_vi}", err=True)
    sys.exit(2)


@click.group("cccd")
def cccd() -> None:
    """CCCD card: parse its QR, read its chip (for IT testing; output goes to stdout only)."""


@cccd.command("parse-qr")
@click.argument("payload")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def parse_qr(payload: str, as_json: bool) -> None:
    """Parse a scanned QR: a CCCD card's QR or a receipt's dossier-code QR."""
    from . import CccdQrData, classify_qr

    try:
        result = classify_qr(payload)
    except MotcuaError as exc:
        _fail(exc, as_json)
        return
    if isinstance(result, CccdQrData):
        out = {"ok": True, "kind": "cccd", "id_number": result.id_number, "old_id_number": result.old_id_number,
               "full_name": result.full_name, "date_of_birth": result.date_of_birth, "gender": result.gender,
               "address": result.address, "issue_date": result.issue_date, "extra": list(result.extra),
               "applicant": result.to_applicant()}
    else:
        out = {"ok": True, "kind": "receipt", "dossier_code": result}
    if as_json:
        click.echo(json.dumps(out, ensure_ascii=False))
    else:
        for key, value in out.items():
            if key not in ("ok", "applicant"):
                click.echo(f"{key}: {value}")


@cccd.command("readers")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def readers_cmd(as_json: bool) -> None:
    """List the PC/SC readers pcscd sees."""
    from . import list_readers

    try:
        names = list_readers()
    except MotcuaError as exc:
        _fail(exc, as_json)
        return
    click.echo(json.dumps({"ok": True, "readers": names}) if as_json else "\n".join(names))


@cccd.command("read")
@click.option("--reader", help="Reader name (or its prefix); default devices.card_reader, else the first.")
@click.option("--mrz-doc", help="Document number as in the MRZ (9 characters; a 12-digit ID uses its last 9).")
@click.option("--mrz-dob", help="Date of birth YYMMDD.")
@click.option("--mrz-expiry", help="Date of expiry YYMMDD.")
@click.option("--can", help="Card access number: the last 6 digits of the ID number (PACE; the card must offer it).")
@click.option("--csca-dir", help="Directory of CSCA certificates (default devices.csca_dir).")
@click.option("--old-id-field", type=int, default=None, help="DG13 field number of the old ID (15 or 16).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_ctx
def read_cmd(ctx, reader, mrz_doc, mrz_dob, mrz_expiry, can, csca_dir, old_id_field, as_json) -> None:
    """Read and verify a CCCD chip: PACE (CAN or MRZ) or BAC, DG1 + DG13, passive authentication.

    With --can the card is opened by PACE; with the MRZ fields, by PACE when the card offers it,
    else by BAC.
    """
    from . import MrzKey, PcscTransport, read_card

    settings = ctx.settings.devices
    try:
        if can is None and not (mrz_doc and mrz_dob and mrz_expiry):
            raise click.UsageError("give --mrz-doc, --mrz-dob and --mrz-expiry, or --can")
        key = MrzKey.from_fields(mrz_doc, mrz_dob, mrz_expiry) if mrz_doc else None
        field_no = old_id_field or getattr(settings, "dg13_old_id_field", 15)
        with PcscTransport(reader or settings.card_reader or None) as transport:
            result = read_card(transport, mrz=key, can=can, csca_dir=csca_dir or settings.csca_dir or None,
                               old_id_field=field_no)
    except MotcuaError as exc:
        _fail(exc, as_json)
        return
    out = {"ok": True, **result.to_dict()}
    if as_json:
        click.echo(json.dumps(out, ensure_ascii=False))
    else:
        for key_, value in out["fields"].items():
            click.echo(f"{key_}: {value}")
        click.echo(f"access: {result.access}")
        click.echo(f"verified: {result.verified} ({result.passive.reason})")
