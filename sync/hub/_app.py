"""The hub's HTTP API (docs/sync-protocol.md): an aiohttp application built by create_hub_app."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import errno
import functools
import hashlib
import json
import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as futures_wait
from pathlib import Path
from typing import Any

from aiohttp import web
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from core.codes import is_ascii_digits
from sync.errors import ApiError, HubError, ProtocolError, SignatureError
from sync.protocol import (
    CHUNK_MEDIA_TYPE,
    FEED_DEFAULT_LIMIT,
    FEED_MAX_LIMIT,
    H_BLOB_STATE,
    H_ERROR,
    H_PROTOCOL,
    H_SERVER_TIME,
    H_TIMESTAMP,
    H_UPLOAD_LENGTH,
    H_UPLOAD_OFFSET,
    MAX_BLOB_SIZE,
    MAX_CHUNK,
    MAX_JSON_BODY,
    NONCE_TTL_MS,
    PROTOCOL_VERSION,
    SHA256_RE,
    TIMESTAMP_WINDOW_MS,
    SignedHeaders,
    key_id,
    ms_to_rfc3339,
    parse_commit,
    parse_enroll,
    parse_heartbeat,
    parse_json,
    parse_manifest,
    parse_rotate,
    rotation_message,
    sha256_hex,
    token_sha256,
)

from ._blobs import Appender, BlobStore, open_blob_store
from ._city import H_CITY_SIGNATURE, CityConfig, CityConnector, load_city_config
from ._city import verify as verify_city
from ._core import Clock, dossier_state, receipt_builder, station_payload, system_clock
from ._fleet import install_fleet
from ._keys import HubKeys
from ._limits import ConnectionGate, HubLimits
from ._metrics import UPDATE_STATUS, install_metrics
from ._rollout import station_updates, update_report
from ._uploads import BlobUploads, Lease, offset_error
from .storage import Admission, BlobRow, DossierRecord, HubStorage, StationRecord

logger = logging.getLogger(__name__)

HUB_KEY = web.AppKey("motcua_hub", object)
READ_BLOCK = 256 * 1024
# The server reads this much of a request ahead (aiohttp's default, 64 KiB, pauses the socket
# many times per 1 MB chunk).
READ_BUFSIZE = 1024 * 1024
# What a replaced box may still call besides its own dossiers (§12.1).
RETIRED_PATHS = frozenset({"/v1/station", "/v1/feed", "/v1/heartbeat"})
# Bytes of a chunk held in memory before they are written (larger chunks are written in batches).
WRITE_BATCH = 4 * 1024 * 1024
# Threads for database and file work: they mostly wait on fsync, so more than the CPUs.
WORKER_THREADS = 16
# An enrollment body is three short fields: a few hundred bytes.
MAX_ENROLL_BODY = 4096

# Which blob of the admitted dossier a blob request names, once the request's own rules hold
# (``Hub._own_blob``: the station's own dossier; the relay's: any dossier, brought by a relay).
BlobOf = Callable[[Admission, str], BlobRow]

# Per-request state kept on the aiohttp request.
_STARTED = web.RequestKey("motcua_started", float)  # loop time the request head arrived
_UNAUTH = web.RequestKey("motcua_unauth", bool)      # counted among the unauthenticated requests
_PAUSED = web.RequestKey("motcua_paused", bool)      # socket reading paused until it is authenticated
_KNOWN = web.RequestKey("motcua_known", bool)        # signed by a known station: a refusal may drain the body
_OVERDUE = web.RequestKey("motcua_overdue", bool)    # its body did not arrive in time


def _json(data: Any, status: int = 200) -> web.Response:
    try:
        body = json.dumps(data, ensure_ascii=False).encode()
    except UnicodeEncodeError:  # text that is not Unicode (a lone surrogate) goes out escaped
        body = json.dumps(data).encode()
    return web.Response(status=status, body=body, content_type="application/json")


def _error_response(err: ApiError) -> web.Response:
    resp = _json(err.body(), err.status)
    resp.headers[H_ERROR] = err.code
    for name, value in err.headers.items():
        resp.headers[name] = value
    return resp


_STATUS_CODES = {400: "invalid_request", 404: "not_found", 405: "method_not_allowed", 413: "too_large",
                 415: "unsupported_media_type", 429: "rate_limited", 503: "unavailable"}


class Hub:
    """Request handlers; holds nothing that matters between requests (all state is in storage)."""

    def __init__(self, storage: HubStorage, keys: HubKeys, *, data_dir: Path, clock: Clock,
                 max_blob_size: int, read_timeout: float, limits: HubLimits, blobs: BlobStore | None = None,
                 city: CityConfig | None = None) -> None:
        self.storage = storage
        self.keys = keys
        self.owns_blobs = blobs is None
        self.files: BlobStore = blobs if blobs is not None else open_blob_store(data_dir)
        self.uploads = BlobUploads(storage, self.files, clock)
        self.clock = clock
        self.max_blob_size = max_blob_size
        self.read_timeout = read_timeout
        self.limits = limits
        self.unauthenticated = 0  # requests in progress, not authenticated yet
        self.gate: ConnectionGate | None = None  # set by start_hub
        self.build_receipt = receipt_builder(keys)
        self.city = CityConnector(self, city) if city is not None else None
        self.executor = ThreadPoolExecutor(max_workers=WORKER_THREADS, thread_name_prefix="hub")

    async def run(self, fn, *args: Any, **kwargs: Any) -> Any:
        """Run blocking work (database, files) on the hub's own threads, which mostly wait on fsync."""
        return await asyncio.get_running_loop().run_in_executor(self.executor, functools.partial(fn, *args, **kwargs))

    db = run

    # --- middleware and helpers -------------------------------------------------------------

    @web.middleware
    async def middleware(self, request: web.Request, handler) -> web.StreamResponse:
        """Limits, then the handler; every failure becomes a protocol error answer.

        A request's body is not read (its socket is not even read on) before the request is
        authenticated (§4.3); a refusal before then closes the connection, unless the request was
        signed by a known station (a box whose clock is off must get its ``clock_skew`` answer).
        """
        gate = self.gate
        transport = request.transport
        if gate is not None:
            gate.request_started(transport)
        request[_STARTED] = asyncio.get_running_loop().time()
        try:
            resp = await self._answer(request, handler)
            if request.body_exists and not request.content.is_eof():
                if request.get(_KNOWN) and not request.get(_OVERDUE):
                    self._resume(request)  # aiohttp reads and drops the rest for a few seconds
                else:
                    resp.force_close()
            return resp
        finally:
            self._authenticated(request)
            if gate is not None:
                gate.request_finished(transport)

    async def _answer(self, request: web.Request, handler) -> web.StreamResponse:
        try:
            if self.unauthenticated >= self.limits.max_unauthenticated:
                raise ApiError(503, "unavailable", f"the hub is checking {self.unauthenticated} requests, its limit; "
                               "try again shortly", headers={"Retry-After": "2"})
            self.unauthenticated += 1
            request[_UNAUTH] = True
            if request.body_exists and not request.content.is_eof():
                request.protocol.pause_reading()
                request[_PAUSED] = True
            version = request.headers.get(H_PROTOCOL)
            if version is not None and version.strip() != str(PROTOCOL_VERSION):
                raise ApiError(400, "unsupported_version", f"this hub speaks protocol {PROTOCOL_VERSION}, not {version!r}")
            return await handler(request)
        except ApiError as err:
            return _error_response(err)
        except ProtocolError as err:
            return _error_response(ApiError(400, "invalid_request", str(err), extra={"field": err.field}))
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            code = _STATUS_CODES.get(exc.status, "internal" if exc.status >= 500 else "invalid_request")
            return _error_response(ApiError(exc.status, code, exc.reason or code))
        except HubError as err:
            logger.error("hub storage unavailable: %s", err)
            return _error_response(ApiError(503, "unavailable", "hub storage unavailable", headers={"Retry-After": "5"}))
        except OSError as exc:
            if exc.errno == errno.ENOSPC:
                logger.error("hub disk full")
                return _error_response(ApiError(507, "insufficient_storage", "hub disk full", headers={"Retry-After": "60"}))
            logger.exception("I/O error on %s %s", request.method, request.path)
            return _error_response(ApiError(500, "internal", "hub I/O error"))
        except Exception:
            logger.exception("unexpected error on %s %s", request.method, request.path)
            return _error_response(ApiError(500, "internal", "unexpected hub error"))

    async def add_headers(self, request: web.Request, response: web.StreamResponse) -> None:
        response.headers[H_SERVER_TIME] = str(self.clock())
        response.headers[H_PROTOCOL] = str(PROTOCOL_VERSION)

    def _authenticated(self, request: web.Request) -> None:
        """The request no longer counts among the unauthenticated ones (admitted, or answered)."""
        if request.get(_UNAUTH):
            request[_UNAUTH] = False
            self.unauthenticated -= 1

    @staticmethod
    def _resume(request: web.Request) -> None:
        if request.get(_PAUSED):
            request[_PAUSED] = False
            request.protocol.resume_reading()

    def deadline(self, request: web.Request) -> float:
        """Loop time by which a JSON body must have arrived whole."""
        return request[_STARTED] + self.limits.body_deadline

    @staticmethod
    def check_json_headers(request: web.Request, limit: int) -> None:
        """What can be refused from the headers alone: size and media type."""
        if request.content_length is not None and request.content_length > limit:
            raise ApiError(413, "too_large", f"JSON body larger than {limit} bytes")
        if request.body_exists and request.content_type != "application/json":
            raise ApiError(415, "unsupported_media_type", "JSON body expected (Content-Type: application/json)")

    async def read_body(self, request: web.Request, limit: int) -> bytes:
        """The whole body, at most ``limit`` bytes, arrived within the request's deadline."""
        self.check_json_headers(request, limit)
        self._resume(request)
        pieces: list[bytes] = []
        size = 0
        try:
            async with asyncio.timeout_at(self.deadline(request)):
                while piece := await request.content.readany():
                    size += len(piece)
                    if size > limit:
                        raise ApiError(413, "too_large", f"JSON body larger than {limit} bytes")
                    pieces.append(piece)
        except TimeoutError:
            request[_OVERDUE] = True
            raise ApiError(408, "request_timeout", f"the body did not arrive within {self.limits.body_deadline:g} s "
                           f"({size} bytes came)") from None
        return b"".join(pieces)

    async def signed_json(self, request: web.Request, *, dossier_id: str | None = None
                          ) -> tuple[Admission, SignedHeaders, Any]:
        """§4.3 in order: steps 1-6 from the headers alone, then the body, its hash (step 7), the JSON."""
        self.check_json_headers(request, MAX_JSON_BODY)
        adm, signed = await self.admit(request, None, dossier_id=dossier_id)
        body = await self.read_body(request, MAX_JSON_BODY)
        if sha256_hex(body) != signed.content_sha256:
            raise ApiError(460, "checksum_mismatch", "body does not match X-Motcua-Content-SHA256")
        return adm, signed, parse_json(body) if body else None

    async def admit(self, request: web.Request, body: bytes | None, *, dossier_id: str | None = None,
                    blob_sha256: str | None = None) -> tuple[Admission, SignedHeaders]:
        """Steps 1-7 of §4.3, and the dossier (or one blob) the request names, in one transaction.

        ``body`` None means the body is streamed and checked by the caller.
        """
        signed, check = self._checker(request)
        adm = await self.db(self.storage.admit, signed.station_id, signed.nonce,
                            expires_at=self.clock() + NONCE_TTL_MS, check=check, dossier_id=dossier_id,
                            blob_sha256=blob_sha256)
        self._authenticated(request)
        if body is not None and sha256_hex(body) != signed.content_sha256:
            raise ApiError(460, "checksum_mismatch", "body does not match X-Motcua-Content-SHA256")
        return adm, signed

    async def authenticate(self, request: web.Request, body: bytes | None) -> tuple[StationRecord, SignedHeaders]:
        adm, signed = await self.admit(request, body)
        return adm.station, signed

    def _checker(self, request: web.Request):
        """The signed headers (step 1) and steps 2-5 as a function run inside the admission."""
        try:
            signed = SignedHeaders.parse(request.headers)
        except ProtocolError as err:
            raise ApiError(401, "unsigned", str(err)) from None
        method, path, raw_path = request.method, request.path, request.raw_path

        def check(st: StationRecord | None, retired_boxes) -> StationRecord:
            if st is None or st.public_key is None:
                raise ApiError(401, "unknown_station", f"no enrolled station {signed.station_id!r}")
            request[_KNOWN] = True
            now = self.clock()
            if abs(signed.timestamp_ms - now) > TIMESTAMP_WINDOW_MS:
                raise ApiError(401, "clock_skew", f"timestamp {signed.timestamp_ms} is {signed.timestamp_ms - now} ms "
                               f"from hub time {now}; correct the clock offset with {H_SERVER_TIME}")
            try:
                signed.verify(Ed25519PublicKey.from_public_bytes(st.public_key), method=method, path_qs=raw_path)
            except SignatureError:
                st = self._retired_box(signed, st, retired_boxes(), method=method, path=path, raw_path=raw_path)
            if st.revoked_at is not None:
                raise ApiError(403, "station_revoked", f"station revoked at {ms_to_rfc3339(st.revoked_at)}",
                               extra={"command": st.wipe_command},
                               message_vi="Trạm đã bị thu hồi; dữ liệu trên máy sẽ được xóa.")
            return st

        return signed, check

    @staticmethod
    def _retired_box(signed: SignedHeaders, st: StationRecord, boxes, *, method: str, path: str,
                     raw_path: str) -> StationRecord:
        """A replaced box of this station (its key was retired, not revoked) may still drain."""
        for box in boxes:
            try:
                signed.verify(Ed25519PublicKey.from_public_bytes(box.public_key), method=method, path_qs=raw_path)
            except SignatureError:
                continue
            if path not in RETIRED_PATHS and not path.startswith("/v1/dossiers/"):
                raise ApiError(403, "forbidden", "this box was replaced: it may only upload the dossiers it holds")
            return dataclasses.replace(
                st, public_key=box.public_key, key_id=box.key_id, partition_index=box.partition_index,
                partition_size=box.partition_size, retired=True, revoked_at=box.retired_at if box.wipe_command else None,
                wipe_command=box.wipe_command)
        raise ApiError(401, "bad_signature", "signature does not verify with the station's current key")

    async def touch(self, st: StationRecord, heartbeat: dict[str, Any] | None = None) -> None:
        if st.retired:
            await self.db(self.storage.touch_retired, st.station_id, st.key_id or "", now=self.clock())
        else:
            await self.db(self.storage.touch, st.station_id, now=self.clock(), heartbeat=heartbeat)

    async def own_dossier(self, request: web.Request, body: bytes | None) -> tuple[StationRecord, DossierRecord]:
        """Admit a signed request about the dossier in its path, which must be the station's own."""
        dossier_id = request.match_info["dossier_id"]
        adm, _ = await self.admit(request, body, dossier_id=dossier_id)
        return self._own_dossier(adm, dossier_id)

    @staticmethod
    def _own_dossier(adm: Admission, dossier_id: str) -> tuple[StationRecord, DossierRecord]:
        d = adm.dossier
        if d is None:
            raise ApiError(404, "not_found", f"no dossier {dossier_id}")
        if d.station_id != adm.station.station_id:
            raise ApiError(403, "forbidden", "this dossier belongs to another station")
        return adm.station, d

    @staticmethod
    def _own_blob(adm: Admission, dossier_id: str) -> BlobRow:
        t = adm.target
        if t is None:
            raise ApiError(404, "not_found", f"no dossier {dossier_id}")
        if t.station_id != adm.station.station_id:
            raise ApiError(403, "forbidden", "this dossier belongs to another station")
        if t.blob is None:
            raise ApiError(404, "not_found", "this blob is not in the dossier's manifest")
        return t.blob

    async def feed_head(self, st: StationRecord) -> int:
        _, head = await self.db(self.storage.feed, st, since=2**62, limit=1)
        return head

    # --- unsigned ---------------------------------------------------------------------------

    async def time(self, request: web.Request) -> web.Response:
        now = self.clock()
        return _json({"server_time": ms_to_rfc3339(now), "server_time_ms": now})

    async def enroll(self, request: web.Request) -> web.Response:
        body = await self.read_body(request, MAX_ENROLL_BODY)
        req = parse_enroll(parse_json(body) if body else None)
        st = await self.db(self.storage.enroll, req.station_id, token_sha256=token_sha256(req.token),
                           public_key=req.public_key, key_id=key_id(req.public_key), now=self.clock())
        logger.info("station %s enrolled (key %s)", st.station_id, st.key_id)
        return _json(station_payload(st, self.keys, feed_head=await self.feed_head(st), now=self.clock()))

    # --- signed -----------------------------------------------------------------------------

    async def station(self, request: web.Request) -> web.Response:
        st, _ = await self.authenticate(request, b"")
        payload = station_payload(st, self.keys, feed_head=await self.feed_head(st), now=self.clock())
        if st.retired:
            payload["station"]["retired"] = True
        return _json(payload)

    async def rotate(self, request: web.Request) -> web.Response:
        adm, signed, data = await self.signed_json(request)
        st = adm.station
        new_key, proof = parse_rotate(data)
        message = rotation_message(st.station_id, data["new_public_key"], request.headers[H_TIMESTAMP])
        try:
            Ed25519PublicKey.from_public_bytes(new_key).verify(proof, message)
        except InvalidSignature:
            raise ApiError(400, "invalid_request", "proof does not verify with new_public_key",
                           extra={"field": "proof"}) from None
        assert st.public_key is not None
        now = self.clock()
        st = await self.db(self.storage.rotate_key, st.station_id, old_key=st.public_key, new_key=new_key,
                           key_id=key_id(new_key), now=now)
        logger.info("station %s rotated its key to %s", st.station_id, st.key_id)
        return _json({"station_id": st.station_id, "key_id": st.key_id, "rotated_at": ms_to_rfc3339(now)})

    async def put_dossier(self, request: web.Request) -> web.Response:
        adm, _, data = await self.signed_json(request)
        st = adm.station
        manifest = parse_manifest(data, max_blob_size=self.max_blob_size)
        if manifest.dossier_id != request.match_info["dossier_id"]:
            raise ProtocolError("dossier_id", "differs from the dossier id in the path")
        if manifest.station_id != st.station_id:
            raise ProtocolError("station_id", "differs from the signing station")
        if manifest.agency_code != st.agency_code:
            raise ProtocolError("agency_code", f"differs from the station's agency {st.agency_code}")
        return await self.store_manifest(manifest, key_id=st.key_id, by=f"created by {st.station_id}")

    async def store_manifest(self, manifest, *, key_id: str | None, by: str) -> web.Response:
        """Store a checked manifest once (§12) under ``key_id``; the dossier's state, 201 if new."""
        created, d = await self.db(self.storage.create_dossier, manifest, now=self.clock(), key_id=key_id)
        if created:
            logger.info("dossier %s (%s) %s", d.dossier_id, d.code, by)
        return _json(await self.run(dossier_state, d, self.files), 201 if created else 200)

    async def get_dossier(self, request: web.Request) -> web.Response:
        _, d = await self.own_dossier(request, b"")
        return _json(await self.run(dossier_state, d, self.files))

    async def _admit_blob(self, request: web.Request, blob_of: BlobOf | None = None) -> BlobRow:
        sha = request.match_info["sha256"]
        dossier_id = request.match_info["dossier_id"]
        await self._check_blob_id(request, sha)
        adm, _ = await self.admit(request, None, dossier_id=dossier_id, blob_sha256=sha)
        return (blob_of or self._own_blob)(adm, dossier_id)

    async def _check_blob_id(self, request: web.Request, sha: str) -> None:
        if not SHA256_RE.fullmatch(sha):
            # Still a signed request: admitted (and its nonce spent) before the answer.
            await self.admit(request, None)
            raise ApiError(404, "not_found", "blob id must be a lowercase hex SHA-256")

    async def head_blob(self, request: web.Request, *, blob_of: BlobOf | None = None) -> web.Response:
        """Where an upload stands (§6.2); ``blob_of``: which blob the request may name (default its own)."""
        b = await self._admit_blob(request, blob_of)
        complete, offset = (True, b.size) if b.complete else await self.run(self._blob_offset, b)
        return web.Response(status=200, headers={H_UPLOAD_OFFSET: str(offset), H_UPLOAD_LENGTH: str(b.size),
                                                 H_BLOB_STATE: "complete" if complete else "partial",
                                                 "Cache-Control": "no-store"})

    def _blob_offset(self, b: BlobRow) -> tuple[bool, int]:
        """(thread) Whether a blob is complete in the blob store, and the durable offset of its upload."""
        complete = self.files.is_complete(b.sha256)
        offset = b.size if complete else self.files.offset(b.sha256, b.size)
        if not complete and offset == b.size:
            complete = self.files.recover(b.sha256, b.size)
            offset = b.size if complete else self.files.offset(b.sha256, b.size)
        return complete, offset

    async def patch_blob(self, request: web.Request, *, blob_of: BlobOf | None = None) -> web.Response:
        """Append one chunk (§6.3): the admission (one transaction, then the partial file's lock and
        offset), hashing, the write, the fsync and, at the end of the blob, its verification and
        rename, all off the event loop. ``blob_of``: which blob the request may name (default: one
        of the station's own dossiers; the relay's for a relayed one, §14)."""
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
        dossier_id = request.match_info["dossier_id"]
        sha = request.match_info["sha256"]
        await self._check_blob_id(request, sha)
        signed, check = self._checker(request)
        chunk = _Chunk(request, length, self.read_timeout, deadline=request[_STARTED] + self.limits.chunk_deadline(length))
        # Admitted from the headers alone (§4.3 steps 1-6), the partial file locked and the offset
        # checked; only then is the body read, checksummed while it is written (step 7).
        # As long as the chunk may take: a worker that dies mid-chunk frees the blob then.
        lease = self.uploads.new_lease(self.limits.chunk_deadline(length))
        b, app = await self.run(self._open_chunk, signed, check, dossier_id, sha, offset, length, lease=lease,
                                blob_of=blob_of or self._own_blob)
        self._authenticated(request)
        self._resume(request)
        try:
            outcome = await self._receive(chunk, app, b, offset, signed.content_sha256)
        finally:
            app.close()  # already closed by the last hop unless interrupted
            if lease is not None:
                await self.db(self.uploads.release, sha, lease)
        if outcome == "incomplete" and chunk.overdue:
            request[_OVERDUE] = True
            raise ApiError(408, "request_timeout", f"chunk not received within {chunk.allowed:g} s: "
                           f"{chunk.received} of {length} bytes kept", extra={"offset": offset + chunk.received},
                           headers={H_UPLOAD_OFFSET: str(offset + chunk.received)})
        if outcome == "incomplete":
            raise ApiError(400, "invalid_request", f"chunk incomplete: {chunk.received} of {length} bytes",
                           extra={"offset": offset + chunk.received})
        if outcome == "checksum":
            raise ApiError(460, "checksum_mismatch", "chunk does not match X-Motcua-Content-SHA256; discarded",
                           extra={"offset": offset}, headers={H_UPLOAD_OFFSET: str(offset)})
        if outcome == "blob_hash":
            logger.warning("blob %s of dossier %s failed its hash check: discarded", b.sha256, dossier_id)
            raise ApiError(460, "blob_hash_mismatch", "the uploaded blob's SHA-256 differs from its id; "
                           "upload it again from offset 0", extra={"offset": 0}, headers={H_UPLOAD_OFFSET: "0"})
        if outcome == "partial":
            return web.Response(status=204, headers={H_UPLOAD_OFFSET: str(offset + length), H_BLOB_STATE: "partial"})
        return web.Response(status=204, headers={H_UPLOAD_OFFSET: str(b.size), H_BLOB_STATE: "complete"})

    def _open_chunk(self, signed: SignedHeaders, check, dossier_id: str, sha: str, offset: int,
                    length: int, *, lease: Lease | None = None, blob_of: BlobOf) -> tuple[BlobRow, Appender]:
        """(thread) Admit the request, find the blob (``blob_of``), lock its upload (the partial
        file, and with ``lease`` the database's lock too) and check the offset."""
        adm = self.storage.admit(signed.station_id, signed.nonce, expires_at=self.clock() + NONCE_TTL_MS,
                                 check=check, dossier_id=dossier_id, blob_sha256=sha)
        b = blob_of(adm, dossier_id)
        if b.complete or self.files.is_complete(b.sha256):
            raise offset_error(b.size, b.size, "blob already complete")
        if offset + length > b.size:
            raise ApiError(413, "too_large", f"chunk runs past the blob's size {b.size}")
        return b, self.uploads.lock(b.sha256, b.size, lease, offset=offset)

    async def _receive(self, chunk: _Chunk, app: Appender, b: BlobRow, offset: int, expected: str) -> str:
        """Append the body at ``offset``; on a broken or stalled body keep what arrived (fsynced).

        Hashing and writing happen in threads, never on the event loop. Returns the outcome:
        ``incomplete``, ``checksum``, ``partial``, ``blob_hash`` or ``complete``.
        """
        digest = hashlib.sha256()
        pos = offset
        work: Future | None = None  # the hop in flight; shielded, so it always runs to its end
        try:
            while not chunk.ended:
                if chunk.pending >= WRITE_BATCH:
                    # One batch is written while the next is read: the body is read promptly, not
                    # left in the socket (a reset discards that), and at most two batches are held.
                    if work is not None:
                        await asyncio.shield(asyncio.wrap_future(work))
                    batch = chunk.take()
                    work = self.executor.submit(app.append, batch, pos, digest)
                    pos += sum(map(len, batch))
                await chunk.read(WRITE_BATCH)
            if work is not None:
                await asyncio.shield(asyncio.wrap_future(work))
            work = self.executor.submit(functools.partial(
                self._end_chunk, app, b, chunk.take(), pos, digest, offset=offset, received=chunk.received,
                length=chunk.length, expected=expected))
            return await asyncio.shield(asyncio.wrap_future(work))
        finally:
            # Interrupted (the hub stops): wait for the hop in flight, then make every received
            # byte durable before the lock is released (blocking, but rare). After the last hop
            # closed the file, or a hop failed, there is nothing to do.
            if work is not None:
                futures_wait([work])
            if work is None or work.exception() is None:
                app.abort(chunk.take(), pos)

    @staticmethod
    def _end_chunk(app: Appender, b: BlobRow, pieces: list[bytes], pos: int, digest, *, offset: int,
                   received: int, length: int, expected: str) -> str:
        """(thread) Last write of a chunk, its checksum, fsync; at the end of the blob, its verification."""
        try:
            app.append(pieces, pos, digest)
            if received < length:
                app.sync()  # keep what arrived: the whole-blob hash still guards it
                return "incomplete"
            chunk_sha = digest.hexdigest()
            if chunk_sha != expected:
                app.truncate(offset)
                return "checksum"
            if offset + length < b.size:
                app.sync()
                return "partial"
            # A blob sent whole in this chunk was hashed while it streamed: no need to read it again.
            # Verified and durable under blobs/, it is recorded with the dossier's commit (in the
            # commit's transaction: one per dossier, not one per blob).
            return "complete" if app.finish(b.size, chunk_sha if offset == 0 else None) else "blob_hash"
        finally:
            app.close()

    async def commit(self, request: web.Request) -> web.Response:
        adm, _, data = await self.signed_json(request, dossier_id=request.match_info["dossier_id"])
        st, d = self._own_dossier(adm, request.match_info["dossier_id"])
        answer = await self.commit_dossier(d, parse_commit(data))
        await self.touch(st)
        return web.Response(status=200, body=answer, content_type="application/json")

    async def commit_dossier(self, d: DossierRecord, manifest_sha: str) -> bytes:
        """Commit a dossier whose blobs are all complete (§6.4): the signed answer, or ApiError
        ``blobs_incomplete`` naming each missing blob and the offset to resume it from."""
        # Blobs verified on disk are recorded with the commit, in its transaction (a blob whose every
        # byte is in its partial file, the hub having stopped before the rename, is verified now).
        completed = await self.run(lambda: [(b.sha256, b.size) for b in d.blobs
                                            if not b.complete and self.files.recover(b.sha256, b.size)])
        try:
            answer = await self.db(self.storage.commit_dossier, d.dossier_id, manifest_sha256=manifest_sha,
                                   now=self.clock(), build_receipt=self.build_receipt, completed=completed)
        except ApiError as err:
            if err.code == "blobs_incomplete":
                for item in err.extra.get("missing", []):
                    item["offset"] = await self.run(self.files.offset, item["sha256"], item["size"])
            raise
        return answer

    async def feed(self, request: web.Request) -> web.Response:
        since = _query_int(request, "since", 0, 0, 2**62)
        limit = _query_int(request, "limit", FEED_DEFAULT_LIMIT, 1, FEED_MAX_LIMIT)
        st, _ = await self.authenticate(request, b"")
        # ``since`` proves what the box applied (with its checkpoint): partition notices included.
        await self.db(self.storage.acknowledge_feed, st, since=since, now=self.clock())
        rows, head = await self.db(self.storage.feed, st, since=since, limit=limit)
        more = len(rows) == limit and rows[-1].seq < head
        nxt = rows[-1].seq if more else max(head, since)
        await self.touch(st)
        return _json({"items": [{"seq": r.seq, "type": r.type, "created_at": ms_to_rfc3339(r.created_at),
                                 "data": r.data} for r in rows], "next": nxt, "more": more, "head": head})

    async def heartbeat(self, request: web.Request) -> web.Response:
        adm, _, data = await self.signed_json(request)
        st = adm.station
        beat = parse_heartbeat(data)
        now = self.clock()
        await self.touch(st, beat)
        return _json({"server_time": ms_to_rfc3339(now), "feed_head": await self.feed_head(st)})

    # --- the city system (docs/city-connector.md) -------------------------------------------

    async def city_status(self, request: web.Request) -> web.Response:
        """``POST /v1/city/status``: the city system changed a dossier's status."""
        assert self.city is not None
        body = await self.read_body(request, MAX_JSON_BODY)
        verify_city(self.city.config.secret, request.headers.get(H_CITY_SIGNATURE), body, now_ms=self.clock())
        self._authenticated(request)
        data = parse_json(body) if body else None
        if not isinstance(data, dict):
            raise ProtocolError("body", "a JSON object expected")
        ref = data.get("dossier_id") or data.get("code")
        if not isinstance(ref, str) or not ref:
            raise ProtocolError("dossier_id", "dossier_id or code required")
        note = data.get("note", "")
        if not isinstance(note, str) or len(note) > 500:
            raise ProtocolError("note", "a text of at most 500 characters")
        status = self.city.status_of(data.get("status"))
        d = await self.db(self.storage.get_dossier, ref)
        if d is None:
            d = next((x for x in await self.db(self.storage.list_dossiers) if x.code == ref), None)
        if d is None:
            raise ApiError(404, "not_found", f"no dossier {ref!r} on this hub")
        if d.state != "committed":
            raise ApiError(409, "not_committed", f"dossier {d.code} is not committed yet")
        if d.status == status:  # a repeated delivery: nothing new for the box
            return _json({"dossier_id": d.dossier_id, "code": d.code, "status": status, "changed": False})
        row = await self.db(self.storage.set_status, d.dossier_id, status=status, note=note, now=self.clock())
        logger.info("city system set dossier %s to status %s", d.code, status)
        return _json({"dossier_id": d.dossier_id, "code": d.code, "status": status, "changed": True,
                      "feed_seq": row.seq})

    async def city_delivery(self, app: web.Application):
        """Each worker delivers due outbox events every few seconds (claims keep them apart)."""
        async def loop() -> None:
            while True:
                try:
                    assert self.city is not None
                    delivered, failed = await self.city.deliver_due()
                    if delivered or failed:
                        logger.info("city events: %s delivered, %s to retry", delivered, failed)
                except Exception:
                    logger.exception("city delivery round failed")
                await asyncio.sleep(self.city_interval)

        task = asyncio.get_running_loop().create_task(loop()) if self.city and self.city.config.url else None
        yield
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.city is not None:
            await self.city.close()

    city_interval = 2.0

    # --- housekeeping -----------------------------------------------------------------------

    async def sweeper(self, app: web.Application):
        async def loop() -> None:
            while True:
                try:
                    removed = await self.db(self.storage.sweep_nonces, now=self.clock())
                    if removed:
                        logger.debug("swept %s expired nonces", removed)
                except Exception:
                    logger.exception("nonce sweep failed")
                await asyncio.sleep(60)

        task = asyncio.get_running_loop().create_task(loop())
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        self.executor.shutdown(wait=True)
        if self.owns_blobs:
            self.files.close()


