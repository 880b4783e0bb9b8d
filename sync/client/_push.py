"""Push: create, resumable chunked upload, commit, verified receipt (docs/sync-protocol.md §6).

Every step is idempotent on the hub, so the box may repeat any of them after any failure. After
a failure the box never trusts its own idea of an offset: it asks the hub (``HEAD``) and resumes
from the offset the hub holds durably.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from edge.outbox import PUSHABLE, Outbox, OutboxState
from sync.errors import ApiError, ProtocolError, SignatureError, TransportError
from sync.protocol import CHUNK_MEDIA_TYPE, H_BLOB_STATE, H_UPLOAD_OFFSET, verify_receipt

from ._backoff import Backoff
from ._bucket import TokenBucket
from ._errors import LocalIntegrityError, ReceiptError, describe_vi, is_transient
from ._manifest import build_manifest, verify_local_blobs
from ._transport import HubTransport

logger = logging.getLogger(__name__)

# Answers that concern the station as a whole, not one dossier: they stop the cycle.
STATION_CODES = frozenset({"station_revoked", "unknown_station", "bad_signature", "unsigned",
                           "unsupported_version"})
MAX_QUICK_RETRIES = 6  # consecutive refusals (offset, checksum) without progress in one attempt
MAX_QUICK_LINK_RETRIES = 3  # consecutive broken connections without progress in one attempt
RECORD_EVERY = 8 * 1024 * 1024  # bytes between two records of a blob's acknowledged offset
BLOBS_PER_DOSSIER = 2  # blobs of one dossier in flight at once (the hub's fsyncs overlap)


class LinkDown(Exception):
    """The hub cannot be reached now: stop this cycle, keep every dossier's progress."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(str(cause))
        self.cause = cause


@dataclass
class PushReport:
    committed: list[str] = field(default_factory=list)
    retry: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    quarantined: list[str] = field(default_factory=list)
    error: BaseException | None = None
    latencies: dict[str, float] = field(default_factory=dict)  # seconds from attempt to receipt


def _offset_of(exc: ApiError) -> int | None:
    value = exc.extra.get("offset")
    if value is None:
        for key, v in exc.headers.items():
            if key.lower() == H_UPLOAD_OFFSET.lower():
                value = v
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


