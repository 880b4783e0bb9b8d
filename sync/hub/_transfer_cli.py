"""`motcua hub import-transfer` and `motcua hub transfer-receipts`: the hub reads a station's stick
itself, and writes the city's receipts to a stick for the station (docs/sync-protocol.md §14)."""

from __future__ import annotations

import json
import secrets
import time
from pathlib import Path

import click

from sync.errors import ApiError, ProtocolError


def _now() -> int:
    return int(time.time() * 1000)


def _options(fn):
    from .cli import data_dir_option

    return data_dir_option(fn)


@click.command("import-transfer")
@_options
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def import_transfer_cmd(data_dir: Path, db: str | None, directory: Path, as_json: bool) -> None:
    """Store and commit the dossiers of every transfer on a stick (mounted at DIRECTORY).

    Blobs go where the hub keeps them (``blobs`` in hub.json; S3 credentials from AWS_ACCESS_KEY_ID /
    AWS_SECRET_ACCESS_KEY or the credentials file, as for `hub serve`)."""
    from sync.protocol import scan_stick

    from ._blobs import open_blob_store
    from ._keys import read_config
    from ._relay import import_transfer
    from .cli import _open

    items = list(scan_stick(directory))
    transfers = [i for i in items if i.kind == "transfer"]
    if not transfers:
        raise click.ClickException(f"no transfer on {directory} (a half-written one is ignored)")
    storage, keys = _open(data_dir, db)
    results, failed = [], False
    blobs = None
    try:
        blobs = open_blob_store(data_dir, read_config(data_dir).get("blobs"))
        blobs.check()  # wrong credentials or a missing bucket stop the import, with their reason
        for item in transfers:
            try:
                report = import_transfer(storage, keys, data_dir, item.path, now=_now, blobs=blobs)
            except (ApiError, ProtocolError) as exc:
                failed = True
                results.append({"transfer": item.path.name, "refused": str(exc),
                                "code": getattr(exc, "code", "invalid_transfer")})
                continue
            results.append({"transfer": item.path.name, "station_id": report.station_id,
                            "committed": report.committed, "already": report.already})
    finally:
        if blobs is not None:
            blobs.close()
        storage.close()
    if as_json:
        click.echo(json.dumps({"transfers": results}, ensure_ascii=False, indent=1))
    else:
        for r in results:
            if "refused" in r:
                click.echo(f"{r['transfer']}: refused: {r['refused']}", err=True)
            else:
                click.echo(f"{r['transfer']}: {len(r['committed'])} committed, {len(r['already'])} already held")
    if failed:
        raise SystemExit(1)


@click.command("transfer-receipts")
@_options
@click.option("--station", "station_id", required=True, help="The station whose receipts go on the stick.")
@click.option("--to", "target", required=True, type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="The stick's mount point.")
def transfer_receipts_cmd(data_dir: Path, db: str | None, station_id: str, target: Path) -> None:
    """Write the signed receipts of every committed dossier of STATION to a stick."""
    from sync.protocol import StickWriter, build_receipts_doc, ms_to_rfc3339

    from .cli import _open

    storage, keys = _open(data_dir, db)
    try:
        receipts = [json.loads(d.receipt) for d in storage.list_dossiers(station_id=station_id) if d.receipt]
    finally:
        storage.close()
    writer = StickWriter(target, f"receipts-{station_id}-{secrets.token_hex(8)}")
    try:
        writer.write_file("receipts.json", build_receipts_doc(receipt_key_id=keys.receipt_key_id,
                                                             created_at=ms_to_rfc3339(_now()), receipts=receipts))
        path = writer.commit()
    except BaseException:
        writer.abort()
        raise
    click.echo(f"{len(receipts)} receipt(s) written to {path}")
