"""Import a stick on a box: forward another station's transfer to the hub (the relay), or apply a
receipts stick for this box's own dossiers (docs/sync-protocol.md §14.2–14.3).

The relay verifies the whole transfer before it sends a byte (the signature with the key it names,
every manifest, every blob hash): a tampered or half-written stick is refused whole. It sends the
dossiers as the origin's, under their vouchers, signing its requests with its own key; it holds no
key that opens them. The receipts the hub answers are kept for the origin (a receipts stick).

A receipt, whatever brought it, is verified against the hub's receipt key learned at enrollment
and must cover the very manifest and blobs this box froze: only then does the dossier count as
held by the city, and only then may retention shred it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edge.outbox import PUSHABLE, RECEIPTED, Outbox
from sync.client import SyncClient, load_manifest, receipt_key_of
from sync.errors import ApiError, ProtocolError, SignatureError, SyncError, TransportError
from sync.protocol import (
    CHUNK_MEDIA_TYPE,
    H_BLOB_STATE,
    H_UPLOAD_OFFSET,
    Transfer,
    TransferRefused,
    key_id,
    read_receipts,
    read_transfer,
    scan_stick,
    verify_receipt,
)

from ._errors import REFUSAL_VI, TransferError

logger = logging.getLogger(__name__)

MAX_OFFSET_RETRIES = 6


@dataclass
class TransferOutcome:
    name: str
    station_id: str = ""
    forwarded: list[str] = field(default_factory=list)  # committed at the hub by this relay now
    already: list[str] = field(default_factory=list)    # the hub held them committed already
    refused: str | None = None                          # why the whole transfer was refused
    refused_vi: str | None = None
    code: str | None = None


@dataclass
class ImportReport:
    transfers: list[TransferOutcome] = field(default_factory=list)
    receipts_applied: list[str] = field(default_factory=list)   # own dossiers now confirmed
    receipts_known: int = 0        # receipts for own dossiers already receipted
    receipts_foreign: int = 0      # receipts for other stations (ignored)
    receipts_refused: list[str] = field(default_factory=list)  # do not verify
    partial: int = 0               # half-written directories ignored
    own_transfers: int = 0         # this box's own transfers (nothing to do here)

    @property
    def ok(self) -> bool:
        return not self.receipts_refused and all(t.refused is None for t in self.transfers)

    def to_dict(self) -> dict[str, Any]:
        import dataclasses

        return {**dataclasses.asdict(self), "ok": self.ok}


def _now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# --- receipts ----------------------------------------------------------------------------------

def apply_receipts(store, path: Path, report: ImportReport, *, now=None) -> None:
    """Record every receipt on a receipts stick that is this box's and verifies."""
    station = store.meta_get("sync.station_id") or ""
    receipt_key = receipt_key_of(store)
    if receipt_key is None:
        raise TransferError("this box is not enrolled", message_vi="Trạm chưa đăng ký với thành phố.")
    city, answers = read_receipts(path)
    if city != key_id(receipt_key):
        raise TransferError("the receipts stick was written for another city's hub",
                            message_vi="Thẻ biên nhận này của thành phố khác: không dùng được.")
    outbox = Outbox(store, now=now) if now else Outbox(store)
    for answer in answers:
        receipt = answer.get("receipt") if isinstance(answer.get("receipt"), dict) else {}
        if receipt.get("station_id") != station:
            report.receipts_foreign += 1
            continue
        dossier_id = str(receipt.get("dossier_id"))
        stored = load_manifest(store, dossier_id)
        row = outbox.row(dossier_id)
        if stored is None or row is None:
            report.receipts_refused.append(dossier_id)
            logger.error("receipt for %s: this box holds no frozen manifest of it", dossier_id)
            continue
        manifest, msha = stored
        try:
            verified = verify_receipt(answer, receipt_key, dossier_id=dossier_id, manifest_sha256=msha,
                                      blobs=[b["sha256"] for b in manifest["blobs"]])
        except (SignatureError, ProtocolError) as exc:
            logger.error("receipt for %s on the stick refused: %s", dossier_id, exc)
            report.receipts_refused.append(dossier_id)
            continue
        if row["state"] in RECEIPTED:
            report.receipts_known += 1
            continue
        if row["state"] not in PUSHABLE:
            report.receipts_refused.append(dossier_id)
            continue
        raw = json.dumps(answer, ensure_ascii=False)

        def commit(conn, dossier_id=dossier_id, raw=raw, verified=verified) -> None:
            outbox.commit(dossier_id, receipt=raw, committed_at=verified["committed_at"], conn=conn,
                          audit={"hub_seq": verified["hub_seq"], "receipt_key": verified["key_id"], "via": "stick"})
            outbox.confirm(dossier_id, conn=conn)

        store.write(commit)
        report.receipts_applied.append(dossier_id)


