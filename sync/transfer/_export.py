"""Export: every dossier the city has not confirmed, written to a stick as the sync protocol would
upload it (the frozen manifest, the sealed page blobs), each vouched for by the station key, under
a transfer document signed by the station key (docs/sync-protocol.md §14.1).

Nothing on the box changes: the dossiers stay in the outbox until a verified receipt comes back,
by the network or by a receipts stick.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from edge.outbox import PUSHABLE
from sync.client import LocalIntegrityError, build_manifest, receipt_key_of
from sync.errors import SignatureError
from sync.protocol import (
    StickWriter,
    blob_rel,
    build_transfer_doc,
    key_id,
    make_voucher,
    manifest_bytes,
    transfer_name,
)

from ._errors import TransferError

logger = logging.getLogger(__name__)


@dataclass
class ExportReport:
    transfer_id: str = ""
    path: Path | None = None
    dossiers: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # a page on the box does not match its name
    bytes: int = 0


def _now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def unconfirmed(store) -> list[str]:
    """Dossiers the city holds no receipt for (and may still receive), oldest first."""
    states = tuple(str(s) for s in PUSHABLE)
    rows = store.query(f"""SELECT o.dossier_id FROM outbox o JOIN dossiers d ON d.id = o.dossier_id
                           WHERE o.state IN ({",".join("?" * len(states))}) ORDER BY d.counter""", states)
    return [r["dossier_id"] for r in rows]


def export_transfer(store, target: Path) -> ExportReport:
    """Write one transfer to the stick mounted at ``target`` (atomically); raises TransferError."""
    station = store.meta_get("sync.station_id") or ""
    receipt_key = receipt_key_of(store)
    if not station or receipt_key is None:
        raise TransferError("this box is not enrolled: a transfer is addressed to the city it enrolled with",
                            message_vi="Trạm chưa đăng ký với thành phố: chưa thể ghi thẻ chuyển hồ sơ.")
    target = Path(target)
    if not target.is_dir():
        raise TransferError(f"{target} is not a directory (is the stick mounted?)",
                            message_vi="Không tìm thấy thẻ nhớ (chưa cắm hoặc chưa gắn).")
    ids = unconfirmed(store)
    if not ids:
        raise TransferError("no dossier is waiting for the city", message_vi="Không có hồ sơ nào chờ gửi lên thành phố.")
    key = store.station_signing_key()
    city = key_id(receipt_key)
    report = ExportReport(transfer_id=secrets.token_hex(16))
    try:
        writer = StickWriter(target, transfer_name(station, report.transfer_id))
    except OSError as exc:
        raise TransferError(f"cannot write to {target}: {exc}",
                            message_vi="Không ghi được vào thẻ nhớ (thẻ bị khoá ghi, đầy hoặc hỏng).") from exc
    entries, written = [], set()
    try:
        for dossier_id in ids:
            try:
                manifest, msha = build_manifest(store, dossier_id, station_id=station)
                for b in manifest["blobs"]:
                    if b["sha256"] not in written:
                        writer.copy_file(blob_rel(b["sha256"]), store.blobs.path(b["sha256"]), sha=b["sha256"],
                                         size=int(b["size"]))
                        written.add(b["sha256"])
            except (LocalIntegrityError, SignatureError, FileNotFoundError) as exc:
                logger.error("dossier %s left off the transfer: %s", dossier_id, exc)
                report.skipped.append(dossier_id)
                continue
            file = f"{len(entries):06d}.json"
            writer.write_file(f"dossiers/{file}", manifest_bytes(manifest))
            entries.append({"file": file, "manifest_sha256": msha,
                            "voucher": make_voucher(key, station=station, dossier=dossier_id, manifest_sha256=msha,
                                                    receipt_key_id=city, transfer_id=report.transfer_id),
                            "blobs": [[b["sha256"], int(b["size"])] for b in manifest["blobs"]]})
            report.dossiers.append(dossier_id)
        if not entries:
            raise TransferError("no dossier could be written (their pages do not verify)",
                                message_vi="Không ghi được hồ sơ nào: dữ liệu trên trạm bị hỏng; báo bộ phận CNTT.")
        doc = build_transfer_doc(key, transfer_id=report.transfer_id, station=station,
                                 agency_code=store.agency_code, receipt_key_id=city,
                                 created_at=_now_iso(), entries=entries)
        writer.write_file("transfer.json", doc)
        report.path = writer.commit()
    except OSError as exc:
        writer.abort()
        raise TransferError(f"writing the transfer failed: {exc}",
                            message_vi="Ghi thẻ nhớ bị lỗi (thẻ đầy, bị rút ra hoặc hỏng); hồ sơ vẫn an toàn trên "
                                       "trạm, hãy thử lại.") from exc
    except BaseException:
        writer.abort()
        raise
    report.bytes = writer.bytes_written
    now = _now_iso()

    def record(conn) -> None:
        conn.execute("INSERT INTO transfer_exports(transfer_id, created_at, dossiers, bytes, path) VALUES (?,?,?,?,?)",
                     (report.transfer_id, now, len(report.dossiers), report.bytes, str(report.path)))

    store.write(record)
    store.audit("transfer.export", actor="transfer", details={"transfer_id": report.transfer_id,
                                                               "dossiers": len(report.dossiers)})
    logger.info("transfer %s: %s dossier(s), %s bytes written to %s", report.transfer_id, len(report.dossiers),
                report.bytes, report.path)
    return report
