"""Retention: crypto-shred a dossier only after a verified city receipt and the retention window.

Before shredding, the stored receipt is verified again against the hub's receipt key learned at
enrollment, and it must cover the very manifest and blobs this box sent. Disk pressure raises an
alarm; it may shred receipted dossiers early (oldest first), never an unconfirmed one.
"""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import dataclass, field

from edge.errors import StoreError
from edge.outbox import OutboxState, parse_iso, shred
from sync.errors import ProtocolError, SignatureError
from sync.protocol import verify_receipt

from ._manifest import load_manifest

logger = logging.getLogger(__name__)


@dataclass
class RetentionReport:
    shredded: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    disk_free_mb: float | None = None
    disk_alarm: bool = False


def receipt_ok(store, dossier_id: str, receipt_json: str | None, receipt_key: bytes | None) -> bool:
    """True when the stored receipt verifies and covers what this box sent."""
    if not receipt_json or receipt_key is None:
        return False
    stored = load_manifest(store, dossier_id)
    if stored is None:
        return False
    manifest, msha = stored
    try:
        verify_receipt(json.loads(receipt_json), receipt_key, dossier_id=dossier_id, manifest_sha256=msha,
                       blobs=[b["sha256"] for b in manifest["blobs"]])
    except (SignatureError, ProtocolError, ValueError) as exc:
        logger.error("dossier %s: stored receipt does not verify (%s): not shredding", dossier_id, exc)
        return False
    return True


def disk_free_mb(path) -> float | None:
    try:
        return shutil.disk_usage(path).free / (1024 * 1024)
    except OSError:
        return None


def run_retention(store, *, retention_days: float, alarm_free_mb: float, receipt_key: bytes | None,
                  now: float, was_alarm: bool = False) -> RetentionReport:
    report = RetentionReport()
    window = max(0.0, retention_days) * 86400
    rows = store.query(
        """SELECT o.dossier_id, o.receipt, o.committed_at, o.state FROM outbox o
           WHERE o.state IN (?, ?) AND o.receipt_verified = 1
           ORDER BY o.committed_at""", (str(OutboxState.COMMITTED), str(OutboxState.CONFIRMED)))
    for row in rows:
        committed = parse_iso(row["committed_at"])
        if committed is None or now - committed < window:
            continue
        _shred(store, row, receipt_key, report, reason="retention")
    free = disk_free_mb(store.root)
    report.disk_free_mb = None if free is None else round(free, 1)
    report.disk_alarm = free is not None and free < alarm_free_mb
    if report.disk_alarm and not was_alarm:
        logger.error("disk space low: %.0f MB free (alarm below %s MB)", free, alarm_free_mb)
        store.audit("sync.disk_alarm", actor="sync", details={"free_mb": round(free or 0), "threshold_mb": alarm_free_mb})
    if report.disk_alarm:
        # Early shredding under pressure: only dossiers the city has confirmed, oldest first.
        for row in [r for r in rows if r["state"] == OutboxState.CONFIRMED and r["dossier_id"] not in report.shredded]:
            if (disk_free_mb(store.root) or 0) >= alarm_free_mb:
                break
            _shred(store, row, receipt_key, report, reason="disk_pressure")
    return report


def _shred(store, row, receipt_key: bytes | None, report: RetentionReport, *, reason: str) -> None:
    dossier_id = row["dossier_id"]
    if not receipt_ok(store, dossier_id, row["receipt"], receipt_key):
        report.refused.append(dossier_id)
        return
    try:
        shred(store, dossier_id, actor="sync", reason=reason)
    except StoreError as exc:
        logger.error("dossier %s could not be shredded: %s", dossier_id, exc)
        report.refused.append(dossier_id)
        return
    store.write(lambda conn: conn.execute("DELETE FROM sync_manifests WHERE dossier_id = ?", (dossier_id,)))
    report.shredded.append(dossier_id)
