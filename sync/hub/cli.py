"""`motcua hub …`: run the reference city hub and administer it."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from core.codes import MAX_NUMBER, partition_fits
from sync.errors import HubError, ProtocolError

from ._limits import HubLimits

_LIMITS = HubLimits()  # the defaults

DATA_DIR_ENV = "MOTCUA_HUB_DATA_DIR"
DB_ENV = "MOTCUA_HUB_DB"


def _now() -> int:
    return int(time.time() * 1000)


def data_dir_option(fn: Callable) -> Callable:
    fn = click.option("--db", envvar=DB_ENV, default=None,
                      help="Database URL: postgresql://… or sqlite:///path (default: as at init, else DATA_DIR/hub.sqlite3).")(fn)
    return click.option("--data-dir", envvar=DATA_DIR_ENV, required=True,
                        type=click.Path(file_okay=False, path_type=Path),
                        help=f"Hub data directory (keys, blobs, SQLite database); env {DATA_DIR_ENV}.")(fn)


def _open(data_dir: Path, db: str | None):
    from ._serve import open_hub

    return open_hub(data_dir, db=db)


@click.group("hub")
def hub() -> None:
    """The reference city hub: serve the sync protocol and administer stations and dossiers."""


@hub.command("init")
@data_dir_option
@click.option("--city-key", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="The city's key file (public or private JSON); without it a new city key pair is made.")
@click.option("--kem", type=click.Choice(["MLKEM768_X25519", "X25519"]), default="MLKEM768_X25519",
              show_default=True, help="HPKE KEM of a generated city key.")
@click.option("--blobs", "blobs_url", metavar="s3://BUCKET[/PREFIX]",
              help="Keep blobs in this S3 bucket (default: DATA_DIR/blobs). Credentials from AWS_ACCESS_KEY_ID / "
                   "AWS_SECRET_ACCESS_KEY or --s3-credentials-file, never stored.")
@click.option("--s3-endpoint", metavar="URL", help="The S3 endpoint (Ceph RGW, …); default AWS.")
@click.option("--s3-region", default=None, help="The S3 region [us-east-1].")
@click.option("--s3-ca", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="CA certificate that signs the S3 endpoint's TLS certificate.")
@click.option("--s3-credentials-file", type=click.Path(dir_okay=False, path_type=Path),
              help="An AWS-style credentials file to read the S3 keys from.")
def init_cmd(data_dir: Path, db: str | None, city_key: Path | None, kem: str, blobs_url: str | None,
             s3_endpoint: str | None, s3_region: str | None, s3_ca: Path | None,
             s3_credentials_file: Path | None) -> None:
    """Create the hub's keys, configuration and database."""
    from ._keys import init_data_dir
    from .storage import open_storage

    blobs = None
    if blobs_url:
        from ._s3 import S3Config

        blobs = S3Config.from_dict({k: v for k, v in {
            "url": blobs_url, "endpoint": s3_endpoint, "region": s3_region,
            "ca_file": str(s3_ca.resolve()) if s3_ca else None,
            "credentials_file": str(s3_credentials_file.resolve()) if s3_credentials_file else None}.items()
            if v is not None}).to_dict()
    elif s3_endpoint or s3_ca or s3_credentials_file or s3_region:
        raise click.UsageError("--s3-* options need --blobs s3://BUCKET")
    keys, private_path = init_data_dir(data_dir, city_key=city_key, kem=kem, db=db, blobs=blobs)
    open_storage(db, data_dir=data_dir).close()
    click.echo(f"hub initialised in {data_dir}")
    if blobs:
        click.echo(f"blobs in {blobs['url']} at {blobs.get('endpoint', 'AWS')}")
    click.echo(f"receipt signing key id: {keys.receipt_key_id}")
    click.echo(f"city key ({keys.city_public.kem}) fingerprint: {keys.city_public.fingerprint()}")
    if private_path:
        click.echo(f"city PRIVATE key written to {private_path}: move it offline; `hub open` needs it.")


