"""Enrollment (§5): give the hub this box's Ed25519 public key, learn the hub's keys and partition.

``enroll(store, hub_url, token)`` is what ``motcua sync enroll`` and first boot call. The station
key is the store's (kept wrapped by the station key-encryption key); the answer is validated as a
whole and stored in ONE transaction, so a box is either enrolled with every anchor or not at all.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.codes import is_agency_code, partition_fits
from core.errors import KeyFormatError
from edge.outbox import OutboxState
from edge.store import CityPublicKey
from sync.errors import ProtocolError
from sync.protocol import (
    STATION_KINDS,
    b64d,
    b64e,
    key_id,
    load_public_key,
    normalize_token,
    public_key_raw,
    rfc3339_to_ms,
)
from sync.protocol._constants import STATION_ID_RE

from ._clock import HubClock
from ._errors import AnchorMismatchError, CityKeyChangeError
from ._state import ClientState, asave_clock, load_clock
from ._transport import HubTransport, check_hub_url

logger = logging.getLogger(__name__)


# Outbox states of a dossier whose manifest the hub cannot hold yet (or refused): sealed again to
# a new city key, their frozen manifests rebuilt.
RESEAL_STATES = tuple(str(s) for s in (OutboxState.SEALED, OutboxState.RETRY_WAIT, OutboxState.REJECTED,
                                        OutboxState.QUARANTINED))


@dataclass(frozen=True, slots=True, kw_only=True)
class EnrollResult:
    station_id: str
    agency_code: str
    partition_index: int
    partition_size: int
    receipt_key_id: str
    city_key_changed: bool
    pending_sealed_to_old_key: int
    feed_head: int


def _validate(answer: Any, station_id: str) -> dict[str, Any]:
    if not isinstance(answer, dict):
        raise ProtocolError("$", "enrollment answer must be a JSON object")
    station, part, hub = answer.get("station"), answer.get("code_partition"), answer.get("hub")
    if not isinstance(station, dict) or not isinstance(part, dict) or not isinstance(hub, dict):
        raise ProtocolError("$", "enrollment answer needs station, code_partition and hub objects")
    if station.get("station_id") != station_id:
        raise ProtocolError("station.station_id", f"hub enrolled {station.get('station_id')!r}, not {station_id!r}")
    agency = station.get("agency_code")
    if not is_agency_code(agency):
        raise ProtocolError("station.agency_code", "is not an agency code")
    if station.get("kind") not in (*STATION_KINDS, None):
        raise ProtocolError("station.kind", f"must be one of {', '.join(STATION_KINDS)}")
    index, size = part.get("partition_index"), part.get("partition_size")
    if not partition_fits(index, size):
        raise ProtocolError("code_partition", "partition_index/partition_size do not fit in 1..9999")
    receipt_key = load_public_key(hub.get("receipt_public_key"), "hub.receipt_public_key")
    raw = public_key_raw(receipt_key)
    if hub.get("receipt_key_id") != key_id(raw):
        raise ProtocolError("hub.receipt_key_id", "does not match the receipt public key")
    try:
        city = CityPublicKey.from_json(hub.get("city_public_key"))
    except (KeyFormatError, ValueError, KeyError, TypeError) as exc:
        raise ProtocolError("hub.city_public_key", f"is not a city public key: {exc}") from None
    return {"station": station, "agency_code": agency, "partition_index": index, "partition_size": size,
            "receipt_key": raw, "receipt_key_id": hub["receipt_key_id"], "city": city,
            "feed_head": int(hub.get("feed_head") or 0)}


def _check_anchors(store, city: CityPublicKey, receipt_key: bytes) -> None:
    """A box provisioned with trust anchors (the signed bundle) keeps them: an enrollment answer
    with another city key or receipt key is refused, and nothing is changed. A new city key
    reaches such a box only as a command signed by the hub's receipt key."""
    anchors = store.anchors()
    pinned_city = anchors.get("city_key")
    if pinned_city is not None and pinned_city.to_json() != city.to_json():
        raise AnchorMismatchError(
            f"the hub answered city key {city.fingerprint()}, but this box was provisioned with city key "
            f"{pinned_city.fingerprint()}: enrollment refused, nothing changed (wrong hub, or a bundle "
            "from another city?)",
            message_vi="Khoá của thành phố do máy chủ gửi khác với khoá trong gói cài đặt; "
                       "trạm không đăng ký. Liên hệ bộ phận CNTT.")
    pinned_receipt = anchors.get("hub_receipt_key")
    if pinned_receipt is not None and b64d(pinned_receipt, "anchor.hub_receipt_key") != receipt_key:
        raise AnchorMismatchError(
            f"the hub answered receipt key {key_id(receipt_key)}, but this box was provisioned with receipt key "
            f"{key_id(b64d(pinned_receipt, 'anchor.hub_receipt_key'))}: enrollment refused, nothing changed",
            message_vi="Khoá ký biên nhận của máy chủ khác với khoá trong gói cài đặt; "
                       "trạm không đăng ký. Liên hệ bộ phận CNTT.")


