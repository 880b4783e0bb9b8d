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
import logging
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from core.codes import is_ascii_digits
from sync.errors import ApiError, ProtocolError, SignatureError
from sync.protocol import (
    CHUNK_MEDIA_TYPE,
    H_BLOB_STATE,
    H_UPLOAD_LENGTH,
    H_UPLOAD_OFFSET,
    MAX_CHUNK,
    NONCE_TTL_MS,
    SHA256_RE,
    SignedHeaders,
    Transfer,
    Voucher,
    ms_to_rfc3339,
    parse_commit,
    parse_manifest,
    parse_relay_put,
    parse_voucher,
    read_transfer,
)

from ._app import _STARTED, Hub, _Chunk, _json
from ._blobs import Appender, BlobFiles, BlobLocked
from ._core import dossier_state, receipt_builder
from ._keys import HubKeys
from .storage import Admission, BlobRow, HubStorage, StationRecord

logger = logging.getLogger(__name__)

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
    """Handlers of ``/v1/relay/…`` (registered by :func:`add_relay_routes`)."""

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
        created, d = await hub.db(hub.storage.create_dossier, manifest, now=hub.clock(), key_id=origin.key_id)
        if created:
            logger.info("dossier %s (%s) of %s relayed by %s", d.dossier_id, d.code, origin.station_id, relay.station_id)
        return _json(dossier_state(d, hub.files), 201 if created else 200)

    @staticmethod
    def _relayed_blob(adm: Admission, dossier_id: str) -> BlobRow:
        t = adm.target
        if t is None:
            raise ApiError(404, "not_found", f"no dossier {dossier_id}")
        if t.blob is None:
            raise ApiError(404, "not_found", "this blob is not in the dossier's manifest")
        return t.blob

    async def head_blob(self, request: web.Request) -> web.Response:
        hub = self.hub
        sha, dossier_id = request.match_info["sha256"], request.match_info["dossier_id"]
        if not SHA256_RE.fullmatch(sha):
            await hub.admit(request, None)
            raise ApiError(404, "not_found", "blob id must be a lowercase hex SHA-256")
        adm, _ = await hub.admit(request, None, dossier_id=dossier_id, blob_sha256=sha)
        self._relay_station(adm)
        b = self._relayed_blob(adm, dossier_id)
        complete = b.complete or hub.files.is_complete(b.sha256)
        offset = b.size if complete else hub.files.offset(b.sha256, b.size)
        if not complete and offset == b.size:
            complete = await hub.run(hub.files.recover, b.sha256, b.size)
            offset = b.size if complete else hub.files.offset(b.sha256, b.size)
        return web.Response(status=200, headers={H_UPLOAD_OFFSET: str(offset), H_UPLOAD_LENGTH: str(b.size),
                                                 H_BLOB_STATE: "complete" if complete else "partial",
                                                 "Cache-Control": "no-store"})

    async def patch_blob(self, request: web.Request) -> web.Response:
        """§6.3 for a relayed dossier: the same checks and the same blob files as the box's own upload."""
        hub = self.hub
        if request.content_type != CHUNK_MEDIA_TYPE:
            raise ApiError(415, "unsupported_media_type", f"chunks must be sent as {CHUNK_MEDIA_TYPE}")
        raw_offset = request.headers.get(H_UPLOAD_OFFSET, "")
        if not is_ascii_digits(raw_offset) or len(raw_offset) > 19:
            raise ApiError(400, "invalid_request", "Upload-Offset header missing or not a number",
                           extra={"field": H_UPLOAD_OFFSET})
        length = request.content_length
        if length is None:
            raise ApiError(400, "invalid_request", "Content-Length is required", extra={"field": "Content-Length"})
        if length > MAX_CHUNK:
            raise ApiError(413, "too_large", f"chunk larger than {MAX_CHUNK} bytes")
        offset = int(raw_offset)
        dossier_id, sha = request.match_info["dossier_id"], request.match_info["sha256"]
        if not SHA256_RE.fullmatch(sha):
            await hub.admit(request, None)
            raise ApiError(404, "not_found", "blob id must be a lowercase hex SHA-256")
        signed, check = hub._checker(request)
        chunk = _Chunk(request, length, hub.read_timeout, deadline=request[_STARTED] + hub.limits.chunk_deadline(length))
        b, app = await hub.run(self._open_chunk, signed, check, dossier_id, sha, offset, length)
        hub._authenticated(request)
        hub._resume(request)
        try:
            outcome = await hub._receive(chunk, app, b, offset, signed.content_sha256)
        finally:
            app.close()
        if outcome == "incomplete":
            raise ApiError(408 if chunk.overdue else 400, "request_timeout" if chunk.overdue else "invalid_request",
                           f"chunk incomplete: {chunk.received} of {length} bytes kept",
                           extra={"offset": offset + chunk.received},
                           headers={H_UPLOAD_OFFSET: str(offset + chunk.received)})
        if outcome == "checksum":
            raise ApiError(460, "checksum_mismatch", "chunk does not match X-Motcua-Content-SHA256; discarded",
                           extra={"offset": offset}, headers={H_UPLOAD_OFFSET: str(offset)})
        if outcome == "blob_hash":
            raise ApiError(460, "blob_hash_mismatch", "the uploaded blob's SHA-256 differs from its id; "
                           "upload it again from offset 0", extra={"offset": 0}, headers={H_UPLOAD_OFFSET: "0"})
        if outcome == "partial":
            return web.Response(status=204, headers={H_UPLOAD_OFFSET: str(offset + length), H_BLOB_STATE: "partial"})
        return web.Response(status=204, headers={H_UPLOAD_OFFSET: str(b.size), H_BLOB_STATE: "complete"})

    def _open_chunk(self, signed: SignedHeaders, check, dossier_id: str, sha: str, offset: int,
                    length: int) -> tuple[BlobRow, Appender]:
        hub = self.hub
        adm = hub.storage.admit(signed.station_id, signed.nonce, expires_at=hub.clock() + NONCE_TTL_MS,
                                check=check, dossier_id=dossier_id, blob_sha256=sha)
        self._relay_station(adm)
        b = self._relayed_blob(adm, dossier_id)
        if b.complete or hub.files.is_complete(b.sha256):
            raise hub._offset_error(b.size, b.size, "blob already complete")
        if offset + length > b.size:
            raise ApiError(413, "too_large", f"chunk runs past the blob's size {b.size}")
        try:
            app = hub.files.open_appender(b.sha256)
        except BlobLocked:
            raise ApiError(409, "upload_locked", "another request is writing this blob",
                           extra={"offset": hub.files.offset(b.sha256, b.size)}, headers={"Retry-After": "1"}) from None
        try:
            if app.discard_if_complete():
                raise hub._offset_error(b.size, b.size, "blob already complete")
            current = app.current_offset()
            if current != offset:
                raise hub._offset_error(current, b.size, f"expected Upload-Offset {current}")
        except BaseException:
            app.close()
            raise
        return b, app

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
        completed = await hub.run(lambda: [(b.sha256, b.size) for b in d.blobs
                                           if not b.complete and hub.files.recover(b.sha256, b.size)])
        try:
            answer = await hub.db(hub.storage.commit_dossier, d.dossier_id, manifest_sha256=manifest_sha,
                                  now=hub.clock(), build_receipt=hub.build_receipt, completed=completed)
        except ApiError as err:
            if err.code == "blobs_incomplete":
                for item in err.extra.get("missing", []):
                    item["offset"] = hub.files.offset(item["sha256"], item["size"])
            raise
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


