"""``SyncClient``: the box's reconciler with the city hub, run inside ``motcua serve``.

Metered-link mode (``sync.metered``): dossiers still leave the box at once (they are the reason
the link exists, and each is pushed only once), but heartbeats and pulls happen four times less
often, a heartbeat never triggers a pull, and feed pages are small. Status changes, accounts and
catalogs then arrive a little later; nothing is lost, the checkpoint only waits.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import random
from collections.abc import Awaitable, Callable
from typing import Any

from edge.outbox import Outbox, iso, parse_iso
from edge.outbox import shred as shred_with_outbox
from sync.errors import ApiError, ProtocolError, SignatureError, SyncError, TransportError

from ._backoff import Backoff
from ._bucket import TokenBucket
from ._clock import SKEW_ENV, HubClock, os_time
from ._enroll import receipt_key_of
from ._errors import NotEnrolledError, SyncLockedError, describe_vi
from ._feed import FeedApplier, PullReport, pull, record_command
from ._health import ErrorCounts, device_summary, disk_total_bytes
from ._push import Pusher, PushReport
from ._retention import RetentionReport, disk_free_mb, run_retention
from ._scheduler import JobSpec, SyncScheduler
from ._state import ClientState, asave_clock, load_clock
from ._status import DossierSyncState, SyncStatus
from ._transport import HubTransport, Identity

logger = logging.getLogger(__name__)

METERED_FACTOR = 4


class SyncClient:
    """Push, pull, heartbeat, retention and WAL checkpoints for one store."""

    def __init__(self, *, settings, store, rng: random.Random | None = None,
                 devices: Any = None) -> None:
        self.settings = settings
        self.store = store
        self.cfg = settings.sync
        if os.environ.get(SKEW_ENV):  # a box whose clock is off (tests, demonstrations)
            store.clock.wall = os_time
        self.state = ClientState(store)
        self.clock = HubClock(load_clock(store), wall=store.clock.wall)
        self.outbox = Outbox(store, now=self.clock.now)
        self.backoff = Backoff(base_seconds=2.0, cap_seconds=900.0, rng=rng)
        self.bucket = TokenBucket.from_kbps(self.cfg.bandwidth_limit_kbps)
        self._transport: HubTransport | None = None
        self._scheduler: SyncScheduler | None = None
        self._kick_event: asyncio.Event | None = None
        self._kicker: asyncio.Task | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._push_lock = asyncio.Lock()
        self._pull_lock = asyncio.Lock()
        self._link_ok = True
        self._kick_all = False
        self._disk_alarm = False
        self.last_push: PushReport | None = None
        self.last_pull: PullReport | None = None
        self.last_retention: RetentionReport | None = None
        self.devices = devices  # a DeviceManager (its snapshot()): each kind's worst state goes in the heartbeat
        self.errors = ErrorCounts()  # failed calls by error code, for the heartbeat

    # --- identity ------------------------------------------------------------------------------
    @property
    def hub_url(self) -> str:
        return self.state.get("sync.hub_url") or self.cfg.hub_url

    @property
    def station_id(self) -> str:
        return self.state.get("sync.station_id")

    @property
    def enrolled(self) -> bool:
        return bool(self.station_id and self.hub_url and self.state.get("sync.receipt_key"))

    @property
    def locked(self) -> str:
        return self.state.get("sync.locked")

    def require_ready(self) -> None:
        """Raise a clear error unless this box is enrolled and sync is not locked (revoked, retired)."""
        if self.locked:
            raise SyncLockedError(f"sync is locked on this box ({self.locked}): {self.state.get('sync.lock_reason')}",
                                  message_vi=self._lock_reason_vi())
        if not self.enrolled:
            raise NotEnrolledError()

    def transport(self) -> HubTransport:
        if self._transport is None:
            self.require_ready()
            ca = self.state.get("sync.ca_file") or self.cfg.ca_file or None
            self._transport = HubTransport(
                self.hub_url, ca_file=ca, clock=self.clock, timeout_seconds=self.cfg.request_timeout_seconds,
                identity=Identity(station_id=self.station_id, key=self.store.station_signing_key()),
                on_clock=lambda clock: asave_clock(self.store, clock))
        return self._transport

    # --- life cycle ----------------------------------------------------------------------------
    async def start(self) -> None:
        """Start the scheduled jobs (push, pull, heartbeat, retention, WAL checkpoint)."""
        self._loop = asyncio.get_running_loop()
        self._kick_event = asyncio.Event()
        factor = METERED_FACTOR if self.cfg.metered else 1
        jobs = [
            JobSpec(name="push", interval=self.cfg.push_interval_seconds, run=self._job_push, first_delay=2),
            JobSpec(name="pull", interval=self.cfg.pull_interval_seconds * factor, run=self._job_pull, first_delay=4),
            JobSpec(name="heartbeat", interval=self.cfg.heartbeat_interval_seconds * factor, run=self._job_heartbeat,
                    first_delay=1),
            JobSpec(name="retention", interval=3600, run=self._job_retention, first_delay=30),
            JobSpec(name="wal_checkpoint", interval=900, run=self._job_checkpoint, first_delay=60),
        ]
        self._scheduler = SyncScheduler(jobs, wall=self.store.clock.wall)
        self._scheduler.start()
        self._kicker = self._loop.create_task(self._kick_loop(), name="sync-kick")

    async def stop(self) -> None:
        if self._kicker is not None:
            self._kicker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._kicker
            self._kicker = None
        if self._scheduler is not None:
            await self._scheduler.stop()
            self._scheduler = None
        if self._transport is not None:
            await self._transport.close()
            self._transport = None

    async def __aenter__(self) -> SyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def scheduler(self) -> SyncScheduler | None:
        return self._scheduler

    def kick(self, *, ignore_backoff: bool = False) -> None:
        """Ask for a push soon (after a finalize, or when the network returns). Thread-safe.

        ``ignore_backoff``: dossiers waiting out a backoff go too (the network just came back).
        """
        if ignore_backoff:
            self._kick_all = True
        loop, event = self._loop, self._kick_event
        if loop is None or event is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            event.set()
        else:
            loop.call_soon_threadsafe(event.set)

    async def _kick_loop(self) -> None:
        assert self._kick_event is not None
        while True:
            await self._kick_event.wait()
            await asyncio.sleep(0.3)  # debounce a burst of finalizes
            self._kick_event.clear()
            everything, self._kick_all = self._kick_all, False
            try:
                await self.push(ignore_backoff=everything)
            except SyncError as exc:
                logger.info("kicked push did not run: %s", exc)

    # --- jobs ----------------------------------------------------------------------------------
    @staticmethod
    async def _quiet(what: str, run: Callable[[], Awaitable[Any]]) -> None:
        """A scheduled run: not enrolled or locked is normal; any other failure is in the status
        already and the next run retries it."""
        try:
            await run()
        except (NotEnrolledError, SyncLockedError):
            pass
        except SyncError as exc:
            logger.info("sync %s failed: %s", what, exc)

    async def _job_push(self) -> None:
        await self._quiet("push", self.push)

    async def _job_pull(self) -> None:
        await self._quiet("pull", self.pull)

    async def _job_heartbeat(self) -> None:
        await self._quiet("heartbeat", self.heartbeat)

    async def _job_retention(self) -> None:
        await asyncio.to_thread(self.retention)

    async def _job_checkpoint(self) -> None:
        await asyncio.to_thread(self.store.checkpoint)

    # --- one cycle -----------------------------------------------------------------------------
    async def sync_once(self) -> SyncStatus:
        """One push then one pull (and any command they bring); returns the status after it."""
        self.require_ready()
        try:
            if not self.clock.anchored:
                with contextlib.suppress(TransportError, ApiError):
                    await self.transport().call("GET", "/v1/time", signed=False)
            await self.push(ignore_backoff=True)
            await self.pull()
        finally:
            if self._scheduler is None and self._transport is not None:
                await self._transport.close()
                self._transport = None
        return self.status()

    async def push(self, *, ignore_backoff: bool = False) -> PushReport:
        self.require_ready()
        async with self._push_lock:
            if ignore_backoff:
                await self.outbox.arelease_backoff()
            pusher = self._pusher()
            await self._mark_attempt()
            try:
                report = await pusher.push_all()
            except ApiError as exc:  # a station-level refusal
                await self._station_refused(exc)
                raise
            self.last_push = report
            if report.error is not None:
                await self._link_failed(report.error)
            elif report.committed or report.rejected or report.retry:
                await self._link_succeeded()  # the hub answered (nothing due proves nothing)
            return report

    def _pusher(self) -> Pusher:
        receipt_key = receipt_key_of(self.store)
        assert receipt_key is not None
        chunk = self.cfg.chunk_size_kb * 1024
        if not self.bucket.unlimited:
            # A chunk must go through within the request timeout at the capped rate.
            chunk = max(16 * 1024, min(chunk, int(self.bucket.rate * self.cfg.request_timeout_seconds / 2)))
        return Pusher(store=self.store, transport=self.transport(), outbox=self.outbox, station_id=self.station_id,
                      receipt_key=receipt_key, chunk_size=chunk, bucket=self.bucket, backoff=self.backoff,
                      concurrency=1 if (self.cfg.metered or not self.bucket.unlimited) else 4)

    async def pull(self) -> PullReport:
        self.require_ready()
        async with self._pull_lock:
            applier = FeedApplier(self.store, station_id=self.station_id, receipt_key=receipt_key_of(self.store),
                                  now=self.clock.now)
            await self._mark_attempt()
            try:
                report = await pull(self.store, self.transport(), applier, limit=50 if self.cfg.metered else 500)
            except ApiError as exc:
                await self._station_refused(exc)
                await self._link_failed(exc)
                raise
            except (TransportError, ProtocolError) as exc:
                await self._link_failed(exc)
                raise
            self.last_pull = report
            await self._link_succeeded()
            await self.obey_commands()
            return report

    async def heartbeat(self) -> dict[str, Any]:
        self.require_ready()
        oldest = parse_iso(self.outbox.oldest_unsynced_created())
        free = disk_free_mb(self.store.root)
        body = {
            "pending": self.outbox.pending(),
            "oldest_unsynced_age_s": None if oldest is None else max(0, int(self.clock.now() - oldest)),
            "disk_free_bytes": None if free is None else int(free * 1024 * 1024),
            "versions": {"motcua": _version()},
            "feed_seq": int(self.state.get("sync.feed_since") or 0),
            "clock_offset_ms": round(self.clock.state.offset * 1000),
            "disk_total_bytes": disk_total_bytes(self.store.root),
            "sync_errors": self.errors.snapshot(),
        }
        if self.devices is not None:
            body["devices"] = device_summary(self.devices.snapshot())
        warnings = [w.code for w in self.guardrail_warnings()]
        if warnings:  # only then: a hub older than the field is still answered by a quiet box
            body["warnings"] = warnings
        try:
            resp = await self.transport().call("POST", "/v1/heartbeat", json_body=body)
        except ApiError as exc:
            await self._station_refused(exc)
            await self._link_failed(exc)
            raise
        except TransportError as exc:
            await self._link_failed(exc)
            raise
        was_down = not self._link_ok
        await self._link_succeeded()
        answer = resp.json() or {}
        if was_down:
            logger.info("hub reachable again: pushing now")
            self.kick(ignore_backoff=True)
        head = answer.get("feed_head")
        if (not self.cfg.metered and isinstance(head, int) and head > body["feed_seq"]
                and not self._pull_lock.locked()):
            with contextlib.suppress(SyncError):
                await self.pull()
        return answer

    def retention(self) -> RetentionReport:
        report = run_retention(self.store, retention_days=self.cfg.retention_days,
                               alarm_free_mb=self.settings.store.disk_alarm_free_mb,
                               receipt_key=receipt_key_of(self.store), now=self.clock.now(),
                               was_alarm=self._disk_alarm)
        self._disk_alarm = report.disk_alarm
        self.last_retention = report
        return report

    # --- commands and refusals -----------------------------------------------------------------
    async def _station_refused(self, exc: ApiError) -> None:
        """403 station_revoked carries the signed wipe command: record and obey it."""
        if exc.code == "station_revoked":
            signed = exc.extra.get("command")
            receipt_key = receipt_key_of(self.store)

            def revoked(conn) -> None:
                ClientState.set_many(conn, {"sync.locked": "revoked",
                                            "sync.lock_reason": exc.detail or "station revoked by the city"})
                if signed is not None:
                    try:
                        record_command(self.store, conn, signed, station_id=self.station_id,
                                       receipt_key=receipt_key)
                    except (SignatureError, ProtocolError) as bad:
                        logger.error("refusal carried a command that does not verify: %s", bad)
                self.store.audit("sync.revoked", actor="hub", details={"code": exc.code})

            await self.store.awrite(revoked)
            await self.obey_commands()
        await self._record_error(exc)

    async def obey_commands(self) -> list[str]:
        """Carry out verified commands not yet done (each ``command_id`` once)."""
        done = []
        for row in self.store.query("SELECT command_id, kind FROM sync_commands WHERE state = 'pending' ORDER BY received_at"):
            kind = row["kind"]
            if kind == "wipe":
                await asyncio.to_thread(self.wipe, reason=f"command:{row['command_id']}")
            elif kind == "resync":
                await self.state.aset("sync.feed_since", "0")
            elif kind == "rotate_key":
                logger.warning("rotate_key command received: key rotation is done by IT with a new enrollment")

            def done_now(conn, command_id=row["command_id"], kind=kind) -> None:
                conn.execute("UPDATE sync_commands SET state = 'done', done_at = ? WHERE command_id = ?",
                             (iso(self.clock.now()), command_id))
                self.store.audit("sync.command_done", actor="sync", details={"command_id": command_id, "kind": kind})

            await self.store.awrite(done_now)
            done.append(row["command_id"])
        return done

    def wipe(self, *, reason: str) -> int:
        """Crypto-shred every dossier on this box and lock sync (the city's wipe command)."""
        ids = [r["id"] for r in self.store.query("SELECT id FROM dossiers WHERE status != 'shredded'")]
        for dossier_id in ids:
            shred_with_outbox(self.store, dossier_id, actor="hub", reason=reason, force=True, checkpoint=False)

        def wiped(conn) -> None:
            conn.execute("DELETE FROM sync_manifests")
            ClientState.set_many(conn, {"sync.locked": "wiped", "sync.lock_reason": reason})
            self.store.audit("sync.wipe", actor="hub", details={"dossiers": len(ids), "reason": reason})

        self.store.write(wiped)
        # One checkpoint for the whole wipe: the WAL must lose every page image of what was shredded.
        if self.store.checkpoint():
            logger.warning("wipe obeyed: %s dossier(s) crypto-shredded, sync locked", len(ids))
        else:
            logger.warning("wipe obeyed: %s dossier(s) crypto-shredded, sync locked; the WAL checkpoint is pending "
                           "(another connection is reading) and completes at the next checkpoint or start", len(ids))
        return len(ids)

    # --- bookkeeping ---------------------------------------------------------------------------
    async def _mark_attempt(self) -> None:
        await self.state.aset("sync.last_attempt_at", iso(self.clock.now()))

    async def _link_failed(self, exc: BaseException) -> None:
        self._link_ok = False
        await self._record_error(exc)

    async def _record_error(self, exc: BaseException) -> None:
        self.errors.add(exc)
        await self.state.aset_many({"sync.last_error": str(exc)[:500], "sync.last_error_vi": describe_vi(exc),
                                    "sync.last_error_at": iso(self.clock.now())})

    async def _link_succeeded(self) -> None:
        self._link_ok = True
        await self.state.aset_many({"sync.last_success_at": iso(self.clock.now()), "sync.last_error": "",
                                    "sync.last_error_vi": ""})

    def _lock_reason_vi(self) -> str:
        if self.locked == "wiped":
            return "Trạm đã bị thành phố thu hồi; mọi hồ sơ trên trạm đã được xoá an toàn theo lệnh. Liên hệ bộ phận CNTT."
        return "Trạm đã bị thành phố thu hồi quyền đồng bộ. Liên hệ bộ phận CNTT."

    # --- status --------------------------------------------------------------------------------
    def status(self, *, dossier_limit: int = 200) -> SyncStatus:
        rows = self.store.query(
            """SELECT o.*, d.code, d.city_status, json_extract(o.receipt, '$.receipt.hub_seq') AS hub_seq
               FROM outbox o JOIN dossiers d ON d.id = o.dossier_id
               ORDER BY d.counter DESC LIMIT ?""", (dossier_limit,))
        dossiers = []
        for r in rows:
            r = dict(r)
            r["receipt_id"] = None if r.get("hub_seq") is None else f"hub-seq-{r['hub_seq']}"
            dossiers.append(DossierSyncState.from_row(r))
        counts = self.outbox.counts()
        oldest = parse_iso(self.outbox.oldest_unsynced_created())
        free = disk_free_mb(self.store.root)
        alarm = free is not None and free < self.settings.store.disk_alarm_free_mb
        last_error_vi = self.state.get("sync.last_error_vi") or None
        rejected = counts.get("rejected", 0)
        quarantined = counts.get("quarantined", 0)
        if not last_error_vi and rejected:
            last_error_vi = f"{rejected} hồ sơ bị thành phố từ chối; cần cán bộ xem và xử lý."
        if alarm:
            last_error_vi = (f"Ổ đĩa của trạm sắp đầy (còn {free:.0f} MB). " + (last_error_vi or "")).strip()
        return SyncStatus(
            enrolled=self.enrolled, locked=bool(self.locked),
            lock_reason_vi=self._lock_reason_vi() if self.locked else None,
            hub_url=self.hub_url or None, station_id=self.station_id or None,
            pending=self.outbox.pending(),
            oldest_unsynced_age_seconds=None if oldest is None else max(0.0, round(self.clock.now() - oldest, 1)),
            last_success_at=self.state.get("sync.last_success_at") or None,
            last_attempt_at=self.state.get("sync.last_attempt_at") or None,
            last_error=self.state.get("sync.last_error") or None,
            last_error_vi=last_error_vi, online=self._link_ok and bool(self.state.get("sync.last_success_at")),
            rejected=rejected, quarantined=quarantined,
            clock_offset_seconds=round(self.clock.state.offset, 3), clock_anchored=self.clock.anchored,
            feed_since=int(self.state.get("sync.feed_since") or 0),
            disk_free_mb=None if free is None else round(free, 1), disk_alarm=alarm, metered=self.cfg.metered,
            counts=counts, dossiers=tuple(dossiers),
            warnings=tuple(w.to_dict() for w in self.guardrail_warnings()))

    def guardrail_warnings(self) -> list:
        """The site's offline guardrails (``[guardrails]``) now."""
        from ._guardrails import warnings

        return warnings(self.store, self.settings.guardrails, now=self.clock.now())

    def retry_rejected(self, dossier_id: str, *, actor: str) -> None:
        """A person looked at a rejected/quarantined dossier and asks to send it again (blocks
        until written: from the event loop, use :meth:`aretry_rejected`)."""
        self.outbox.person_retry(dossier_id, actor=actor)

    async def aretry_rejected(self, dossier_id: str, *, actor: str) -> None:
        await self.store.awrite(lambda conn: self.outbox.person_retry(dossier_id, actor=actor, conn=conn))


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("motcua")
    except Exception:
        return "0"


def status_json(status: SyncStatus) -> str:
    return json.dumps(status.to_dict(), ensure_ascii=False, indent=1, default=str)