class _Chunk:
    """The body of one PATCH as it arrives: pieces not yet written, and whether it ended."""

    def __init__(self, request: web.Request, length: int, timeout: float, *, deadline: float) -> None:
        self.request = request
        self.length = length
        self.timeout = timeout  # for one read
        self.deadline = deadline  # loop time by which the whole body must have arrived
        self.allowed = deadline - asyncio.get_running_loop().time()
        self.overdue = False
        self.pieces: list[bytes] = []
        self.pending = 0  # bytes in ``pieces``
        self.received = 0
        self.broken = False

    @property
    def ended(self) -> bool:
        return self.broken or self.received >= self.length

    async def read(self, hold: int) -> None:
        """Read on until ``hold`` bytes are pending or the body ends; a lost client ends it."""
        loop = asyncio.get_running_loop()
        try:
            while not self.ended and self.pending < hold:
                left = self.deadline - loop.time()
                if left <= 0:
                    self.overdue = True
                    raise TimeoutError
                async with asyncio.timeout(min(self.timeout, left)):
                    data = await self.request.content.read(min(READ_BLOCK, self.length - self.received,
                                                               hold - self.pending))
                if not data:
                    self.broken = True
                    break
                self.pieces.append(data)
                self.pending += len(data)
                self.received += len(data)
        except Exception as exc:
            if isinstance(exc, TimeoutError) and loop.time() >= self.deadline:
                self.overdue = True  # a timeout, or aiohttp's payload/connection errors on a lost client
            self.broken = True
            self._drain()
            logger.info("chunk upload interrupted after %s of %s bytes: %s", self.received, self.length,
                        type(exc).__name__)

    def _drain(self) -> None:
        """A broken body: take what had already arrived of it (§6.3 keeps it).

        aiohttp's ``StreamReader.read`` (and ``read_nowait``) raise the connection error before
        returning the bytes still in its buffer (up to twice the server's ``read_bufsize``);
        those bytes did arrive, so they are taken from the buffer as they are, without the check.
        """
        take = getattr(self.request.content, "_read_nowait", None)
        if take is None:  # a reader without aiohttp's buffer: nothing more to take
            return
        while self.received < self.length:
            try:
                data = take(self.length - self.received)
            except Exception:  # whatever the reader's state, what was taken is kept
                break
            if not data:
                break
            self.pieces.append(data)
            self.pending += len(data)
            self.received += len(data)

    def take(self) -> list[bytes]:
        pieces, self.pieces, self.pending = self.pieces, [], 0
        return pieces