@hub.command("serve")
@data_dir_option
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8700, show_default=True, type=int)
@click.option("--tls-cert", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--tls-key", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--ready-file", type=click.Path(dir_okay=False, path_type=Path), hidden=True,
              help="Write the hub's URL here once it listens (for supervisors and tests).")
@click.option("--max-connections", type=click.IntRange(min=1), default=_LIMITS.max_connections, show_default=True,
              help="Open connections at once; more are answered 503.")
@click.option("--max-unauthenticated", type=click.IntRange(min=1), default=_LIMITS.max_unauthenticated,
              show_default=True, help="Requests being checked (not yet authenticated) at once; more are answered 503.")
@click.option("--body-deadline", type=click.FloatRange(min=0, min_open=True), default=_LIMITS.body_deadline,
              show_default=True, help="Seconds for a request head, and for a JSON body, to arrive whole.")
@click.option("--min-body-rate", type=click.IntRange(min=1), default=_LIMITS.min_body_rate, show_default=True,
              help="Bytes/s a blob chunk must at least arrive at (a larger chunk gets longer than --body-deadline).")
def serve_cmd(data_dir: Path, db: str | None, host: str, port: int, tls_cert: Path | None,
              tls_key: Path | None, ready_file: Path | None, max_connections: int, max_unauthenticated: int,
              body_deadline: float, min_body_rate: int) -> None:
    """Serve the sync protocol (HTTPS with --tls-cert/--tls-key; plain HTTP only on loopback)."""
    import logging

    from ._serve import serve_forever

    logging.getLogger("sync.hub").setLevel(logging.INFO)
    limits = HubLimits(max_connections=max_connections, max_unauthenticated=max_unauthenticated,
                       body_deadline=body_deadline, min_body_rate=min_body_rate)
    serve_forever(data_dir, host=host, port=port, db=db, tls_cert=tls_cert, tls_key=tls_key, ready_file=ready_file,
                  limits=limits)


@hub.command("add-station")
@data_dir_option
@click.argument("station_id")
@click.option("--agency", "agency_code", required=True, help="Agency code, e.g. 000.00.06.H26.")
@click.option("--name", default="")
@click.option("--kind", type=click.Choice(["branch", "commune", "mobile", "popup"]), default="branch", show_default=True)
@click.option("--address", default="")
@click.option("--partition-index", type=int, default=None,
              help="Code partition (default: the lowest free; an enrolled station's replacement box always gets a new one).")
@click.option("--partition-size", type=int, default=None,
              help="Numbers per day in the partition (default: 1000 for a new station, else the station's size).")
@click.option("--expires-in-days", type=float, default=7.0, show_default=True)
@click.option("--json", "as_json", is_flag=True)
def add_station_cmd(data_dir: Path, db: str | None, station_id: str, agency_code: str, name: str, kind: str,
                    address: str, partition_index: int | None, partition_size: int | None, expires_in_days: float,
                    as_json: bool) -> None:
    """Register a station (or a replacement box) and print its one-time enrollment token."""
    from sync.protocol import format_token, ms_to_rfc3339, new_token, token_sha256
    from sync.protocol._schemas import agency_code as check_agency
    from sync.protocol._schemas import station_id as check_station

    from .storage import NewStation

    try:
        check_station(station_id)
        check_agency(agency_code, "--agency")
    except ProtocolError as exc:
        raise click.BadParameter(str(exc)) from None
    if partition_size is not None and not partition_fits(0, partition_size):
        raise click.BadParameter(f"--partition-size must be 1-{MAX_NUMBER}")
    if expires_in_days <= 0:
        raise click.BadParameter("--expires-in-days must be positive")
    storage, _ = _open(data_dir, db)
    token = new_token()
    now = _now()
    expires = now + int(expires_in_days * 86400_000)
    try:
        st = storage.add_station(NewStation(station_id=station_id, agency_code=agency_code, name=name, kind=kind,
                                            address=address, partition_index=partition_index,
                                            partition_size=partition_size),
                                 token_sha256=token_sha256(token), token_expires_at=expires, now=now)
        promised = [r for r in storage.partitions(agency_code=agency_code, now=now)
                    if r.kind == "pending" and r.station_id == station_id]
    finally:
        storage.close()
    index, size = ((promised[0].partition_index, promised[0].partition_size) if promised
                   else (st.partition_index, st.partition_size))
    if as_json:
        click.echo(json.dumps({"station_id": st.station_id, "token": token, "expires_at": ms_to_rfc3339(expires),
                               "partition_index": index, "partition_size": size, "replacement": bool(promised)}))
        return
    click.echo(f"station {st.station_id} ({st.agency_code}), code partition {index} × {size}"
               + (f" for the replacement box (the old box keeps {st.partition_index} × {st.partition_size})"
                  if promised else ""))
    click.echo(f"enrollment token (one use, expires {ms_to_rfc3339(expires)}):")
    click.echo(format_token(token))


