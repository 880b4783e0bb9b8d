"""Hub logic shared by the HTTP handlers and the admin CLI: receipts, commands, payloads."""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Callable
from typing import Any

from sync.protocol import (
    COMMAND_TYPE,
    DOSSIER_STATUSES,
    RECEIPT_TYPE,
    canonical_json,
    ms_to_rfc3339,
    sign_object,
)

from ._blobs import BlobStore
from ._keys import HubKeys
from .storage import DossierRecord, StationRecord

Clock = Callable[[], int]


def system_clock() -> int:
    return int(time.time() * 1000)


def receipt_builder(keys: HubKeys) -> Callable[[DossierRecord, int, int], bytes]:
    def build(d: DossierRecord, hub_seq: int, now: int) -> bytes:
        receipt = {
            "type": RECEIPT_TYPE,
            "dossier_id": d.dossier_id,
            "code": d.code,
            "agency_code": d.agency_code,
            "station_id": d.station_id,
            "manifest_sha256": d.manifest_sha256,
            "blobs": [b.sha256 for b in d.blobs],
            "hub_seq": hub_seq,
            "committed_at": ms_to_rfc3339(now),
            "key_id": keys.receipt_key_id,
        }
        return canonical_json({"receipt": receipt, "signature": sign_object(keys.receipt_key, receipt)})

    return build


def signed_command(keys: HubKeys, *, station_id: str, kind: str, now: int, args: dict[str, Any] | None = None,
                   command_id: str | None = None) -> dict[str, Any]:
    command = {
        "type": COMMAND_TYPE,
        "command_id": command_id or uuid.uuid4().hex,
        "station_id": station_id,
        "kind": kind,
        "args": args or {},
        "issued_at": ms_to_rfc3339(now),
        "key_id": keys.receipt_key_id,
    }
    return {"command": command, "signature": sign_object(keys.receipt_key, command)}


def wipe_builder(keys: HubKeys, reason: str) -> Callable[[StationRecord, str, int], dict[str, Any]]:
    def build(st: StationRecord, command_id: str, now: int) -> dict[str, Any]:
        return signed_command(keys, station_id=st.station_id, kind="wipe", now=now,
                              args={"reason": reason}, command_id=command_id)

    return build


def station_public(st: StationRecord) -> dict[str, Any]:
    return {"station_id": st.station_id, "agency_code": st.agency_code, "name": st.name, "kind": st.kind,
            "address": st.address, "enrolled_at": ms_to_rfc3339(st.enrolled_at) if st.enrolled_at else None}


def code_partition(st: StationRecord) -> dict[str, Any]:
    return {"agency_code": st.agency_code, "partition_index": st.partition_index,
            "partition_size": st.partition_size}


def station_payload(st: StationRecord, keys: HubKeys, *, feed_head: int, now: int) -> dict[str, Any]:
    return {"station": station_public(st), "code_partition": code_partition(st),
            "hub": {**keys.anchors(), "feed_head": feed_head}, "server_time": ms_to_rfc3339(now)}


def dossier_state(d: DossierRecord, files: BlobStore) -> dict[str, Any]:
    """(blocking: the blob store may be remote) The dossier as §6.1 answers it."""
    import json

    return {
        "dossier_id": d.dossier_id,
        "code": d.code,
        "manifest_sha256": d.manifest_sha256,
        "state": d.state,
        # A blob verified on disk is complete even before the commit records it.
        "blobs": [{"sha256": b.sha256, "size": b.size, "offset": b.size if b.complete else files.offset(b.sha256, b.size),
                   "complete": b.complete or files.is_complete(b.sha256)} for b in d.blobs],
        "receipt": json.loads(d.receipt) if d.receipt else None,
    }


def station_admin_view(st: StationRecord) -> dict[str, Any]:
    """What `hub stations --json` prints (no key material beyond the public key id)."""
    def t(ms: int | None) -> str | None:
        return ms_to_rfc3339(ms) if ms else None

    return {**station_public(st), "partition_index": st.partition_index, "partition_size": st.partition_size,
            "key_id": st.key_id, "enrolled": st.public_key is not None, "revoked_at": t(st.revoked_at),
            "revoke_reason": st.revoke_reason, "token_pending": st.token_pending,
            "token_expires_at": t(st.token_expires_at), "last_seen_at": t(st.last_seen_at),
            "last_heartbeat": st.last_heartbeat, "created_at": t(st.created_at)}


def dossier_admin_view(d: DossierRecord) -> dict[str, Any]:
    return {"dossier_id": d.dossier_id, "code": d.code, "station_id": d.station_id, "agency_code": d.agency_code,
            "procedure_code": d.procedure_code, "state": d.state, "manifest_sha256": d.manifest_sha256,
            "outcome": d.manifest.get("outcome", "received"),
            "supplement_of": (d.manifest.get("meta") or {}).get("supplement_of"),
            "received_at": d.manifest.get("received_at"), "due_at": d.manifest.get("due_at"),
            "created_at": ms_to_rfc3339(d.created_at),
            "committed_at": ms_to_rfc3339(d.committed_at) if d.committed_at else None, "hub_seq": d.hub_seq,
            "status": d.status, "status_name": DOSSIER_STATUSES.get(d.status) if d.status else None,
            "blobs": [{"index": b.index, "sha256": b.sha256, "size": b.size, "component": b.component,
                       "media_type": b.media_type, "complete": b.complete} for b in d.blobs]}


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