def _query_int(request: web.Request, name: str, default: int, lo: int, hi: int) -> int:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    if not is_ascii_digits(raw) or len(raw) > 19 or not lo <= int(raw) <= hi:
        raise ApiError(400, "invalid_request", f"{name} must be an integer in [{lo}, {hi}]", extra={"field": name})
    return int(raw)


def create_hub_app(storage: HubStorage, keys: HubKeys, *, data_dir: Path, clock: Clock | None = None,
                   max_blob_size: int = MAX_BLOB_SIZE, read_timeout: float = 60.0,
                   limits: HubLimits | None = None, blobs: BlobStore | None = None,
                   city: CityConfig | None = None) -> web.Application:
    """The hub as an aiohttp application; usable in-process (tests, `motcua serve --demo`).

    ``limits`` (connections, unauthenticated requests, deadlines) apply fully when it is served by
    :func:`sync.hub.start_hub`. ``blobs``: the blob store (default: as ``hub.json`` says, see
    :func:`sync.hub.open_blob_store`; the app then closes it at cleanup). ``city``: the city
    connector (default: the ``city`` section of ``hub.json``, if any).
    """
    hub = Hub(storage, keys, data_dir=Path(data_dir), clock=clock or system_clock,
              max_blob_size=max_blob_size, read_timeout=read_timeout, limits=limits or HubLimits(), blobs=blobs,
              city=city if city is not None else load_city_config(Path(data_dir)))
    app = web.Application(middlewares=[hub.middleware], client_max_size=MAX_JSON_BODY,
                          handler_args={"read_bufsize": READ_BUFSIZE})
    app[HUB_KEY] = hub
    app.on_response_prepare.append(hub.add_headers)
    app.cleanup_ctx.append(hub.sweeper)
    app.cleanup_ctx.append(hub.city_delivery)
    r = app.router
    r.add_get("/v1/time", hub.time)
    r.add_post("/v1/enroll", hub.enroll)
    r.add_get("/v1/station", hub.station)
    r.add_post("/v1/keys/rotate", hub.rotate)
    r.add_put("/v1/dossiers/{dossier_id}", hub.put_dossier)
    r.add_get("/v1/dossiers/{dossier_id}", hub.get_dossier, allow_head=False)
    r.add_route("HEAD", "/v1/dossiers/{dossier_id}/blobs/{sha256}", hub.head_blob)
    r.add_patch("/v1/dossiers/{dossier_id}/blobs/{sha256}", hub.patch_blob)
    r.add_post("/v1/dossiers/{dossier_id}/commit", hub.commit)
    r.add_get("/v1/feed", hub.feed, allow_head=False)
    r.add_post("/v1/heartbeat", hub.heartbeat)
    if hub.city is not None:
        r.add_post("/v1/city/status", hub.city_status)
    install_metrics(app, hub, data_dir=Path(data_dir))  # GET /metrics (sync/hub/_metrics.py)
    install_fleet(app, hub)  # the fleet page for IT at /fleet/ (sync/hub/fleet/)
    r.add_post("/v1/update-report", functools.partial(update_report, hub))
    # motcua_station_update_failed: each box's last update report (sync/hub/_rollout.py)
    app[UPDATE_STATUS] = lambda: {u["station_id"]: u["update_failed"] for u in station_updates(storage)}
    from ._relay import add_relay_routes  # sealed transfers brought by another box (§14)

    add_relay_routes(r, hub)
    return app