def _refuse_if_partly_sent(store) -> None:
    """The hub already holds the manifest (with the old seal) of a dossier in these states."""
    rows = store.query("SELECT COUNT(*) AS n FROM outbox WHERE state IN (?, ?)",
                       (str(OutboxState.CREATED), str(OutboxState.UPLOADING)))
    if rows[0]["n"]:
        raise CityKeyChangeError(
            f"{rows[0]['n']} dossier(s) are partly uploaded under the current city key; let them finish "
            "('motcua sync now') before enrolling with a hub that has another city key; nothing changed",
            message_vi="Còn hồ sơ đang gửi dở theo khoá cũ của thành phố; hãy đồng bộ xong rồi đăng ký lại.")


def pin_ca(store, ca_file: str) -> str:
    """Keep a copy of the hub's CA in the state directory: the hub stays pinned without the config."""
    dest = Path(store.root) / "keys" / "hub-ca.pem"
    dest.parent.mkdir(parents=True, exist_ok=True)
    if Path(ca_file).resolve() != dest.resolve():
        shutil.copyfile(ca_file, dest)
    return str(dest)


async def enroll_async(store, hub_url: str, token: str, *, ca_file: str | None = None,
                       station_id: str | None = None, timeout_seconds: float = 60.0) -> EnrollResult:
    """Enroll this box with the hub; idempotent with the same token and key (the answer may be lost)."""
    base = check_hub_url(hub_url, ca_file=ca_file)
    sid = station_id or store.station_id
    if not sid or not STATION_ID_RE.match(sid):
        raise ProtocolError("station_id", f"{sid!r} is not a station id (A-Z a-z 0-9 . _ -, at most 64)")
    norm = normalize_token(token)
    key = await asyncio.to_thread(store.station_signing_key)  # created (a write) on first use
    pinned_ca = pin_ca(store, ca_file) if ca_file else None
    clock = HubClock(load_clock(store), wall=store.clock.wall)
    async with HubTransport(base, ca_file=pinned_ca, clock=clock, timeout_seconds=timeout_seconds) as transport:
        await transport.call("GET", "/v1/time", signed=False)
        resp = await transport.call("POST", "/v1/enroll", signed=False,
                                    json_body={"station_id": sid, "token": norm, "public_key": b64e(public_key_raw(key))})
    data = _validate(resp.json(), sid)
    if "server_time" in (resp.json() or {}):
        rfc3339_to_ms(resp.json()["server_time"], "server_time")
    city: CityPublicKey = data["city"]
    _check_anchors(store, city, data["receipt_key"])
    changed = city.to_json() != store.city_key.to_json()
    pending_old = 0
    if changed:
        _refuse_if_partly_sent(store)
        # Dossiers not yet at the city were sealed to the previous key: seal them again to the
        # city's key and drop their frozen manifests (they carry the old seal; the next push
        # builds them again) in one transaction, then switch the key, so a crash between leaves
        # no dossier the city cannot open (enrollment is idempotent: run it again).
        def reseal(conn) -> int:
            count = store.reseal_pending_to_city(city, actor="sync", states=RESEAL_STATES)
            marks = ",".join("?" * len(RESEAL_STATES))
            conn.execute(f"DELETE FROM sync_manifests WHERE dossier_id IN "
                         f"(SELECT dossier_id FROM outbox WHERE state IN ({marks}))", RESEAL_STATES)
            return count

        pending_old = await store.awrite(reseal)
        if pending_old:
            logger.warning("%s dossier(s) not yet at the city were sealed again to the city's new key", pending_old)
        store.set_city_key(city)

    def record(conn) -> None:
        ClientState.set_many(conn, {
            "sync.hub_url": base,
            "sync.ca_file": pinned_ca or "",
            "sync.station_id": sid,
            "station_id": sid,
            "agency_code": data["agency_code"],
            "code_partition_index": str(data["partition_index"]),
            "code_partition_size": str(data["partition_size"]),
            "code_partition_retired": "",
            "sync.receipt_key": b64e(data["receipt_key"]),
            "sync.receipt_key_id": data["receipt_key_id"],
            "sync.enrolled_at": resp.json().get("server_time") or "",
            "sync.station_name": str(data["station"].get("name") or ""),
            "sync.station_kind": str(data["station"].get("kind") or ""),
            "sync.locked": "",
            "sync.lock_reason": "",
        })
        store.audit("sync.enroll", actor="sync", details={
            "station_id": sid, "hub": base, "receipt_key_id": data["receipt_key_id"],
            "partition_index": data["partition_index"], "city_key_changed": changed})

    await store.awrite(record)
    await asave_clock(store, clock)
    return EnrollResult(station_id=sid, agency_code=data["agency_code"], partition_index=data["partition_index"],
                        partition_size=data["partition_size"], receipt_key_id=data["receipt_key_id"],
                        city_key_changed=changed, pending_sealed_to_old_key=pending_old, feed_head=data["feed_head"])


def enroll(store, hub_url: str, token: str, *, ca_file: str | None = None, station_id: str | None = None,
           timeout_seconds: float = 60.0) -> EnrollResult:
    """Synchronous :func:`enroll_async` (for first boot and the CLI; not inside a running loop)."""
    return asyncio.run(enroll_async(store, hub_url, token, ca_file=ca_file, station_id=station_id,
                                    timeout_seconds=timeout_seconds))


def receipt_key_of(store) -> bytes | None:
    text = store.meta_get("sync.receipt_key")
    return b64d(text, "sync.receipt_key") if text else None
