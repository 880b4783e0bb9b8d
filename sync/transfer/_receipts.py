"""Receipts back: the hub's signed receipts a relay obtained, written to a stick for their origin
stations (docs/sync-protocol.md §14.4). The container needs no signature: each receipt is the
hub's, and the origin box verifies it against its own frozen manifest before it trusts it."""

from __future__ import annotations

import datetime as dt
import json
import secrets
from pathlib import Path

from sync.client import receipt_key_of
from sync.protocol import StickWriter, build_receipts_doc, key_id

from ._errors import TransferError


def write_receipts_stick(store, target: Path, *, station_id: str | None = None) -> tuple[Path, int]:
    """Write the receipts this box holds for other stations (or one); returns (path, count)."""
    receipt_key = receipt_key_of(store)
    if receipt_key is None:
        raise TransferError("this box is not enrolled", message_vi="Trạm chưa đăng ký với thành phố.")
    if not Path(target).is_dir():
        raise TransferError(f"{target} is not a directory (is the stick mounted?)",
                            message_vi="Không tìm thấy thẻ nhớ (chưa cắm hoặc chưa gắn).")
    sql, args = "SELECT receipt FROM transfer_relayed", ()
    if station_id:
        sql, args = sql + " WHERE station_id = ?", (station_id,)
    receipts = [json.loads(r["receipt"]) for r in store.query(sql + " ORDER BY received_at", args)]
    if not receipts:
        raise TransferError("this box holds no receipt for another station",
                            message_vi="Trạm không giữ biên nhận nào của trạm khác để ghi ra thẻ.")
    name = f"receipts-{station_id or 'all'}-{secrets.token_hex(8)}"
    writer = StickWriter(target, name)
    try:
        now = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        writer.write_file("receipts.json", build_receipts_doc(receipt_key_id=key_id(receipt_key), created_at=now,
                                                             receipts=receipts))
        path = writer.commit()
    except BaseException:
        writer.abort()
        raise
    store.audit("transfer.receipts", actor="transfer", details={"receipts": len(receipts)})
    return path, len(receipts)
