"""The manifest of a dossier (docs/sync-protocol.md §6.1), built once and then frozen.

The store builds it in its one (wire) shape (``Store.export_manifest``, ``core.manifest``). A
dossier's metadata may still change after it was finalized (a fee paid, a rating), and the hub
answers ``manifest_conflict`` to a different manifest under the same id; so the first build is
stored in ``sync_manifests`` and every later attempt sends exactly that object.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from typing import Any

from edge.errors import IntegrityError, NotFoundError, StoreError
from sync.errors import ProtocolError
from sync.protocol import manifest_sha256, parse_manifest

from ._errors import LocalIntegrityError

logger = logging.getLogger(__name__)


def load_manifest(store, dossier_id: str) -> tuple[dict[str, Any], str] | None:
    rows = store.query("SELECT manifest, manifest_sha256 FROM sync_manifests WHERE dossier_id = ?", (dossier_id,))
    if not rows:
        return None
    return json.loads(rows[0]["manifest"]), rows[0]["manifest_sha256"]


def verify_local_blobs(store, blobs: list[dict[str, Any]], *, hashes: bool = True) -> None:
    """Each page file must exist with its size (and, with ``hashes``, its hash), else the dossier
    is quarantined."""
    for blob in blobs:
        digest = hashlib.sha256()
        try:
            path = store.blobs.path(blob["sha256"])
            if hashes:
                size = 0
                with open(path, "rb") as fh:
                    while chunk := fh.read(1 << 20):
                        digest.update(chunk)
                        size += len(chunk)
            else:
                size = path.stat().st_size
        except (OSError, IntegrityError) as exc:
            raise LocalIntegrityError(f"page blob {blob['sha256'][:12]}… cannot be read: {exc}",
                                      message_vi="Một trang tài liệu của hồ sơ bị mất hoặc hỏng trên trạm.") from exc
        if size != blob["size"] or hashes and digest.hexdigest() != blob["sha256"]:
            raise LocalIntegrityError(f"page blob {blob['sha256'][:12]}… does not match its name (altered or truncated)",
                                      message_vi="Một trang tài liệu của hồ sơ bị hỏng trên trạm.")


def build_manifest(store, dossier_id: str, *, station_id: str) -> tuple[dict[str, Any], str]:
    """The frozen manifest of a finalized dossier and its SHA-256 (built and stored on first use)."""
    stored = load_manifest(store, dossier_id)
    if stored is not None:
        return stored
    rows = store.query("SELECT * FROM dossiers WHERE id = ?", (dossier_id,))
    if not rows:
        raise NotFoundError(f"dossier {dossier_id} does not exist")
    row = rows[0]
    if row["status"] not in ("finalized", "handed_over") or row["city_seal"] is None or row["local_wrap"] is None:
        raise LocalIntegrityError(f"dossier {dossier_id} is {row['status']} without its sealed key: it cannot be sent",
                                  message_vi="Hồ sơ không còn đủ dữ liệu để gửi lên thành phố.")
    try:
        manifest = store.export_manifest(dossier_id)
    except (IntegrityError, StoreError, ValueError) as exc:
        raise LocalIntegrityError(f"dossier {dossier_id} cannot be exported: {exc}",
                                  message_vi="Dữ liệu của hồ sơ bị hỏng trên trạm.") from exc
    manifest["station_id"] = station_id
    # Sizes only: each page file is hashed as it is sent (a whole page's chunk carries the page's
    # id as its checksum, a partial chunk its own hash) and the hub verifies every blob; on a
    # mismatch the file is hashed here and the dossier quarantined if it was altered.
    verify_local_blobs(store, manifest["blobs"], hashes=False)
    try:
        parsed = parse_manifest(manifest)
    except ProtocolError as exc:
        raise LocalIntegrityError(f"dossier {dossier_id} does not make a valid manifest: {exc}",
                                  message_vi="Hồ sơ không hợp lệ để gửi lên thành phố; cần cán bộ kiểm tra.") from exc
    sha = parsed.sha256
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")

    def keep(conn: Any) -> tuple[dict[str, Any], str] | None:
        existing = conn.execute("SELECT manifest, manifest_sha256 FROM sync_manifests WHERE dossier_id = ?",
                                (dossier_id,)).fetchone()
        if existing is not None:  # built concurrently by another process: keep the first
            return json.loads(existing[0]), existing[1]
        conn.execute("INSERT INTO sync_manifests(dossier_id, manifest, manifest_sha256, created_at) VALUES (?,?,?,?)",
                     (dossier_id, json.dumps(manifest, ensure_ascii=False), sha, now))
        return None

    first = store.write(keep)
    if first is not None:
        return first
    assert sha == manifest_sha256(manifest)
    return manifest, sha