class Pusher:
    def __init__(self, *, store, transport: HubTransport, outbox: Outbox, station_id: str, receipt_key: bytes,
                 chunk_size: int, bucket: TokenBucket, backoff: Backoff, quick_backoff: Backoff | None = None,
                 concurrency: int = 3) -> None:
        self.store = store
        self.transport = transport
        self.outbox = outbox
        self.station_id = station_id
        self.receipt_key = receipt_key
        self.chunk_size = max(16 * 1024, chunk_size)
        self.bucket = bucket
        self.backoff = backoff
        self.quick_backoff = quick_backoff or Backoff(base_seconds=0.1, cap_seconds=3.0)
        self.payload_bytes = 0  # chunk bytes acknowledged by the hub (for benches)
        self.concurrency = concurrency
        # A capped or metered link sends one thing at a time.
        self.blob_concurrency = 1 if concurrency <= 1 else BLOBS_PER_DOSSIER
        # Set when the link broke in this cycle: then one blob per dossier, so that fewer bytes are
        # in flight when it breaks again (they are sent twice).
        self.link_trouble = False

    # --- cycle ---------------------------------------------------------------------------------
    async def push_all(self, *, limit: int = 1000) -> PushReport:
        """Push every due dossier, a few at a time (the hub's fsyncs overlap); stop at a dead link."""
        report = PushReport()
        queue = list(self.outbox.due(max_backoff=self.backoff.cap_seconds, limit=limit))
        queue.reverse()

        async def worker() -> None:
            while queue and report.error is None:
                dossier_id = queue.pop()
                started = time.monotonic()
                try:
                    state = await self.push_one(dossier_id)
                except LinkDown as exc:
                    report.retry.append(dossier_id)
                    report.error = exc.cause
                    return
                if state == OutboxState.COMMITTED:
                    report.latencies[dossier_id] = time.monotonic() - started
                {OutboxState.COMMITTED: report.committed, OutboxState.REJECTED: report.rejected,
                 OutboxState.QUARANTINED: report.quarantined}.get(state, report.retry).append(dossier_id)

        results = await asyncio.gather(*(worker() for _ in range(max(1, self.concurrency))), return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result
        return report

    async def push_one(self, dossier_id: str) -> OutboxState:
        """Take one dossier as far as it goes; returns its new state. Raises LinkDown / station errors."""
        row = self.outbox.row(dossier_id)
        if row is None or row["state"] not in PUSHABLE:
            return OutboxState(row["state"]) if row else OutboxState.SEALED
        try:
            manifest, msha = await asyncio.to_thread(build_manifest, self.store, dossier_id, station_id=self.station_id)
            await self._run(dossier_id, row, manifest, msha)
            return OutboxState.COMMITTED
        except LocalIntegrityError as exc:
            logger.error("dossier %s quarantined: %s", dossier_id, exc)
            error, audit = f"{describe_vi(exc)} [{exc}]", {"reason": str(exc)[:300]}
            await self.store.awrite(lambda conn: self.outbox.quarantine(dossier_id, error=error, audit=audit, conn=conn))
            return OutboxState.QUARANTINED
        except ReceiptError as exc:
            logger.error("dossier %s: receipt refused: %s", dossier_id, exc)
            error, audit = f"{describe_vi(exc)} [receipt_invalid: {exc}]", {"reason": "receipt_invalid"}
            await self.store.awrite(lambda conn: self.outbox.reject(dossier_id, error=error, audit=audit, conn=conn))
            return OutboxState.REJECTED
        except ApiError as exc:
            if exc.code in STATION_CODES:
                raise
            if is_transient(exc):
                await self._retry_later(dossier_id, exc)
                if exc.status >= 500 or exc.status in (408, 429) or exc.code.startswith("http_"):
                    raise LinkDown(exc) from exc
                return OutboxState.RETRY_WAIT
            logger.warning("dossier %s rejected by the hub: %s", dossier_id, exc)
            # Shown to a person: plain Vietnamese first, then the hub's own words.
            error, audit = f"{describe_vi(exc)} [{exc.code}: {exc.detail}]", {"code": exc.code}
            await self.store.awrite(lambda conn: self.outbox.reject(dossier_id, error=error, audit=audit, conn=conn))
            return OutboxState.REJECTED
        except (TransportError, OSError, TimeoutError) as exc:
            await self._retry_later(dossier_id, exc)
            raise LinkDown(exc) from exc

    async def _retry_later(self, dossier_id: str, exc: BaseException) -> None:
        row = self.outbox.row(dossier_id) or {}
        attempts = int(row.get("attempts") or 0) + 1
        wait = self.backoff.delay(attempts, retry_after=getattr(exc, "retry_after", None))
        logger.info("dossier %s: attempt %s failed (%s); next in %.1f s", dossier_id, attempts, exc, wait)
        await self.store.awrite(lambda conn: self.outbox.retry(
            dossier_id, wait_seconds=wait, attempts=attempts, error=f"{describe_vi(exc)} [{exc}]", conn=conn))

    # --- one dossier ---------------------------------------------------------------------------
    async def _run(self, dossier_id: str, row: dict[str, Any], manifest: dict[str, Any], msha: str) -> None:
        blob_shas = [b["sha256"] for b in manifest["blobs"]]
        path = f"/v1/dossiers/{dossier_id}"
        hub_blobs: dict[str, dict[str, Any]] | None = None
        if (row["state"] in (OutboxState.SEALED, OutboxState.RETRY_WAIT)
                or not self.outbox.offsets(row) and row["state"] == OutboxState.CREATED):
            resp = await self.transport.call("PUT", path, json_body=manifest)
            state = resp.json() or {}
            if state.get("state") == "committed" and state.get("receipt"):
                await self._accept_receipt(dossier_id, state["receipt"], msha, blob_shas,
                                           raw=json.dumps(state["receipt"], ensure_ascii=False))
                return
            if row["state"] != OutboxState.CREATED:
                await self.store.awrite(lambda conn: self.outbox.created(dossier_id, conn=conn))
            hub_blobs = {b.get("sha256"): b for b in state.get("blobs", []) if isinstance(b, dict)}
        progress = _Progress()
        for _round in range(3):
            todo = []
            for blob in manifest["blobs"]:
                known = hub_blobs.get(blob["sha256"]) if hub_blobs is not None else None
                if known is not None and known.get("complete"):
                    continue
                todo.append((blob, int(known["offset"]) if known is not None and "offset" in known else None))
            await self._upload_blobs(dossier_id, todo, progress)
            try:
                resp = await self.transport.call("POST", f"{path}/commit", json_body={"manifest_sha256": msha})
            except ApiError as exc:
                if exc.code == "blobs_incomplete":
                    logger.warning("dossier %s: hub says blobs incomplete: %s", dossier_id, exc.extra.get("missing"))
                    hub_blobs = None  # ask the hub again
                    continue
                raise
            await self._accept_receipt(dossier_id, resp.json(), msha, blob_shas, raw=resp.body.decode("utf-8"))
            return
        raise ApiError(409, "blobs_incomplete", "hub still reports incomplete blobs after re-upload", retryable=True)

    async def _upload_blobs(self, dossier_id: str, todo: list[tuple[dict[str, Any], int | None]],
                            progress: _Progress) -> None:
        """Upload these blobs, a few at once; the first failure stops the others (they resume later)."""
        if self.blob_concurrency <= 1 or len(todo) <= 1 or self.link_trouble:
            for blob, start in todo:
                await self._upload_blob(dossier_id, blob, start, progress)
            return
        slots = asyncio.Semaphore(self.blob_concurrency)

        async def one(blob: dict[str, Any], start: int | None) -> None:
            async with slots:
                await self._upload_blob(dossier_id, blob, start, progress)

        try:
            async with asyncio.TaskGroup() as group:
                for blob, start in todo:
                    group.create_task(one(blob, start))
        except BaseExceptionGroup as group_error:
            raise _first_error(group_error) from None

    async def _accept_receipt(self, dossier_id: str, answer: Any, msha: str, blob_shas: list[str], *,
                              raw: str) -> None:
        try:
            receipt = verify_receipt(answer, self.receipt_key, dossier_id=dossier_id, manifest_sha256=msha,
                                     blobs=blob_shas)
        except (SignatureError, ProtocolError) as exc:
            raise ReceiptError(f"receipt for {dossier_id} refused: {exc}",
                               message_vi="Biên nhận của thành phố không hợp lệ (sai chữ ký); cần bộ phận CNTT kiểm tra.") from exc
        await self.store.awrite(lambda conn: self.outbox.commit(
            dossier_id, receipt=raw, committed_at=receipt["committed_at"], conn=conn,
            audit={"hub_seq": receipt["hub_seq"], "receipt_key": receipt["key_id"]}))
        logger.info("dossier %s committed at the hub (seq %s)", dossier_id, receipt["hub_seq"])

    async def _head(self, dossier_id: str, sha: str) -> tuple[int, bool]:
        resp = await self.transport.call("HEAD", f"/v1/dossiers/{dossier_id}/blobs/{sha}")
        offset = int(resp.header(H_UPLOAD_OFFSET) or 0)
        return offset, (resp.header(H_BLOB_STATE) or "") == "complete"

    async def _upload_blob(self, dossier_id: str, blob: dict[str, Any], start: int | None,
                           progress: _Progress) -> None:
        sha, size = blob["sha256"], int(blob["size"])
        path = f"/v1/dossiers/{dossier_id}/blobs/{sha}"
        offset = start
        failures = 0
        hash_failures = 0
        file_path = self.store.blobs.path(sha)
        recorded = 0
        while True:
            whole = False
            try:
                if offset is None:
                    offset, complete = await self._head(dossier_id, sha)
                    if complete:
                        await self.store.awrite(lambda conn: self.outbox.uploaded(dossier_id, sha, size, conn=conn))
                        return
                if offset >= size:
                    return
                remaining = size - offset
                # A tail of a few bytes (a page's header and tags) rides with the last chunk.
                n = remaining if remaining <= self.chunk_size + self.chunk_size // 8 else self.chunk_size
                # A chunk that is the whole blob has the blob's id as its checksum: no hashing here.
                # Should the page file not match its name, the hub answers checksum_mismatch and
                # the file is checked below (the dossier is quarantined if it is altered).
                whole = offset == 0 and n == size
                data, digest = await asyncio.to_thread(_read_range, file_path, offset, n, None if whole else "sha256")
                if len(data) != n:
                    raise LocalIntegrityError(f"page blob {sha[:12]}… is shorter than its manifest size",
                                              message_vi="Một trang tài liệu của hồ sơ bị hỏng trên trạm.")
                digest = digest or sha
                headers = {"Content-Type": CHUNK_MEDIA_TYPE, H_UPLOAD_OFFSET: str(offset)}
                if self.bucket.unlimited:
                    resp = await self.transport.call("PATCH", path, body=data, headers=headers, content_sha256=digest)
                else:
                    resp = await self.transport.call(
                        "PATCH", path, stream=lambda data=data: self.bucket.pace([data]), content_sha256=digest,
                        content_length=len(data), headers=headers)
                    self.transport.bytes_sent += len(data)
                del data
                new_offset = int(resp.header(H_UPLOAD_OFFSET) or offset + n)
                self.payload_bytes += max(0, new_offset - offset)
                offset = new_offset
                failures = 0
                done = (resp.header(H_BLOB_STATE) or "") == "complete" or offset >= size
                # Informational (after a failure the hub is asked again): the first blob done moves
                # the dossier to ``uploading``; then only every RECORD_EVERY bytes of a long blob.
                if (done and not progress.recorded) or offset - recorded >= RECORD_EVERY:
                    await self.store.awrite(lambda conn, offset=offset: self.outbox.uploaded(dossier_id, sha, offset, conn=conn))
                    recorded = offset
                    progress.recorded = True
                if done:
                    return
            except ApiError as exc:
                if exc.code in ("offset_mismatch", "upload_locked"):
                    hub_offset = _offset_of(exc)
                    failures += 1
                    if failures > MAX_QUICK_RETRIES:
                        raise
                    if exc.code == "upload_locked":
                        await asyncio.sleep(self.quick_backoff.delay(failures))
                    offset = hub_offset  # None → HEAD
                    continue
                if exc.code == "checksum_mismatch":
                    if whole:  # sent under the blob's id: is the page file still what it was?
                        await asyncio.to_thread(verify_local_blobs, self.store, [blob])  # quarantines if ours is bad
                    failures += 1
                    if failures > MAX_QUICK_RETRIES:
                        raise
                    offset = None
                    continue
                if exc.code == "blob_hash_mismatch":
                    hash_failures += 1
                    await asyncio.to_thread(verify_local_blobs, self.store, [blob])  # quarantines if ours is bad
                    if hash_failures > 2:
                        raise
                    offset = 0
                    continue
                if is_transient(exc) and exc.code not in ("clock_skew",) and failures < MAX_QUICK_RETRIES:
                    failures += 1
                    await asyncio.sleep(self.quick_backoff.delay(failures, retry_after=getattr(exc, "retry_after", None)))
                    offset = None
                    continue
                raise
            except TransportError:
                # The link broke mid-chunk: the hub keeps what it received; ask and resume.
                self.link_trouble = True
                failures += 1
                if failures > MAX_QUICK_LINK_RETRIES:
                    raise
                await asyncio.sleep(self.quick_backoff.delay(failures))
                offset = None


@dataclass
class _Progress:
    """One dossier's upload in this attempt."""

    recorded: bool = False  # its offsets were recorded once (state ``uploading``)


def _first_error(group: BaseExceptionGroup) -> BaseException:
    """The exception a sequential upload would have raised: the first that is not a cancellation."""
    for exc in group.exceptions:
        if isinstance(exc, BaseExceptionGroup):
            exc = _first_error(exc)
        if not isinstance(exc, asyncio.CancelledError):
            return exc
    return group.exceptions[0]


def _read_range(path, offset: int, n: int, hash_name: str | None) -> tuple[bytes, str | None]:
    """(thread) ``n`` bytes of a page file from ``offset``, and their hash when asked."""
    with open(path, "rb") as fh:
        fh.seek(offset)
        data = fh.read(n)
    return data, hashlib.new(hash_name, data).hexdigest() if hash_name else None