@hub.command("import-stations")
@data_dir_option
@click.argument("file", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--partition-size", type=int, default=1000, show_default=True)
def import_stations_cmd(data_dir: Path, db: str | None, file: Path, partition_size: int) -> None:
    """Import stations and token hashes from a JSON-lines file (all lines or none)."""
    rows = read_station_lines(file)
    storage, _ = _open(data_dir, db)
    try:
        created, updated = storage.import_stations(rows, now=_now(), partition_size=partition_size)
    finally:
        storage.close()
    click.echo(f"imported {len(rows)} station(s): {created} new, {updated} re-tokened")


def read_station_lines(file: Path) -> list:
    """Validate every line first; errors name the line and the field."""
    from sync.protocol import parse_station_line

    rows = []
    seen: dict[str, int] = {}
    errors: list[str] = []
    try:
        lines = file.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise HubError(f"{file} is not UTF-8: {exc}") from None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = parse_station_line(json.loads(line))
        except ValueError as exc:
            errors.append(f"line {number}: not JSON: {exc}")
            continue
        except ProtocolError as exc:
            errors.append(f"line {number}: {exc}")
            continue
        if row.station_id in seen:
            errors.append(f"line {number}: station_id {row.station_id} repeats line {seen[row.station_id]}")
            continue
        seen[row.station_id] = number
        rows.append(row)
    if errors:
        raise HubError(f"{file}: {len(errors)} error(s), nothing imported:\n  " + "\n  ".join(errors[:50]))
    if not rows:
        raise HubError(f"{file} holds no stations")
    return rows


@hub.command("stations")
@data_dir_option
@click.option("--json", "as_json", is_flag=True)
def stations_cmd(data_dir: Path, db: str | None, as_json: bool) -> None:
    """List stations: enrollment, revocation, last seen."""
    from ._core import station_admin_view

    storage, _ = _open(data_dir, db)
    try:
        views = [station_admin_view(s) for s in storage.list_stations()]
    finally:
        storage.close()
    if as_json:
        click.echo(json.dumps(views, ensure_ascii=False, indent=1))
        return
    for v in views:
        state = "revoked" if v["revoked_at"] else ("enrolled" if v["enrolled"] else "awaiting enrollment")
        click.echo(f"{v['station_id']:<24} {v['agency_code']:<15} {v['kind']:<8} p{v['partition_index']:<3} "
                   f"{state:<20} last seen {v['last_seen_at'] or '-'}")


@hub.command("dossiers")
@data_dir_option
@click.option("--json", "as_json", is_flag=True)
@click.option("--station", default=None)
@click.option("--unsigned", is_flag=True, help="Only dossiers whose page signatures are invalid or missing.")
def dossiers_cmd(data_dir: Path, db: str | None, as_json: bool, station: str | None, unsigned: bool) -> None:
    """List received dossiers (non-personal metadata only), with the state of their page
    signatures: valid, invalid, missing, or unverified (not opened yet)."""
    from ._core import dossier_admin_view
    from ._signatures import signature_state

    storage, _ = _open(data_dir, db)
    try:
        views = [{**dossier_admin_view(d), "signature": signature_state(data_dir, d.manifest)}
                 for d in storage.list_dossiers(station_id=station)]
    finally:
        storage.close()
    if unsigned:
        views = [v for v in views if v["signature"] in ("invalid", "missing")]
    if as_json:
        click.echo(json.dumps(views, ensure_ascii=False, indent=1))
        return
    for v in views:
        click.echo(f"{v['dossier_id']:<28} {v['code']:<28} {v['station_id']:<16} {v['state']:<10} "
                   f"status {v['status'] or '-'}  signature {v['signature']}")


@hub.command("outcomes")
@data_dir_option
@click.option("--agency", default=None, help="Only dossiers of this agency.")
@click.option("--json", "as_json", is_flag=True)
def outcomes_cmd(data_dir: Path, db: str | None, agency: str | None, as_json: bool) -> None:
    """Count the dossiers the city holds by counter outcome: received, refused, supplement requested."""
    storage, _ = _open(data_dir, db)
    try:
        counts = storage.outcome_counts(agency_code=agency)
    finally:
        storage.close()
    if as_json:
        click.echo(json.dumps(counts))
        return
    for outcome, n in counts.items():
        click.echo(f"{outcome:<22} {n}")


@hub.command("city-events")
@data_dir_option
@click.option("--json", "as_json", is_flag=True)
@click.option("--all", "include_delivered", is_flag=True, help="Delivered events too.")
def city_events_cmd(data_dir: Path, db: str | None, as_json: bool, include_delivered: bool) -> None:
    """Events for the city system not delivered yet, their age and last error (the dead-letter view)."""
    from ._city import outbox_view

    storage, _ = _open(data_dir, db)
    try:
        views = [outbox_view(e, now=_now()) for e in storage.city_events(undelivered_only=not include_delivered)]
    finally:
        storage.close()
    if as_json:
        click.echo(json.dumps(views, ensure_ascii=False, indent=1))
        return
    if not views:
        click.echo("no city events waiting")
    for v in views:
        state = "delivered" if v["delivered_at"] else ("DEAD" if v["dead"] else "waiting")
        click.echo(f"{v['code']:<28} {state:<9} age {v['age_s'] // 3600}h{v['age_s'] % 3600 // 60:02d}m "
                   f"attempts {v['attempts']:<3} {v['last_error']}")


@hub.command("city-retry")
@data_dir_option
@click.argument("event_id", required=False)
def city_retry_cmd(data_dir: Path, db: str | None, event_id: str | None) -> None:
    """Send waiting city events (all, or EVENT_ID) at the next delivery round instead of after their backoff."""
    storage, _ = _open(data_dir, db)
    try:
        n = storage.retry_city_events(now=_now(), event_id=event_id)
    finally:
        storage.close()
    click.echo(f"{n} event(s) due now")


@hub.command("set-status")
@data_dir_option
@click.argument("dossier")
@click.argument("status")
@click.option("--note", default="", help="Shown to the clerk with the status.")
def set_status_cmd(data_dir: Path, db: str | None, dossier: str, status: str, note: str) -> None:
    """Record the city's processing status (national code 1-10 or its name); the box sees it on the feed."""
    from sync.protocol import DOSSIER_STATUSES, status_code

    try:
        code = status_code(status)
    except ProtocolError as exc:
        raise click.BadParameter(str(exc)) from None
    storage, _ = _open(data_dir, db)
    try:
        row = storage.set_status(_resolve(storage, dossier), status=code, note=note, now=_now())
    finally:
        storage.close()
    click.echo(f"dossier {row.data['dossier_id']}: status {code} ({DOSSIER_STATUSES[code]}), feed seq {row.seq}")


def _resolve(storage, ref: str) -> str:
    """A dossier id, or a dossier code."""
    if storage.get_dossier(ref) is not None:
        return ref
    for d in storage.list_dossiers():
        if d.code == ref:
            return d.dossier_id
    raise HubError(f"no dossier with id or code {ref!r}")


@hub.command("open")
@data_dir_option
@click.argument("dossier")
@click.option("--city-key", required=True, type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--trust-roots", type=click.Path(dir_okay=False, exists=True, path_type=Path), default=None,
              help="PEM file of the CAs trusted for page signatures (default DATA_DIR/signing-roots.pem).")
def open_cmd(data_dir: Path, db: str | None, dossier: str, city_key: Path, out: Path, trust_roots: Path | None) -> None:
    """Decrypt a dossier (personal data and pages) with the city's private key into OUT and
    verify every page signature (report in OUT/signatures.json)."""
    from ._keys import load_city_private
    from ._open import open_dossier

    key = load_city_private(city_key)
    storage, _ = _open(data_dir, db)
    try:
        summary = open_dossier(storage, data_dir, _resolve(storage, dossier), city_key=key, out=out,
                               trust_roots=trust_roots)
    finally:
        storage.close()
    click.echo(f"dossier {summary['code']} opened into {out}: dossier.json and {len(summary['pages'])} page(s)")
    report = summary["signatures"]
    click.echo(f"signatures: {report['state']}")
    for page in report["pages"]:
        for sig in page["signatures"]:
            line = f"  page {page['index']}: {'valid' if sig['valid'] else 'INVALID'}"
            if sig.get("signer"):
                line += f", signer {sig['signer']}, time {sig.get('signed_at', '-')} ({sig.get('level', '-')})"
            if sig["failed"]:
                line += ": " + "; ".join(sig["failed"])
            click.echo(line)


@hub.command("revoke")
@data_dir_option
@click.argument("station_id")
@click.option("--reason", default="revoked by the city", show_default=True)
def revoke_cmd(data_dir: Path, db: str | None, station_id: str, reason: str) -> None:
    """Revoke a station: its requests are refused and it is told to wipe itself."""
    import uuid

    from ._core import wipe_builder

    storage, keys = _open(data_dir, db)
    try:
        st = storage.revoke(station_id, reason=reason, now=_now(), command_id=uuid.uuid4().hex,
                            build_command=wipe_builder(keys, reason))
    finally:
        storage.close()
    click.echo(f"station {st.station_id} revoked; wipe command {st.wipe_command['command']['command_id']}")


@hub.command("set-partition")
@data_dir_option
@click.argument("station_id")
@click.option("--index", "index", required=True, type=int, help="New partition index within the agency.")
@click.option("--size", "size", type=int, default=None, help="Numbers per day (default: the station's size).")
def set_partition_cmd(data_dir: Path, db: str | None, station_id: str, index: int, size: int | None) -> None:
    """Move a station's box to another dossier-code partition (sent on the feed)."""
    if index < 0:
        raise click.BadParameter("must be ≥ 0", param_hint="--index")
    if size is not None and not partition_fits(0, size):
        raise click.BadParameter(f"must be 1-{MAX_NUMBER}", param_hint="--size")
    if size is not None and not partition_fits(index, size):
        raise click.BadParameter(f"partition {index} × {size} does not fit in 0001-{MAX_NUMBER:04d} "
                                 f"((index + 1) × size must be ≤ {MAX_NUMBER})", param_hint="--index")
    storage, _ = _open(data_dir, db)
    try:
        st, item = storage.set_partition(station_id, index=index, size=size, now=_now())
    finally:
        storage.close()
    first, last = st.partition_index * st.partition_size + 1, (st.partition_index + 1) * st.partition_size
    click.echo(f"station {st.station_id} ({st.agency_code}): code partition {st.partition_index} × "
               f"{st.partition_size} (numbers {first:04d}-{last:04d})")
    if item is not None:
        click.echo(f"code_partition item at feed seq {item.seq}; the old range stays reserved until the box has "
                   "read it and that day is over")
    else:
        click.echo("the station has not enrolled yet: its box learns the partition when it enrolls")


@hub.command("partitions")
@data_dir_option
@click.option("--agency", default=None, help="Only this agency.")
@click.option("--all", "include_free", is_flag=True, help="Also retired partitions that are free again.")
@click.option("--json", "as_json", is_flag=True)
def partitions_cmd(data_dir: Path, db: str | None, agency: str | None, include_free: bool, as_json: bool) -> None:
    """Dossier-code partitions per agency: stations, pending replacements, retired ranges."""
    storage, _ = _open(data_dir, db)
    try:
        views = [r.to_json() for r in storage.partitions(agency_code=_agency(agency), now=_now(),
                                                         include_free=include_free)]
    finally:
        storage.close()
    if as_json:
        click.echo(json.dumps(views, ensure_ascii=False, indent=1))
        return
    for v in views:
        extra = f" {v['reason']}, stopped {v['stopped_at'] or '-'}" if v["kind"] == "retired" else ""
        click.echo(f"{v['agency_code']:<15} {v['numbers']} p{v['partition_index']:<4} {v['kind']:<8} "
                   f"{v['station_id']}{extra}")


@hub.command("release-partition")
@data_dir_option
@click.argument("agency")
@click.argument("index", type=int)
def release_partition_cmd(data_dir: Path, db: str | None, agency: str, index: int) -> None:
    """Free a retired partition whose old box is gone for good (destroyed, or wiped).

    Refused on the day of the old box's last contact: it may have issued numbers that day.
    """
    storage, _ = _open(data_dir, db)
    try:
        n = storage.release_partition(_agency(agency) or agency, index, now=_now())
    finally:
        storage.close()
    click.echo(f"released {n} retired reservation(s) of partition {index} in agency {agency}")


@hub.command("send-command")
@data_dir_option
@click.argument("station_id")
@click.argument("kind", type=click.Choice(["rotate_key", "resync", "wipe"]))
def send_command_cmd(data_dir: Path, db: str | None, station_id: str, kind: str) -> None:
    """Put a signed command for one station on the feed (it obeys at its next pull)."""
    from sync.protocol import FeedType

    from ._core import signed_command

    storage, keys = _open(data_dir, db)
    try:
        if storage.get_station(station_id) is None:
            raise HubError(f"no station {station_id!r}")
        command = signed_command(keys, station_id=station_id, kind=kind, now=_now())
        row = storage.append_feed(FeedType.COMMAND, command, now=_now(), station_id=station_id)
    finally:
        storage.close()
    click.echo(f"command {command['command']['command_id']} ({kind}) for {station_id} at feed seq {row.seq}")


def _push(data_dir: Path, db: str | None, items: list[tuple[str, dict[str, Any]]], agency: str | None) -> list[int]:
    storage, _ = _open(data_dir, db)
    try:
        return [storage.append_feed(t, d, now=_now(), agency_code=agency).seq for t, d in items]
    finally:
        storage.close()


def _load_json(file: Path) -> Any:
    try:
        return json.loads(file.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise HubError(f"{file} is not JSON: {exc}") from None


def _agency(agency: str | None) -> str | None:
    if agency is not None:
        from sync.protocol._schemas import agency_code

        try:
            agency_code(agency, "--agency")
        except ProtocolError as exc:
            raise click.BadParameter(str(exc)) from None
    return agency


@hub.group("catalog")
def catalog() -> None:
    """Procedure catalog sent to the boxes."""


@catalog.command("push")
@data_dir_option
@click.argument("file", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--agency", default=None, help="Only boxes of this agency (default: all).")
def catalog_push(data_dir: Path, db: str | None, file: Path, agency: str | None) -> None:
    """Publish a catalog JSON file {version, procedures: [...]} on the feed."""
    from sync.protocol import FeedType, parse_catalog

    doc = parse_catalog(_load_json(file))
    (seq,) = _push(data_dir, db, [(FeedType.PROCEDURE_CATALOG, doc)], _agency(agency))
    click.echo(f"catalog version {doc['version']} ({len(doc['procedures'])} procedures) on the feed at seq {seq}")


@hub.group("units")
def units() -> None:
    """Two-tier administrative units (province, commune) sent to the boxes."""


@units.command("push")
@data_dir_option
@click.argument("file", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--agency", default=None, help="Only boxes of this agency (default: all).")
def units_push(data_dir: Path, db: str | None, file: Path, agency: str | None) -> None:
    """Publish an administrative units JSON file {version, units: [...]} on the feed."""
    from sync.protocol import FeedType, parse_admin_units

    doc = parse_admin_units(_load_json(file))
    (seq,) = _push(data_dir, db, [(FeedType.ADMIN_UNITS, doc)], _agency(agency))
    click.echo(f"administrative units version {doc['version']} ({len(doc['units'])} units) on the feed at seq {seq}")


@hub.group("calendar")
def calendar() -> None:
    """Holiday and make-up working day tables sent to the boxes."""


@calendar.command("push")
@data_dir_option
@click.argument("file", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--agency", default=None)
def calendar_push(data_dir: Path, db: str | None, file: Path, agency: str | None) -> None:
    """Publish calendar overrides: a JSON list of {date, kind: day_off|working_day|none, reason}."""
    from sync.protocol import FeedType, parse_calendar_entry

    doc = _load_json(file)
    if isinstance(doc, dict) and "overrides" in doc:
        doc = doc["overrides"]
    if not isinstance(doc, list) or not doc:
        raise HubError(f"{file}: expected a non-empty JSON list of overrides")
    entries = [parse_calendar_entry(e, f"[{i}]") for i, e in enumerate(doc)]
    seqs = _push(data_dir, db, [(FeedType.CALENDAR_OVERRIDE, e) for e in entries], _agency(agency))
    click.echo(f"{len(entries)} calendar override(s) on the feed (seq {seqs[0]}-{seqs[-1]})")


@hub.group("clerks")
def clerks() -> None:
    """Clerk accounts sent to the boxes."""


@clerks.command("add")
@data_dir_option
@click.argument("username")
@click.option("--role", type=click.Choice(["clerk", "supervisor", "admin"]), default="clerk", show_default=True)
@click.option("--display-name", default=None)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.option("--disable", is_flag=True, help="Publish the account as inactive.")
@click.option("--agency", default=None)
def clerks_add(data_dir: Path, db: str | None, username: str, role: str, display_name: str | None,
               password_stdin: bool, disable: bool, agency: str | None) -> None:
    """Publish a clerk account (argon2id password hash) on the feed."""
    from argon2 import PasswordHasher

    from core.passwords import ARGON2_MEMORY_KIB, ARGON2_PARALLELISM, ARGON2_TIME_COST
    from sync.protocol import FeedType, parse_clerk

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("password", hide_input=True, confirmation_prompt=True)
    if len(password) < 8:
        raise click.BadParameter("the password must have at least 8 characters")
    account = parse_clerk({"username": username, "display_name": display_name or username, "role": role,
                           "password_hash": PasswordHasher(time_cost=ARGON2_TIME_COST, memory_cost=ARGON2_MEMORY_KIB,
                                                           parallelism=ARGON2_PARALLELISM).hash(password), "active": not disable})
    (seq,) = _push(data_dir, db, [(FeedType.CLERK_ACCOUNT, account)], _agency(agency))
    click.echo(f"clerk {username} ({role}) on the feed at seq {seq}")


def _fleet_commands() -> None:
    from ._cli_fleet import admin, metrics_token

    hub.add_command(admin)
    hub.add_command(metrics_token)


_fleet_commands()
def _register_groups() -> None:
    from ._rollout_cli import rollout

    hub.add_command(rollout)


_register_groups()
# Sealed transfers on a stick (docs/sync-protocol.md §14).
from ._transfer_cli import import_transfer_cmd, transfer_receipts_cmd  # noqa: E402

hub.add_command(import_transfer_cmd)
hub.add_command(transfer_receipts_cmd)