# --- relay -------------------------------------------------------------------------------------

class Relayer:
    """Forwards one verified transfer through this box's own signed transport."""

    def __init__(self, store, transport, *, receipt_key: bytes, chunk_size: int) -> None:
        self.store = store
        self.transport = transport
        self.receipt_key = receipt_key
        self.chunk_size = max(16 * 1024, chunk_size)

    async def forward(self, transfer: Transfer, outcome: TransferOutcome) -> None:
        for entry in transfer.entries:
            dossier_id = entry.manifest["dossier_id"]
            path = f"/v1/relay/dossiers/{dossier_id}"
            resp = await self.transport.call("PUT", path, json_body={"voucher": entry.voucher, "manifest": entry.manifest})
            state = resp.json() or {}
            blob_shas = [sha for sha, _ in entry.blobs]
            if state.get("state") == "committed" and state.get("receipt"):
                await self._keep(transfer, dossier_id, state["receipt"], entry.manifest_sha256, blob_shas)
                outcome.already.append(dossier_id)
                continue
            known = {b.get("sha256"): b for b in state.get("blobs", []) if isinstance(b, dict)}
            for sha, size in entry.blobs:
                info = known.get(sha) or {}
                if not info.get("complete"):
                    await self._upload(transfer, dossier_id, sha, size, int(info.get("offset") or 0))
            resp = await self.transport.call("POST", f"{path}/commit", json_body={"manifest_sha256": entry.manifest_sha256})
            await self._keep(transfer, dossier_id, resp.json(), entry.manifest_sha256, blob_shas)
            outcome.forwarded.append(dossier_id)

    async def _upload(self, transfer: Transfer, dossier_id: str, sha: str, size: int, offset: int) -> None:
        path = f"/v1/relay/dossiers/{dossier_id}/blobs/{sha}"
        file = transfer.blob_path(sha)
        failures = 0
        while offset < size:
            n = min(self.chunk_size, size - offset)
            data = await asyncio.to_thread(_read, file, offset, n)
            try:
                resp = await self.transport.call(
                    "PATCH", path, body=data, content_sha256=hashlib.sha256(data).hexdigest(),
                    headers={"Content-Type": CHUNK_MEDIA_TYPE, H_UPLOAD_OFFSET: str(offset)})
            except ApiError as exc:
                failures += 1
                if exc.code not in ("offset_mismatch", "upload_locked", "checksum_mismatch") or failures > MAX_OFFSET_RETRIES:
                    raise
                value = exc.extra.get("offset")
                offset = int(value) if isinstance(value, int) else offset
                if exc.code == "upload_locked":
                    await asyncio.sleep(0.2 * failures)
                continue
            offset = int(resp.header(H_UPLOAD_OFFSET) or offset + n)
            if (resp.header(H_BLOB_STATE) or "") == "complete":
                return

    async def _keep(self, transfer: Transfer, dossier_id: str, answer: Any, msha: str, blobs: list[str]) -> None:
        """A receipt for the origin: verified like our own, then kept to be carried back."""
        try:
            verify_receipt(answer, self.receipt_key, dossier_id=dossier_id, manifest_sha256=msha, blobs=blobs)
        except (SignatureError, ProtocolError) as exc:
            raise TransferError(f"the hub's receipt for {dossier_id} does not verify: {exc}",
                                message_vi="Biên nhận của thành phố không hợp lệ (sai chữ ký); báo bộ phận CNTT.") from exc
        raw, now = json.dumps(answer, ensure_ascii=False), _now_iso()
        await self.store.awrite(lambda conn: conn.execute(
            "INSERT INTO transfer_relayed(dossier_id, station_id, receipt, received_at) VALUES (?,?,?,?) "
            "ON CONFLICT(dossier_id) DO NOTHING", (dossier_id, transfer.station_id, raw, now)))


