"""The relay (docs/sync-protocol.md §14): dossiers of a box that never sees a network, brought on a
stick to an enrolled box (the relay) or to the hub itself, and accepted under the origin station's
signature.

The relay's requests are signed with its own key (§4): that only authenticates the transport.
What makes a relayed dossier the origin's is its *voucher*, signed by the origin station's key:
the hub checks it against the key it holds for that station, and refuses the dossiers of a
revoked or replaced box, of a station it does not know, or meant for another city. Blobs are
verified by their hashes as on any upload, and a dossier is stored once whoever brings it
(the unique constraints of §12 decide, as for the box's own uploads).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from sync.errors import ApiError, ProtocolError, SignatureError
from sync.protocol import (
    Transfer,
    Voucher,
    ms_to_rfc3339,
    parse_commit,
    parse_manifest,
    parse_relay_put,
    parse_voucher,
    read_transfer,
)

from ._app import Hub
from ._blobs import BlobStore, open_blob_store
from ._core import Clock, receipt_builder
from ._keys import HubKeys, read_config
from ._limits import HubLimits
from ._uploads import BlobUploads
from .storage import Admission, BlobRow, HubStorage, StationRecord

RELAY_PREFIX = "/v1/relay/dossiers"


def check_origin(storage: HubStorage, keys: HubKeys, voucher: Voucher) -> StationRecord:
    """The origin station of a voucher, if the hub accepts its dossiers; else ApiError saying why."""
    if voucher.receipt_key_id != keys.receipt_key_id:
        raise ApiError(403, "wrong_city", "this transfer was made for another city's hub (receipt key "
                       f"{voucher.receipt_key_id}, this hub's is {keys.receipt_key_id})",
                       message_vi="Thẻ nhớ này của trạm thuộc thành phố khác: không nhận.")
    st = storage.get_station(voucher.station_id)
    if st is None or st.public_key is None:
        raise ApiError(403, "origin_unknown", f"no enrolled station {voucher.station_id!r} at this hub",
                       message_vi="Trạm làm ra thẻ nhớ này không có trong hệ thống của thành phố.")
    if st.revoked_at is not None:
        raise ApiError(403, "origin_revoked", f"station {st.station_id} was revoked at {ms_to_rfc3339(st.revoked_at)}"
                       f" ({st.revoke_reason or 'no reason given'}): its transfers are refused",
                       message_vi="Trạm làm ra thẻ nhớ này đã bị thu hồi: thành phố không nhận hồ sơ từ thẻ.")
    if voucher.key_id != st.key_id:
        for box in storage.retired_boxes(st.station_id):
            if box.key_id == voucher.key_id:
                if box.wipe_command:
                    raise ApiError(403, "origin_revoked", f"the box (key {box.key_id}) of station {st.station_id} was "
                                   "revoked before it was replaced: its transfers are refused",
                                   message_vi="Máy làm ra thẻ nhớ này đã bị thu hồi: thành phố không nhận.")
                raise ApiError(403, "origin_retired", f"the box (key {box.key_id}) of station {st.station_id} was "
                               f"replaced at {ms_to_rfc3339(box.retired_at) if box.retired_at else '?'}: a replaced "
                               "box's transfers are refused; bring that box online to upload what it holds (§12.1)",
                               message_vi="Máy làm ra thẻ nhớ này đã được thay thế: thành phố không nhận thẻ của "
                                          "máy cũ; hãy kết nối mạng cho máy cũ để gửi hồ sơ.")
        raise ApiError(403, "origin_bad_signature", f"the transfer is signed by key {voucher.key_id}, not by station "
                       f"{st.station_id}'s", message_vi="Chữ ký của thẻ nhớ không phải của trạm: không nhận.")
    try:
        voucher.verify(st.public_key)
    except SignatureError:
        raise ApiError(403, "origin_bad_signature", "the voucher's signature does not verify with station "
                       f"{st.station_id}'s key", message_vi="Chữ ký của thẻ nhớ không hợp lệ: không nhận.") from None
    return st


class Relay:
    """Handlers of ``/v1/relay/…`` (registered by :func:`add_relay_routes`): the hub's own upload
    path (:class:`sync.hub._app.Hub`), with the relay's rules on who may name which dossier."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub

    @staticmethod
    def _relay_station(adm: Admission) -> StationRecord:
        if adm.station.retired:  # unreachable through the retired-paths rule; kept explicit
            raise ApiError(403, "forbidden", "a replaced box may not relay")
        return adm.station

    async def put(self, request: web.Request) -> web.Response:
        hub = self.hub
        adm, _, data = await hub.signed_json(request)
        relay = self._relay_station(adm)
        voucher, manifest = parse_relay_put(data, max_blob_size=hub.max_blob_size)
        if manifest.dossier_id != request.match_info["dossier_id"]:
            raise ProtocolError("manifest.dossier_id", "differs from the dossier id in the path")
        origin = await hub.db(check_origin, hub.storage, hub.keys, voucher)
        if manifest.agency_code != origin.agency_code:
            raise ProtocolError("manifest.agency_code", f"differs from the origin station's agency {origin.agency_code}")
        return await hub.store_manifest(manifest, key_id=origin.key_id,
                                        by=f"of {origin.station_id} relayed by {relay.station_id}")

    @classmethod
    def _relayed_blob(cls, adm: Admission, dossier_id: str) -> BlobRow:
        """The blob a relay's request names: any station's dossier, brought by an enrolled box
        that was not replaced (the origin was checked against the voucher when it was stored)."""
        cls._relay_station(adm)
        t = adm.target
        if t is None:
            raise ApiError(404, "not_found", f"no dossier {dossier_id}")
        if t.blob is None:
            raise ApiError(404, "not_found", "this blob is not in the dossier's manifest")
        return t.blob

    async def head_blob(self, request: web.Request) -> web.Response:
        return await self.hub.head_blob(request, blob_of=self._relayed_blob)

    async def patch_blob(self, request: web.Request) -> web.Response:
        """§6.3 for a relayed dossier: the box's own upload path, the relay's rules on the blob."""
        return await self.hub.patch_blob(request, blob_of=self._relayed_blob)

    async def commit(self, request: web.Request) -> web.Response:
        hub = self.hub
        dossier_id = request.match_info["dossier_id"]
        adm, _, data = await hub.signed_json(request, dossier_id=dossier_id)
        self._relay_station(adm)
        d = adm.dossier
        if d is None:
            raise ApiError(404, "not_found", f"no dossier {dossier_id}")
        manifest_sha = parse_commit(data)
        origin = await hub.db(hub.storage.get_station, d.station_id)
        if d.state != "committed" and (origin is None or origin.revoked_at is not None):
            raise ApiError(403, "origin_revoked", f"station {d.station_id} was revoked: its dossiers are not committed")
        answer = await hub.commit_dossier(d, manifest_sha)
        return web.Response(status=200, body=answer, content_type="application/json")