def import_transfer(storage: HubStorage, keys: HubKeys, data_dir: Path, path: Path, *, now) -> HubImportReport:
    """Verify a whole transfer, then store each dossier once and commit it; all checks come first.

    Raises TransferRefused (the stick) or ApiError (the origin station, a dossier) naming why.
    """
    transfer: Transfer = read_transfer(path)
    files = BlobFiles(data_dir)
    vouchers = [parse_voucher(e.voucher) for e in transfer.entries]
    manifests = [parse_manifest(e.manifest) for e in transfer.entries]
    origin = None
    for v in vouchers:
        origin = check_origin(storage, keys, v)
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
            if not files.is_complete(sha):
                _store_blob(files, transfer.blob_path(sha), sha, size)
            completed.append((sha, size))
        answer = storage.commit_dossier(d.dossier_id, manifest_sha256=manifest.sha256, now=now(), build_receipt=build,
                                        completed=completed)
        report.committed.append(d.dossier_id)
        report.receipts.append(json.loads(answer))
    return report


def _store_blob(files: BlobFiles, src: Path, sha: str, size: int) -> None:
    """One page blob into the hub's blob files, through the same appender as an upload."""
    with files.appender(sha) as app:
        if app.discard_if_complete():
            return
        if app.current_offset():  # a partial upload of the same blob: start it over
            app.truncate(0)
        at = 0
        digest = hashlib.sha256()  # hashed as written: finish() checks it against the blob's id
        with open(src, "rb") as fh:
            while block := fh.read(4 * 1024 * 1024):
                at = app.append([block], at, digest)
        if not app.finish(size, digest.hexdigest()):
            raise ApiError(460, "blob_hash_mismatch", f"blob {sha[:12]}… on the stick changed while it was read")