def _read(path: Path, offset: int, n: int) -> bytes:
    with open(path, "rb") as fh:
        fh.seek(offset)
        data = fh.read(n)
    if len(data) != n:
        raise TransferRefused(f"blobs/{path.name[:12]}…", "shorter than its manifest size (the stick changed)")
    return data


# --- the whole stick ---------------------------------------------------------------------------

async def import_stick_async(store, settings, root: Path) -> ImportReport:
    """Apply every receipts directory and forward every other station's transfer on a stick."""
    report = ImportReport()
    station = store.meta_get("sync.station_id") or ""
    items = list(scan_stick(root))
    if not items:
        raise TransferError(f"no transfer and no receipts on {root}",
                            message_vi="Thẻ nhớ không chứa hồ sơ chuyển hay biên nhận nào.")
    client: SyncClient | None = None
    try:
        for item in items:
            if item.kind == "partial":
                report.partial += 1
                logger.warning("%s is half-written: ignored", item.path.name)
            elif item.kind == "receipts":
                await asyncio.to_thread(apply_receipts, store, item.path, report)
            else:
                outcome = TransferOutcome(name=item.path.name)
                report.transfers.append(outcome)
                try:
                    transfer = await asyncio.to_thread(read_transfer, item.path)
                except TransferRefused as exc:
                    outcome.refused, outcome.code = f"the stick does not verify: {exc}", "invalid_transfer"
                    outcome.refused_vi = "Thẻ nhớ bị sửa đổi hoặc ghi dở: không nhận hồ sơ nào từ thẻ này."
                    continue
                outcome.station_id = transfer.station_id
                if transfer.station_id == station:
                    report.transfers.pop()
                    report.own_transfers += 1
                    continue
                if client is None:
                    client = SyncClient(settings=settings, store=store)
                    client.require_ready()
                receipt_key = receipt_key_of(store)
                assert receipt_key is not None
                if transfer.receipt_key_id != key_id(receipt_key):
                    outcome.refused, outcome.code = "the transfer is for another city's hub", "wrong_city"
                    outcome.refused_vi = REFUSAL_VI["wrong_city"]
                    continue
                relayer = Relayer(store, client.transport(), receipt_key=receipt_key,
                                  chunk_size=settings.sync.chunk_size_kb * 1024)
                try:
                    await relayer.forward(transfer, outcome)
                except TransportError as exc:
                    raise TransferError(f"the hub cannot be reached: {exc}",
                                        message_vi="Chưa gửi được lên thành phố (mất kết nối); thẻ nhớ vẫn dùng "
                                                   "được, hãy thử lại khi có mạng.") from exc
                except ApiError as exc:
                    if exc.code not in REFUSAL_VI and exc.retryable:
                        raise TransferError(f"the hub could not be reached or refused for now: {exc}",
                                            message_vi="Chưa gửi được lên thành phố (mất kết nối); thẻ nhớ vẫn "
                                                       "dùng được, hãy thử lại.") from exc
                    outcome.refused, outcome.code = str(exc), exc.code
                    outcome.refused_vi = REFUSAL_VI.get(exc.code, f"Thành phố từ chối thẻ nhớ (mã lỗi {exc.code}).")
                else:
                    store.audit("transfer.relay", actor="transfer", details={
                        "origin": transfer.station_id, "transfer_id": transfer.transfer_id,
                        "forwarded": len(outcome.forwarded), "already": len(outcome.already)})
    finally:
        if client is not None:
            await client.stop()
    return report


def import_stick(store, settings, root: Path) -> ImportReport:
    """:func:`import_stick_async` from synchronous code (the CLI)."""
    try:
        return asyncio.run(import_stick_async(store, settings, root))
    except SyncError:
        raise