def add_relay_routes(router: web.UrlDispatcher, hub: Hub) -> None:
    """Register ``/v1/relay/…`` on the hub's router."""
    relay = Relay(hub)
    router.add_put(RELAY_PREFIX + "/{dossier_id}", relay.put)
    router.add_route("HEAD", RELAY_PREFIX + "/{dossier_id}/blobs/{sha256}", relay.head_blob)
    router.add_patch(RELAY_PREFIX + "/{dossier_id}/blobs/{sha256}", relay.patch_blob)
    router.add_post(RELAY_PREFIX + "/{dossier_id}/commit", relay.commit)


# --- the hub reads a stick itself (`motcua hub import-transfer`) --------------------------------

@dataclass
class HubImportReport:
    station_id: str = ""
    committed: list[str] = field(default_factory=list)  # newly committed by this import
    already: list[str] = field(default_factory=list)    # the hub held them committed already
    receipts: list[dict] = field(default_factory=list)  # the commit answers, for a receipts stick


def import_transfer(storage: HubStorage, keys: HubKeys, data_dir: Path, path: Path, *, now: Clock,
                    blobs: BlobStore | None = None) -> HubImportReport:
    """Verify a whole transfer, then store each dossier once and commit it; all checks come first.

    ``blobs``: the hub's blob store (default: as ``hub.json`` says, :func:`sync.hub.open_blob_store`,
    S3 credentials from the environment; opened once the stick has passed its checks, closed here).
    Each blob is written under the same lock as an upload (:class:`BlobUploads`).
    Raises TransferRefused (the stick) or ApiError (the origin station, a dossier) naming why.
    """
    transfer: Transfer = read_transfer(path)
    vouchers = [parse_voucher(e.voucher) for e in transfer.entries]
    manifests = [parse_manifest(e.manifest) for e in transfer.entries]
    origin = None
    for v in vouchers:
        origin = check_origin(storage, keys, v)
    files = blobs if blobs is not None else open_blob_store(data_dir, read_config(data_dir).get("blobs"))
    try:
        return _import_entries(storage, keys, BlobUploads(storage, files, now), transfer, manifests, origin, now=now)
    finally:
        if blobs is None:
            files.close()


def _import_entries(storage: HubStorage, keys: HubKeys, uploads: BlobUploads, transfer: Transfer, manifests,
                    origin: StationRecord | None, *, now: Clock) -> HubImportReport:
    report = HubImportReport(station_id=transfer.station_id)
    build = receipt_builder(keys)
    for entry, manifest in zip(transfer.entries, manifests, strict=True):
        assert origin is not None
        if manifest.agency_code != origin.agency_code:
            raise ProtocolError("manifest.agency_code", f"differs from the origin station's agency {origin.agency_code}")
        _, d = storage.create_dossier(manifest, now=now(), key_id=origin.key_id)
        if d.state == "committed" and d.receipt:
            report.already.append(d.dossier_id)
            report.receipts.append(json.loads(d.receipt))
            continue
        completed = []
        for sha, size in entry.blobs:
            if not uploads.files.is_complete(sha):
                _store_blob(uploads, transfer.blob_path(sha), sha, size)
            completed.append((sha, size))
        answer = storage.commit_dossier(d.dossier_id, manifest_sha256=manifest.sha256, now=now(), build_receipt=build,
                                        completed=completed)
        report.committed.append(d.dossier_id)
        report.receipts.append(json.loads(answer))
    return report


def _store_blob(uploads: BlobUploads, src: Path, sha: str, size: int) -> None:
    """One page blob into the hub's blob store, locked as an upload is (the database's lease where
    the landing zones are apart, then the partial file), through the same appender."""
    lease = uploads.new_lease(HubLimits().chunk_deadline(size))
    app = uploads.open(sha, size, lease)
    try:
        if app.discard_if_complete():
            return
        if app.current_offset():  # a partial upload of the same blob: start it over
            app.reset()
        at = 0
        digest = hashlib.sha256()  # hashed as written: finish() checks it against the blob's id
        with open(src, "rb") as fh:
            while block := fh.read(4 * 1024 * 1024):
                at = app.append([block], at, digest)
        if not app.finish(size, digest.hexdigest()):
            raise ApiError(460, "blob_hash_mismatch", f"blob {sha[:12]}… on the stick changed while it was read")
    finally:
        app.close()
        uploads.release(sha, lease)
