"""Core subcommands: init, config show, dossier …, check, serve, unlock."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import click

from edge.errors import MotcuaError, StoreError, ValidationError

from ._context import CliContext, pass_ctx


def _echo_json(data) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=1, default=str))


@click.command("init")
@click.option("--agency", required=True, help="Agency code of the receiving unit, e.g. 000.00.06.H56.")
@click.option("--city-key", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The city's HPKE public key (JSON). Without it a demo city key pair is made.")
@click.option("--passphrase-stdin", is_flag=True, help="Use the passphrase key provider; read the passphrase from stdin.")
@pass_ctx
def init_command(ctx: CliContext, agency: str, city_key: Path | None, passphrase_stdin: bool) -> None:
    """Create a new state directory: station key, database, city public key."""
    from edge.store import Store

    settings = ctx.settings
    passphrase = None
    if passphrase_stdin:
        passphrase = sys.stdin.readline().rstrip("\n")
        settings = settings.replace("store", key_provider="passphrase")
    result = Store.init(settings, agency_code=agency, city_public_key=city_key.read_bytes() if city_key else None,
                        passphrase=passphrase)
    local = result.state_dir / "edge.toml"
    if not local.exists():
        lines = ["[station]", f'agency_code = "{agency}"', "", "[store]", f'key_provider = "{settings.store.key_provider}"', ""]
        local.write_text("\n".join(lines))
    click.echo(f"initialized {result.state_dir} (agency {agency}, city key {result.city_key_fingerprint})")
    if result.demo_city_private_key:
        click.echo(f"demo city private key (keep it off the box): {result.demo_city_private_key}")


@click.group("config")
def config_group() -> None:
    """Inspect the configuration."""


@config_group.command("show")
@pass_ctx
def config_show(ctx: CliContext) -> None:
    """Print the effective configuration with secrets masked."""
    from edge.config import show_settings

    click.echo(show_settings(ctx.settings))


@click.group("dossier")
def dossier_group() -> None:
    """Create, inspect and export dossiers of the local store."""


def _load_applicant(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise click.BadParameter(f"{path} does not exist", param_hint="--applicant") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise click.BadParameter(f"{path} is not valid JSON: {exc}", param_hint="--applicant") from None
    return data


@dossier_group.command("create")
@click.option("--procedure", required=True, help="Procedure code, e.g. 1.001612.")
@click.option("--applicant", "applicant_file", required=True, type=click.Path(path_type=Path),
              help="JSON file: full_name, id_number, date_of_birth, gender, address, phone.")
@click.option("--page", "pages", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A page file (image or PDF); repeat for more pages.")
@click.option("--component", default="", help="Component code the pages belong to.")
@click.option("--actor", default="cli", help="Who is recording this (audit log).")
@click.option("--draft", is_flag=True, help="Leave the dossier a draft (to refuse, send back or finalize later); prints {\"id\"}.")
@click.option("--supplement-of", default="", metavar="CODE", help="The code of the form 02 this dossier completes.")
@click.option("--sign", is_flag=True, help="Sign the PDF pages with the [signing] token (ký số, PAdES).")
@click.option("--pin-stdin", is_flag=True, help="With --sign: read the token PIN from the first line of stdin.")
@pass_ctx
def dossier_create(ctx: CliContext, procedure: str, applicant_file: Path, pages: tuple[Path, ...], component: str,
                   actor: str, draft: bool, supplement_of: str, sign: bool, pin_stdin: bool) -> None:
    """Create and finalize a dossier in one step; prints {"id", "code"}.

    The dossier has the shape of one received at the counter (checklist, fee to be collected
    later, appointment). Required components without pages are recorded as accepted by ACTOR.
    With --draft it stays a draft (pages attached) and only {"id"} is printed.
    With --sign the PDF pages are signed with the unit's token first (nothing is stored if
    signing fails).
    """
    if sign and (draft or supplement_of):
        raise click.UsageError("--sign signs a dossier received in one step; sign a draft's pages on its web page")
    pin = _sign_pin(ctx, sign, pin_stdin)
    from edge import services
    from edge.store import PageSource

    applicant = _load_applicant(applicant_file)
    if draft or supplement_of:
        from ._counter import create_draft

        with ctx.open_store() as store:
            _echo_json(create_draft(store, procedure=procedure, applicant=applicant, pages=pages, component=component,
                                    actor=actor, supplement_of=supplement_of, finalize=not draft, settings=ctx.settings))
        return
    with ctx.open_store() as store:
        if not services.has_catalog(store):
            click.echo("warning: the procedure catalog is empty (motcua catalog import FILE): no appointment date computed",
                       err=True)
        handles = [open(p, "rb") for p in pages]
        try:
            sources = [PageSource(source=h, component=component,
                                  media_type=services.sniff_media_type(h.peek(services.SNIFF_BYTES)[:services.SNIFF_BYTES]))
                       for h in handles]
            records: list = []
            if pin is not None:
                sources, records = services.sign_sources(store, ctx.settings, sources, pin)

            def run(_conn) -> services.Received:
                received = services.receive(store, ctx.settings, procedure_code=procedure, applicant=applicant,
                                            pages=sources, actor=actor, fee={"method": "later"}, override_by=actor)
                if records:  # in the receive's transaction: the manifest is built with them
                    store.set_meta(received.dossier_id, actor=actor, signatures=records)
                return received

            received = store.write(run)
        finally:
            for h in handles:
                h.close()
    _echo_json({"id": received.dossier_id, "code": received.code})


def _sign_pin(ctx: CliContext, sign: bool, pin_stdin: bool) -> str | None:
    """The token PIN for --sign: from stdin, or typed without echo; never printed or stored."""
    if not sign:
        if pin_stdin:
            raise click.UsageError("--pin-stdin goes with --sign")
        return None
    if not ctx.settings.signing.configured:
        raise click.UsageError("--sign needs the [signing] section: pkcs11_module, token_label, key_label")
    from edge.signing import token_status

    status = token_status(ctx.settings.signing)  # who signs, shown before the PIN is asked
    if not status.can_sign:
        raise click.ClickException(f"the signing token cannot sign ({status.state}): {status.message_vi}")
    click.echo(f"ký số bằng chứng thư: {status.cert_subject} (hết hạn {status.cert_not_after[:10]})", err=True)
    if status.message_vi:
        click.echo(status.message_vi, err=True)
    if pin_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt("Mã PIN token ký số", hide_input=True)


@dossier_group.command("show")
@click.argument("dossier_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_ctx
def dossier_show(ctx: CliContext, dossier_id: str, as_json: bool) -> None:
    """Show one dossier (personal data opened for this authorized local user)."""
    with ctx.open_store() as store:
        dossier = store.get(_resolve(store, dossier_id))
        store.audit("dossier.view", actor="cli", dossier_id=dossier.id)
    data = dataclasses.asdict(dossier)
    if as_json:
        _echo_json(data)
        return
    for key in ("id", "code", "procedure_code", "status", "sync_state", "city_status", "received_at", "due_at"):
        click.echo(f"{key}: {data[key]}")
    if dossier.applicant:
        for key, value in dossier.applicant.to_dict().items():
            if value:
                click.echo(f"applicant.{key}: {value}")
    for page in dossier.pages:
        click.echo(f"page {page.index}: {page.media_type} {page.plain_size} bytes component={page.component or '-'}")


def _resolve(store, ref: str) -> str:
    """Accept a dossier id or a dossier code."""
    found = store.find_by_code(ref)
    return found.id if found else ref


#: ``edge.store.LIST_STATUSES``, spelled out so that ``--help`` does not import the store.
LIST_STATUSES = ("draft", "finalized", "handed_over", "shredded", "refused", "supplement_requested")


@dossier_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--limit", type=click.IntRange(1, 10000), default=50)
@click.option("--status", type=click.Choice(LIST_STATUSES),  # edge.store.LIST_STATUSES (kept lazy)
              help="A status, or an outcome (refused, supplement_requested); finalized means received.")
@pass_ctx
def dossier_list(ctx: CliContext, as_json: bool, limit: int, status: str | None) -> None:
    """List dossiers (non-personal columns only); a refused or sent-back dossier shows its outcome."""
    with ctx.open_store() as store:
        found = store.list(limit=limit, status=status)
    if as_json:
        _echo_json([dataclasses.asdict(s) for s in found])
        return
    for s in found:
        click.echo(f"{s.code or '(nháp)':<28} {s.list_status:<20} {s.sync_state or '-':<10} {s.procedure_code:<12} {s.id}")


@dossier_group.command("page")
@click.argument("dossier_id")
@click.argument("index", type=int)
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Where to write the decrypted page.")
@pass_ctx
def dossier_page(ctx: CliContext, dossier_id: str, index: int, out: Path) -> None:
    """Decrypt one page to a file (for an authorized local user); a signed component is
    written as the signed PDF, byte for byte."""
    tmp = out.with_name(out.name + ".part")
    with ctx.open_store() as store:
        did = _resolve(store, dossier_id)
        try:
            with open(tmp, "wb") as fh:
                for chunk in store.read_page(did, index):
                    fh.write(chunk)
            tmp.replace(out)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        store.audit("page.export", actor="cli", dossier_id=did, details={"index": index})
    click.echo(str(out))


@dossier_group.command("receipt")
@click.argument("dossier_id")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="PDF file to write.")
@click.option("--clerk", default="", help="Name of the receiving clerk printed on the receipt.")
@click.option("--sign", is_flag=True, help="Sign the receipt with the [signing] token (ký số, PAdES).")
@click.option("--pin-stdin", is_flag=True, help="With --sign: read the token PIN from the first line of stdin.")
@pass_ctx
def dossier_receipt(ctx: CliContext, dossier_id: str, out: Path, clerk: str, sign: bool, pin_stdin: bool) -> None:
    """Write the reception receipt (form 01) of a finalized dossier as a PDF."""
    from edge.reception import receipt_for_dossier, render_receipt

    pin = _sign_pin(ctx, sign, pin_stdin)
    with ctx.open_store() as store:
        did = _resolve(store, dossier_id)
        pdf = render_receipt(receipt=receipt_for_dossier(store, did, clerk_name=clerk))
        if pin is not None:
            from edge import services

            pdf = services.sign_receipt(store, ctx.settings, pdf, pin)
        store.audit("dossier.receipt", actor="cli", dossier_id=did)
    out.write_bytes(pdf)
    click.echo(str(out))


@dossier_group.command("refuse")
@click.argument("dossier_id")
@click.option("--reason", default="", help="Why the dossier is refused (printed on form 03).")
@click.option("--legal-basis", default="", help="The provision the refusal rests on (form 03's legal basis field).")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="PDF file of form 03.")
@click.option("--clerk", default="", help="Name of the clerk printed on the form (default: ACTOR).")
@click.option("--actor", default="cli", help="Who is refusing (audit log).")
@pass_ctx
def dossier_refuse(ctx: CliContext, dossier_id: str, reason: str, legal_basis: str, out: Path, clerk: str,
                   actor: str) -> None:
    """Refuse a draft (form 03 "Phiếu từ chối"): sealed and sent to the city; writes the form."""
    from ._counter import close_draft

    _echo_json(close_draft(ctx, dossier_id, out=out, clerk=clerk or actor, actor=actor, reason=reason,
                           legal_basis=legal_basis))


@dossier_group.command("request-supplement")
@click.argument("dossier_id")
@click.option("--item", "items", multiple=True, metavar="COMPONENT:TEXT",
              help="A component of the procedure and what is missing or wrong with it; repeat for more.")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="PDF file of form 02.")
@click.option("--clerk", default="", help="Name of the clerk printed on the form (default: ACTOR).")
@click.option("--actor", default="cli", help="Who is asking (audit log).")
@pass_ctx
def dossier_request_supplement(ctx: CliContext, dossier_id: str, items: tuple[str, ...], out: Path, clerk: str,
                               actor: str) -> None:
    """Send a draft back for supplements (form 02, by component): sealed and sent to the city."""
    from ._counter import close_draft

    _echo_json(close_draft(ctx, dossier_id, out=out, clerk=clerk or actor, actor=actor, items=list(items)))


@click.command("check")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def check_command(ctx: CliContext, as_json: bool) -> None:
    """Re-verify every blob, every sealed field and the audit chain. Exit 1 if anything is broken."""
    with ctx.open_store() as store:
        report = store.check()
    if as_json:
        _echo_json({"ok": report.ok, "problems": report.problems, "notes": report.notes, "dossiers": report.dossiers,
                    "pages": report.pages, "audit_rows": report.audit_rows})
    else:
        for p in report.problems:
            click.echo(f"BROKEN: {p}")
        for n in report.notes:
            click.echo(f"note: {n}")
        click.echo(f"checked {report.dossiers} dossiers, {report.pages} pages, {report.audit_rows} audit rows: "
                   + ("OK" if report.ok else f"{len(report.problems)} problem(s)"))
    if not report.ok:
        sys.exit(1)


@click.command("serve")
@click.option("--demo", is_flag=True, help="Run with embedded defaults: demo state dir, demo data, local demo city hub.")
@click.option("--host", default=None, help="Listen address (default web.host).")
@click.option("--port", type=int, default=None, help="Listen port (default web.port).")
@click.option("--demo-hub-port", type=int, default=None, help="Port of the demo city hub (with --demo; default 8765).")
@pass_ctx
def serve_command(ctx: CliContext, demo: bool, host: str | None, port: int | None, demo_hub_port: int | None) -> None:
    """Run the appliance: store, devices, sync client and the clerk web app."""
    from edge.app import run_server

    run_server(ctx, demo=demo, host=host, port=port, demo_hub_port=demo_hub_port)


@click.command("unlock")
@click.option("--url", default=None, help="Address of the running appliance (default from web.host/web.port).")
@pass_ctx
def unlock_command(ctx: CliContext, url: str | None) -> None:
    """Give the running appliance its passphrase (passphrase key provider)."""
    import urllib.error
    import urllib.request

    passphrase = click.prompt("Mật khẩu mở khóa", hide_input=True) if sys.stdin.isatty() else sys.stdin.readline().rstrip("\n")
    base = url or f"http://{ctx.settings.web.host}:{ctx.settings.web.port}"
    req = urllib.request.Request(base.rstrip("/") + "/unlock", data=json.dumps({"passphrase": passphrase}).encode(),
                                 headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            click.echo(json.loads(resp.read()).get("message", "ok"))
    except urllib.error.HTTPError as exc:
        raise click.ClickException(json.loads(exc.read() or b"{}").get("message", str(exc))) from None
    except urllib.error.URLError as exc:
        raise click.ClickException(f"the appliance is not reachable at {base}: {exc.reason}") from None


@click.command("status")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def status_command(ctx: CliContext, as_json: bool) -> None:
    """Counts of dossiers by state, outbox and start-up findings."""
    with ctx.open_store() as store:
        data = {
            "state_dir": str(store.root),
            "agency_code": store.agency_code,
            "station_id": store.station_id,
            "dossiers": {r["status"]: r["n"] for r in store.query("SELECT status, COUNT(*) AS n FROM dossiers GROUP BY status")},
            "outbox": {r["state"]: r["n"] for r in store.query("SELECT state, COUNT(*) AS n FROM outbox GROUP BY state")},
            "startup": dataclasses.asdict(store.startup_report),
        }
    if as_json:
        _echo_json(data)
    else:
        for k, v in data.items():
            click.echo(f"{k}: {v}")


__all__ = ["MotcuaError", "StoreError", "ValidationError"]
