"""The SQL implementation shared by the SQLite and PostgreSQL backends.

Statements are written with ``?`` placeholders; a backend translates them. Dedup is enforced by
unique constraints (dossier id, agency + code, station + nonce, feed seq, agency + partition).
Feed appends take a row lock on their counter until commit, so seq order is commit order.
"""

from __future__ import annotations

import abc
import json
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sync.errors import ApiError, HubError
from sync.protocol import DOSSIER_STATUSES, FeedType, Manifest, StationImport, ms_to_rfc3339

from . import _fleet as fleet
from . import _partitions as parts
from . import _rollouts as rollouts
from .base import (
    DEFAULT_PARTITION_SIZE,
    Admission,
    AdmissionCheck,
    BlobRow,
    BlobTarget,
    CommandBuilder,
    DossierRecord,
    FeedRow,
    HubStorage,
    NewStation,
    OutboxEvent,
    ReceiptBuilder,
    StationRecord,
)

logger = logging.getLogger(__name__)

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS hub_counters (
        name TEXT PRIMARY KEY,
        value BIGINT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS stations (
        station_id TEXT PRIMARY KEY,
        agency_code TEXT NOT NULL,
        name TEXT NOT NULL DEFAULT '',
        kind TEXT NOT NULL,
        address TEXT NOT NULL DEFAULT '',
        partition_index INTEGER NOT NULL,
        partition_size INTEGER NOT NULL,
        public_key TEXT,
        key_id TEXT,
        enrolled_at BIGINT,
        token_sha256 TEXT,
        token_issued_at BIGINT,
        token_expires_at BIGINT,
        token_used_at BIGINT,
        revoked_at BIGINT,
        revoke_reason TEXT NOT NULL DEFAULT '',
        wipe_command TEXT,
        last_seen_at BIGINT,
        last_heartbeat TEXT,
        created_at BIGINT NOT NULL,
        UNIQUE (agency_code, partition_index))""",
    """CREATE TABLE IF NOT EXISTS nonces (
        station_id TEXT NOT NULL,
        nonce TEXT NOT NULL,
        expires_at BIGINT NOT NULL,
        PRIMARY KEY (station_id, nonce))""",
    "CREATE INDEX IF NOT EXISTS nonces_expiry ON nonces (expires_at)",
    """CREATE TABLE IF NOT EXISTS dossiers (
        dossier_id TEXT PRIMARY KEY,
        station_id TEXT NOT NULL REFERENCES stations (station_id),
        agency_code TEXT NOT NULL,
        code TEXT NOT NULL,
        procedure_code TEXT NOT NULL,
        manifest TEXT NOT NULL,
        manifest_sha256 TEXT NOT NULL,
        state TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        committed_at BIGINT,
        hub_seq BIGINT UNIQUE,
        receipt TEXT,
        status INTEGER,
        status_changed_at BIGINT,
        UNIQUE (agency_code, code))""",
    """CREATE TABLE IF NOT EXISTS dossier_blobs (
        dossier_id TEXT NOT NULL REFERENCES dossiers (dossier_id),
        idx INTEGER NOT NULL,
        sha256 TEXT NOT NULL,
        size BIGINT NOT NULL,
        component TEXT NOT NULL,
        media_type TEXT NOT NULL,
        PRIMARY KEY (dossier_id, idx),
        UNIQUE (dossier_id, sha256))""",
    "CREATE INDEX IF NOT EXISTS dossier_blobs_sha ON dossier_blobs (sha256)",
    """CREATE TABLE IF NOT EXISTS blobs (
        sha256 TEXT PRIMARY KEY,
        size BIGINT NOT NULL,
        completed_at BIGINT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS feed (
        seq BIGINT PRIMARY KEY,
        type TEXT NOT NULL,
        station_id TEXT,
        agency_code TEXT,
        data TEXT NOT NULL,
        created_at BIGINT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS feed_station ON feed (station_id, seq)",
    "INSERT INTO hub_counters (name, value) VALUES ('feed', 0) ON CONFLICT (name) DO NOTHING",
    "INSERT INTO hub_counters (name, value) VALUES ('receipt', 0) ON CONFLICT (name) DO NOTHING",
    *parts.SCHEMA,
    *fleet.SCHEMA,
    # What happened at the counter, one row per dossier created since this step (a dossier
    # without a row was received): the city counts refusals and requests to supplement, and
    # links a completed dossier to the request it completes (docs/sync-protocol.md §6.1).
    """CREATE TABLE IF NOT EXISTS dossier_outcomes (
        dossier_id TEXT PRIMARY KEY REFERENCES dossiers (dossier_id),
        agency_code TEXT NOT NULL,
        outcome TEXT NOT NULL,
        supplement_of TEXT NOT NULL DEFAULT '',
        code_day TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS dossier_outcomes_agency ON dossier_outcomes (agency_code, code_day)",
    *rollouts.SCHEMA,
    # The city connector's outbox (docs/city-connector.md): one event per committed dossier,
    # written in the commit's transaction, kept until the city system acknowledged it.
    """CREATE TABLE IF NOT EXISTS city_outbox (
        event_id TEXT PRIMARY KEY,
        dossier_id TEXT NOT NULL UNIQUE,
        event TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at BIGINT NOT NULL,
        claimed_until BIGINT NOT NULL DEFAULT 0,
        last_error TEXT NOT NULL DEFAULT '',
        delivered_at BIGINT)""",
    "CREATE INDEX IF NOT EXISTS city_outbox_due ON city_outbox (delivered_at, next_attempt_at)",
    # Upload locks shared by the workers when blobs are in S3 (their landing zones are apart).
    """CREATE TABLE IF NOT EXISTS blob_leases (
        sha256 TEXT PRIMARY KEY,
        holder TEXT NOT NULL,
        until_ms BIGINT NOT NULL)""",
)

_STATION_COLS = ("station_id, agency_code, name, kind, address, partition_index, partition_size, "
                 "public_key, key_id, enrolled_at, token_sha256, token_expires_at, token_used_at, "
                 "revoked_at, revoke_reason, wipe_command, last_seen_at, last_heartbeat, created_at")
_DOSSIER_COLS = ("dossier_id, station_id, agency_code, code, procedure_code, manifest, "
                 "manifest_sha256, state, created_at, committed_at, hub_seq, receipt, status, "
                 "status_changed_at")


class Tx(abc.ABC):
    """A cursor inside one transaction."""

    @abc.abstractmethod
    def all(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]: ...

    @abc.abstractmethod
    def run(self, sql: str, params: Sequence[Any] = ()) -> int: ...

    def one(self, sql: str, params: Sequence[Any] = ()) -> tuple | None:
        rows = self.all(sql, params)
        return rows[0] if rows else None


_OUTBOX_COLS = "event_id, dossier_id, event, created_at, attempts, next_attempt_at, last_error, delivered_at"


def _outbox(row: tuple) -> OutboxEvent:
    event_id, dossier_id, event, created, attempts, nxt, error, delivered = row
    return OutboxEvent(event_id=event_id, dossier_id=dossier_id, event=json.loads(event), created_at=created,
                       attempts=attempts, next_attempt_at=nxt, last_error=error or "", delivered_at=delivered)


def city_event(d: DossierRecord, *, hub_seq: int, committed_at: int) -> dict[str, Any]:
    """The outbound event of a committed dossier: metadata only (the personal data stay sealed)."""
    m = d.manifest
    return {"type": "motcua.dossier.committed.v1", "event_id": f"dossier-committed:{d.dossier_id}",
            "dossier_id": d.dossier_id, "code": d.code, "agency_code": d.agency_code, "station_id": d.station_id,
            "procedure_code": d.procedure_code, "received_at": m.get("received_at"), "due_at": m.get("due_at"),
            "committed_at": ms_to_rfc3339(committed_at), "hub_seq": hub_seq, "manifest_sha256": d.manifest_sha256,
            "blobs": [{"index": b.index, "sha256": b.sha256, "size": b.size, "component": b.component,
                       "media_type": b.media_type} for b in d.blobs]}


def _json(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _dump(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _station(row: tuple) -> StationRecord:
    import base64

    (sid, agency, name, kind, address, pidx, psize, pub, kid, enrolled, token, token_exp, token_used,
     revoked, reason, wipe, seen, heartbeat, created) = row
    return StationRecord(
        station_id=sid, agency_code=agency, name=name, kind=kind, address=address,
        partition_index=pidx, partition_size=psize,
        public_key=base64.b64decode(pub) if pub else None, key_id=kid, enrolled_at=enrolled,
        revoked_at=revoked, revoke_reason=reason or "", wipe_command=_json(wipe),
        token_expires_at=token_exp, token_pending=bool(token) and token_used is None,
        last_seen_at=seen, last_heartbeat=_json(heartbeat), created_at=created)


class SqlStorage(fleet.FleetSql, HubStorage):
    """Common logic; subclasses provide connections, transactions and the dialect."""

    for_update = ""
    contains = "instr(data, ?) > 0"  # the dialect's "data holds this text"
    integrity_errors: tuple[type[BaseException], ...] = ()

    @abc.abstractmethod
    @contextmanager
    def _tx(self) -> Iterator[Tx]: ...

    def setup(self) -> None:
        with self._tx() as tx:
            for statement in SCHEMA:
                tx.run(statement)

    # --- stations -----------------------------------------------------------------------------

    def _get_station(self, tx: Tx, station_id: str, *, lock: bool = False) -> StationRecord | None:
        row = tx.one(f"SELECT {_STATION_COLS} FROM stations WHERE station_id = ?"
                     + (self.for_update if lock else ""), (station_id,))
        return _station(row) if row else None

    def get_station(self, station_id: str) -> StationRecord | None:
        with self._tx() as tx:
            return self._get_station(tx, station_id)

    def list_stations(self) -> list[StationRecord]:
        with self._tx() as tx:
            return [_station(r) for r in tx.all(f"SELECT {_STATION_COLS} FROM stations ORDER BY station_id")]

    def _lock_agency(self, tx: Tx, agency: str) -> None:
        """Serialise partition changes of one agency (SQLite transactions are serial already)."""

    def _put_station(self, tx: Tx, st: NewStation, *, token_sha256: str, token_expires_at: int, now: int) -> bool:
        """Insert or re-token a station; returns True if created.

        Re-tokening an enrolled station prepares a replacement box: it is promised a NEW partition
        (``pending_partitions``), taken over when it enrolls; the old box keeps its own meanwhile.
        """
        self._lock_agency(tx, st.agency_code)
        existing = self._get_station(tx, st.station_id, lock=True)
        if existing is not None:
            if existing.agency_code != st.agency_code:
                raise ApiError(409, "already_enrolled", f"station {st.station_id} exists under agency "
                               f"{existing.agency_code}, not {st.agency_code}")
            size = st.partition_size or existing.partition_size
            if existing.public_key is not None:
                self._promise_partition(tx, existing, st.partition_index, size, now=now)
            elif st.partition_index is not None and (st.partition_index, size) != (existing.partition_index,
                                                                                     existing.partition_size):
                # Never enrolled: no box can bring codes of the old range to the hub.
                parts.check_free(tx, st.agency_code, st.partition_index, size, now=now,
                                 ignore=lambda r: r.station_id == st.station_id and r.kind != "retired",
                                 station_id=st.station_id)
                tx.run("UPDATE stations SET partition_index = ?, partition_size = ? WHERE station_id = ?",
                       (st.partition_index, size, st.station_id))
                parts.drop_pending(tx, st.station_id)
            tx.run("UPDATE stations SET name = ?, kind = ?, address = ?, token_sha256 = ?, token_issued_at = ?, "
                   "token_expires_at = ?, token_used_at = NULL WHERE station_id = ?",
                   (st.name or existing.name, st.kind, st.address or existing.address, token_sha256, now,
                    token_expires_at, st.station_id))
            return False
        size = st.partition_size or DEFAULT_PARTITION_SIZE
        if st.partition_index is None:
            index = parts.free_index(tx, st.agency_code, size, now=now)
        else:
            index = st.partition_index
            parts.check_free(tx, st.agency_code, index, size, now=now, station_id=st.station_id)
        tx.run("INSERT INTO stations (station_id, agency_code, name, kind, address, partition_index, "
               "partition_size, token_sha256, token_issued_at, token_expires_at, created_at) "
               "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
               (st.station_id, st.agency_code, st.name, st.kind, st.address, index, size, token_sha256,
                now, token_expires_at, now))
        return True

    def _promise_partition(self, tx: Tx, st: StationRecord, index: int | None, size: int, *, now: int) -> None:
        """A replacement box for an enrolled station: a partition no other box holds or may hold."""
        def ignore(r: parts.Reservation) -> bool:
            return r.kind == "pending" and r.station_id == st.station_id  # superseded by this token

        if index is None:
            index = parts.free_index(tx, st.agency_code, size, now=now, ignore=ignore)
        else:
            current = parts.Reservation(kind="station", station_id=st.station_id, agency_code=st.agency_code,
                                        partition_index=st.partition_index, partition_size=st.partition_size)
            if current.overlaps(index, size):
                raise HubError(f"station {st.station_id} is enrolled: its replacement box needs a new code partition; "
                               f"partition {index} × {size} overlaps the current box's partition {st.partition_index} × "
                               f"{st.partition_size} (leave the index out and the hub picks a free one)")
            parts.check_free(tx, st.agency_code, index, size, now=now, ignore=ignore)
        parts.set_pending(tx, st.station_id, st.agency_code, index, size, now=now)

    def add_station(self, station: NewStation, *, token_sha256: str, token_expires_at: int, now: int) -> StationRecord:
        with self._tx() as tx:
            self._put_station(tx, station, token_sha256=token_sha256, token_expires_at=token_expires_at, now=now)
            record = self._get_station(tx, station.station_id)
        assert record is not None
        return record

    def import_stations(self, rows: Sequence[StationImport], *, now: int,
                        partition_size: int = DEFAULT_PARTITION_SIZE) -> tuple[int, int]:
        created = updated = 0
        with self._tx() as tx:
            # Every agency of the file is locked first, in one order for every worker: two imports
            # naming the same agencies in other orders would otherwise wait on each other (deadlock).
            for agency in sorted({row.agency_code for row in rows}):
                self._lock_agency(tx, agency)
            for row in rows:
                new = NewStation(station_id=row.station_id, agency_code=row.agency_code, name=row.name,
                                 kind=row.kind, address=row.address, partition_index=row.partition_index,
                                 partition_size=partition_size)
                try:
                    if self._put_station(tx, new, token_sha256=row.token_sha256,
                                         token_expires_at=row.token_expires_at_ms, now=now):
                        created += 1
                    else:
                        updated += 1
                except (ApiError, HubError) as exc:
                    raise HubError(f"station {row.station_id}: {exc}") from None
        return created, updated

    def enroll(self, station_id: str, *, token_sha256: str, public_key: bytes, key_id: str, now: int) -> StationRecord:
        import base64
        import hmac

        pub = base64.b64encode(public_key).decode()
        with self._tx() as tx:
            # Lock order everywhere: the agency's partitions, then the station row.
            agency = tx.one("SELECT agency_code FROM stations WHERE station_id = ?", (station_id,))
            if agency:
                self._lock_agency(tx, agency[0])
            row = tx.one("SELECT token_sha256, token_expires_at, token_used_at, public_key FROM stations "
                         "WHERE station_id = ?" + self.for_update, (station_id,))
            if row is None or not row[0] or not hmac.compare_digest(row[0], token_sha256):
                raise ApiError(401, "token_invalid", "enrollment token unknown or not issued for this station")
            stored, expires, used, current = row
            if used is not None:
                if current == pub:
                    record = self._get_station(tx, station_id)
                    assert record is not None
                    return record
                raise ApiError(403, "token_used", "enrollment token was already used")
            if expires is not None and now > expires:
                raise ApiError(401, "token_expired", f"enrollment token expired at {ms_to_rfc3339(expires)}")
            before = self._get_station(tx, station_id)
            assert before is not None
            self._take_over(tx, before, public_key, key_id, now=now)
            tx.run("UPDATE stations SET public_key = ?, key_id = ?, enrolled_at = ?, token_used_at = ?, "
                   "revoked_at = NULL, revoke_reason = '', wipe_command = NULL, last_seen_at = ? "
                   "WHERE station_id = ?", (pub, key_id, now, now, now, station_id))
            record = self._get_station(tx, station_id)
        assert record is not None
        return record

    def _take_over(self, tx: Tx, st: StationRecord, public_key: bytes, key_id: str, *, now: int) -> None:
        """Enrollment with a fresh token: the enrolling box takes the station's promised partition.

        A replaced box's partition is retired (reserved) and the box is told so on its own feed; a
        new box does not see the station's earlier items (feed floor).
        """
        self._lock_agency(tx, st.agency_code)
        promised = parts.pending(tx, st.station_id)
        parts.drop_pending(tx, st.station_id)
        replaced = st.public_key is not None and st.public_key != public_key
        if st.public_key is None:
            # First enrollment: partitions moved before it were only in the bundle; the box now
            # learns its partition from the enrollment answer.
            tx.run("UPDATE retired_partitions SET stopped_at = ? WHERE station_id = ? AND key_id IS NULL "
                   "AND stopped_at IS NULL", (now, st.station_id))
        if replaced and promised is None:
            promised = (parts.free_index(tx, st.agency_code, st.partition_size, now=now), st.partition_size)
        if promised is not None and promised != (st.partition_index, st.partition_size):
            index, size = promised
            if replaced:
                head = self._append(tx, FeedType.CODE_PARTITION, {
                    "agency_code": st.agency_code, "partition_index": None, "partition_size": None,
                    "retired": True, "reason": "replaced", "station_id": st.station_id},
                    now=now, station_id=parts.pseudo_station(st.station_id, st.key_id or "")).seq
                revoked = st.revoked_at is not None
                parts.retire(tx, station_id=st.station_id, agency=st.agency_code, index=st.partition_index,
                             size=st.partition_size, key_id=st.key_id, public_key=st.public_key, reason="replaced",
                             now=now, notice_seq=head,
                             # A revoked box can bring nothing to the hub any more: nothing to keep apart.
                             released_at=now if revoked else None,
                             wipe_command=_dump(st.wipe_command) if revoked and st.wipe_command else None)
            else:
                # The same box (same key) re-enrolled: it learns the new partition from the answer.
                parts.retire(tx, station_id=st.station_id, agency=st.agency_code, index=st.partition_index,
                             size=st.partition_size, key_id=st.key_id, public_key=None, reason="moved", now=now,
                             stopped_at=now if st.public_key is not None else None)
            tx.run("UPDATE stations SET partition_index = ?, partition_size = ? WHERE station_id = ?",
                   (index, size, st.station_id))
        if st.public_key is None or replaced:
            head_row = tx.one("SELECT value FROM hub_counters WHERE name = 'feed'")
            parts.set_floor(tx, st.station_id, int(head_row[0]) if head_row else 0)

    def rotate_key(self, station_id: str, *, old_key: bytes, new_key: bytes, key_id: str, now: int) -> StationRecord:
        import base64

        with self._tx() as tx:
            old_row = tx.one("SELECT key_id FROM stations WHERE station_id = ?", (station_id,))
            n = tx.run("UPDATE stations SET public_key = ?, key_id = ? WHERE station_id = ? AND public_key = ?",
                       (base64.b64encode(new_key).decode(), key_id, station_id, base64.b64encode(old_key).decode()))
            if n != 1:
                raise ApiError(401, "bad_signature", "the station's key changed meanwhile; sign with the current key")
            # Ranges this box moved away from stay its own (acknowledged under its new key id).
            tx.run("UPDATE retired_partitions SET key_id = ? WHERE station_id = ? AND key_id = ? AND public_key IS NULL",
                   (key_id, station_id, old_row[0] if old_row else None))
            record = self._get_station(tx, station_id)
        assert record is not None
        return record

    def revoke(self, station_id: str, *, reason: str, now: int, command_id: str,
               build_command: CommandBuilder) -> StationRecord:
        with self._tx() as tx:
            st = self._get_station(tx, station_id, lock=True)
            if st is None:
                raise HubError(f"no station {station_id!r}")
            if st.revoked_at is not None:
                return st
            command = build_command(st, command_id, now)
            tx.run("UPDATE stations SET revoked_at = ?, revoke_reason = ?, wipe_command = ?, "
                   "token_sha256 = NULL, token_expires_at = NULL WHERE station_id = ?",
                   (now, reason, _dump(command), station_id))
            self._append(tx, FeedType.REVOCATION, {"station_id": station_id, "revoked_at": ms_to_rfc3339(now),
                                                   "reason": reason}, now=now, agency_code=st.agency_code)
            self._append(tx, FeedType.COMMAND, command, now=now, station_id=station_id)
            record = self._get_station(tx, station_id)
        assert record is not None
        return record

    def touch(self, station_id: str, *, now: int, heartbeat: dict[str, Any] | None = None) -> None:
        with self._tx() as tx:
            if heartbeat is None:
                tx.run("UPDATE stations SET last_seen_at = ? WHERE station_id = ?", (now, station_id))
            else:
                tx.run("UPDATE stations SET last_seen_at = ?, last_heartbeat = ? WHERE station_id = ?",
                       (now, _dump({**heartbeat, "received_at": ms_to_rfc3339(now)}), station_id))
                fleet.record_heartbeat(tx, station_id, now=now, heartbeat=heartbeat)

    # --- nonces -------------------------------------------------------------------------------

    def remember_nonce(self, station_id: str, nonce: str, *, expires_at: int) -> bool:
        with self._tx() as tx:
            n = tx.run("INSERT INTO nonces (station_id, nonce, expires_at) VALUES (?, ?, ?) "
                       "ON CONFLICT (station_id, nonce) DO NOTHING", (station_id, nonce, expires_at))
        return n == 1

    def sweep_nonces(self, *, now: int) -> int:
        with self._tx() as tx:
            return tx.run("DELETE FROM nonces WHERE expires_at < ?", (now,))

    def admit(self, station_id: str, nonce: str, *, expires_at: int, check: AdmissionCheck,
              dossier_id: str | None = None, blob_sha256: str | None = None) -> Admission:
        # One transaction (one commit) for the station, its nonce and what the request names.
        with self._tx() as tx:
            return self._admit(tx, station_id, nonce, expires_at=expires_at, check=check, dossier_id=dossier_id,
                               blob_sha256=blob_sha256)

    def _admit(self, tx: Tx, station_id: str, nonce: str, *, expires_at: int, check: AdmissionCheck,
               dossier_id: str | None, blob_sha256: str | None) -> Admission:
        st = check(self._get_station(tx, station_id), lambda: parts.retired_boxes(tx, station_id))
        if tx.run("INSERT INTO nonces (station_id, nonce, expires_at) VALUES (?, ?, ?) "
                  "ON CONFLICT (station_id, nonce) DO NOTHING", (st.station_id, nonce, expires_at)) != 1:
            raise ApiError(401, "replayed_request", "this nonce was already used: a replayed request")
        if dossier_id is None:
            return Admission(station=st)
        if blob_sha256 is None:
            return Admission(station=st, dossier=self._get_dossier(tx, dossier_id))
        row = tx.one("SELECT d.station_id, b.idx, b.size, b.component, b.media_type, c.sha256 FROM dossiers d "
                     "LEFT JOIN dossier_blobs b ON b.dossier_id = d.dossier_id AND b.sha256 = ? "
                     "LEFT JOIN blobs c ON c.sha256 = b.sha256 WHERE d.dossier_id = ?", (blob_sha256, dossier_id))
        if row is None:
            return Admission(station=st)
        owner, idx, size, component, media_type, done = row
        blob = None if idx is None else BlobRow(index=idx, sha256=blob_sha256, size=size, component=component,
                                                media_type=media_type, complete=done is not None)
        return Admission(station=st, target=BlobTarget(dossier_id=dossier_id, station_id=owner, blob=blob))

    # --- dossiers -----------------------------------------------------------------------------

    def _get_dossier(self, tx: Tx, dossier_id: str, *, lock: bool = False) -> DossierRecord | None:
        row = tx.one(f"SELECT {_DOSSIER_COLS} FROM dossiers WHERE dossier_id = ?" + (self.for_update if lock else ""),
                     (dossier_id,))
        if row is None:
            return None
        blobs = tx.all("SELECT b.idx, b.sha256, b.size, b.component, b.media_type, c.sha256 FROM dossier_blobs b "
                       "LEFT JOIN blobs c ON c.sha256 = b.sha256 WHERE b.dossier_id = ? ORDER BY b.idx", (dossier_id,))
        (did, sid, agency, code, proc, manifest, msha, state, created, committed, seq, receipt, status,
         changed) = row
        return DossierRecord(
            dossier_id=did, station_id=sid, agency_code=agency, code=code, procedure_code=proc,
            manifest=json.loads(manifest), manifest_sha256=msha, state=state, created_at=created,
            committed_at=committed, hub_seq=seq, receipt=receipt.encode() if receipt else None,
            status=status, status_changed_at=changed,
            blobs=tuple(BlobRow(index=b[0], sha256=b[1], size=b[2], component=b[3], media_type=b[4],
                                complete=b[5] is not None) for b in blobs))

    def get_dossier(self, dossier_id: str) -> DossierRecord | None:
        with self._tx() as tx:
            return self._get_dossier(tx, dossier_id)

    def list_dossiers(self, *, station_id: str | None = None) -> list[DossierRecord]:
        with self._tx() as tx:
            if station_id is None:
                ids = tx.all("SELECT dossier_id FROM dossiers ORDER BY created_at, dossier_id")
            else:
                ids = tx.all("SELECT dossier_id FROM dossiers WHERE station_id = ? ORDER BY created_at, dossier_id",
                             (station_id,))
            return [d for (i,) in ids if (d := self._get_dossier(tx, i)) is not None]

    def create_dossier(self, manifest: Manifest, *, now: int, key_id: str | None = None) -> tuple[bool, DossierRecord]:
        for attempt in range(2):
            try:
                return self._create_dossier(manifest, now=now, key_id=key_id)
            except self.integrity_errors:
                # A concurrent create of the same id or code won the race: decide again.
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def _create_dossier(self, m: Manifest, *, now: int, key_id: str | None) -> tuple[bool, DossierRecord]:
        with self._tx() as tx:
            existing = self._get_dossier(tx, m.dossier_id)
            if existing is not None:
                if existing.station_id != m.station_id:
                    raise ApiError(403, "forbidden", "this dossier id belongs to another station")
                if existing.manifest_sha256 != m.sha256:
                    raise ApiError(409, "manifest_conflict", "dossier exists with a different manifest",
                                   extra={"manifest_sha256": existing.manifest_sha256})
                return False, existing
            # Another dossier id holding this code is a conflict. The same id here means a
            # concurrent create of this very dossier committed since the read above (READ
            # COMMITTED takes a new snapshot per statement): the insert below then fails on the
            # primary key and create_dossier decides again, answering 200.
            st = self._get_station(tx, m.station_id)
            if st is None or st.agency_code != m.agency_code:
                raise ApiError(403, "forbidden", f"station {m.station_id} does not issue codes of agency {m.agency_code}")
            parts.check_code(tx, st, key_id=key_id, code=m.code, number=m.code_number, day=m.code_date)
            holder = tx.one("SELECT dossier_id, station_id FROM dossiers WHERE agency_code = ? AND code = ? "
                            "AND dossier_id <> ?", (m.agency_code, m.code, m.dossier_id))
            if holder:
                # Another station's dossier id is not the caller's business: only its own is named.
                raise ApiError(409, "code_conflict", f"code {m.code} is already used by another dossier",
                               extra={"dossier_id": holder[0]} if holder[1] == m.station_id else None)
            tx.run(f"INSERT INTO dossiers ({_DOSSIER_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, 'created', ?, NULL, NULL, "
                   "NULL, NULL, NULL)", (m.dossier_id, m.station_id, m.agency_code, m.code, m.procedure_code,
                                         _dump(m.raw), m.sha256, now))
            supplement_of = (m.raw.get("meta") or {}).get("supplement_of")
            tx.run("INSERT INTO dossier_outcomes (dossier_id, agency_code, outcome, supplement_of, code_day) "
                   "VALUES (?, ?, ?, ?, ?)", (m.dossier_id, m.agency_code, m.outcome,
                                              supplement_of if isinstance(supplement_of, str) else "",
                                              m.code_date.isoformat()))
            for b in m.blobs:
                tx.run("INSERT INTO dossier_blobs (dossier_id, idx, sha256, size, component, media_type) "
                       "VALUES (?, ?, ?, ?, ?, ?)", (m.dossier_id, b.index, b.sha256, b.size, b.component, b.media_type))
            record = self._get_dossier(tx, m.dossier_id)
        assert record is not None
        return True, record

    def outcome_counts(self, *, agency_code: str | None = None, committed_only: bool = True) -> dict[str, int]:
        sql = ("SELECT COALESCE(o.outcome, 'received'), COUNT(*) FROM dossiers d "
               "LEFT JOIN dossier_outcomes o ON o.dossier_id = d.dossier_id WHERE 1 = 1")
        params: list[Any] = []
        if committed_only:
            sql += " AND d.state = 'committed'"
        if agency_code:
            sql += " AND d.agency_code = ?"
            params.append(agency_code)
        with self._tx() as tx:
            rows = tx.all(sql + " GROUP BY COALESCE(o.outcome, 'received')", params)
        counts = {"received": 0, "refused": 0, "supplement_requested": 0}
        counts.update({str(k): int(v) for k, v in rows})
        return counts

    def mark_blob_complete(self, sha256: str, *, size: int, now: int) -> None:
        with self._tx() as tx:
            tx.run("INSERT INTO blobs (sha256, size, completed_at) VALUES (?, ?, ?) ON CONFLICT (sha256) DO NOTHING",
                   (sha256, size, now))

    def complete_blobs(self, hashes: Sequence[str]) -> set[str]:
        if not hashes:
            return set()
        with self._tx() as tx:
            marks = ", ".join("?" for _ in hashes)
            return {r[0] for r in tx.all(f"SELECT sha256 FROM blobs WHERE sha256 IN ({marks})", tuple(hashes))}

    def commit_dossier(self, dossier_id: str, *, manifest_sha256: str, now: int,
                       build_receipt: ReceiptBuilder, completed: Sequence[tuple[str, int]] = ()) -> bytes:
        with self._tx() as tx:
            for sha, size in completed:
                tx.run("INSERT INTO blobs (sha256, size, completed_at) VALUES (?, ?, ?) ON CONFLICT (sha256) DO NOTHING",
                       (sha, size, now))
            d = self._get_dossier(tx, dossier_id, lock=True)
            if d is None:
                raise ApiError(404, "not_found", "no such dossier: create it first (PUT)")
            if d.manifest_sha256 != manifest_sha256:
                raise ApiError(409, "manifest_conflict", "manifest_sha256 differs from the stored manifest",
                               extra={"manifest_sha256": d.manifest_sha256})
            if d.receipt is not None:
                return d.receipt
            missing = [b for b in d.blobs if not b.complete]
            if missing:
                raise ApiError(409, "blobs_incomplete", f"{len(missing)} blob(s) not complete",
                               extra={"missing": [{"sha256": b.sha256, "size": b.size} for b in missing]})
            seq_row = tx.one("UPDATE hub_counters SET value = value + 1 WHERE name = 'receipt' RETURNING value")
            assert seq_row is not None
            hub_seq = int(seq_row[0])
            body = build_receipt(d, hub_seq, now)
            tx.run("UPDATE dossiers SET state = 'committed', committed_at = ?, hub_seq = ?, receipt = ?, "
                   "status = 2, status_changed_at = ? WHERE dossier_id = ?",
                   (now, hub_seq, body.decode("utf-8"), now, dossier_id))
            self._append(tx, FeedType.DOSSIER_STATUS, _status_data(d, 2, "", now), now=now, station_id=d.station_id)
            event = city_event(d, hub_seq=hub_seq, committed_at=now)
            tx.run("INSERT INTO city_outbox (event_id, dossier_id, event, created_at, next_attempt_at) "
                   "VALUES (?, ?, ?, ?, ?) ON CONFLICT (event_id) DO NOTHING",
                   (event["event_id"], d.dossier_id, _dump(event), now, now))
        return body

    # --- upload locks shared by the workers ----------------------------------------------------

    def lease_blob(self, sha256: str, *, holder: str, until: int, now: int) -> bool:
        """Take (or renew) the lock on a blob's upload until ``until``; False if another holds it."""
        with self._tx() as tx:
            return tx.run("INSERT INTO blob_leases (sha256, holder, until_ms) VALUES (?, ?, ?) "
                          "ON CONFLICT (sha256) DO UPDATE SET holder = excluded.holder, until_ms = excluded.until_ms "
                          "WHERE blob_leases.until_ms <= ? OR blob_leases.holder = excluded.holder",
                          (sha256, holder, until, now)) == 1

    def release_blob(self, sha256: str, *, holder: str) -> None:
        with self._tx() as tx:
            tx.run("DELETE FROM blob_leases WHERE sha256 = ? AND holder = ?", (sha256, holder))

    # --- the city connector's outbox (docs/city-connector.md) ---------------------------------

    def claim_city_events(self, *, now: int, limit: int, lease_ms: int) -> list[OutboxEvent]:
        """Due, undelivered events, each claimed for ``lease_ms`` (another worker skips them)."""
        with self._tx() as tx:
            rows = tx.all("SELECT event_id FROM city_outbox WHERE delivered_at IS NULL AND next_attempt_at <= ? "
                          "AND claimed_until <= ? ORDER BY next_attempt_at, created_at LIMIT ?", (now, now, limit))
        claimed = []
        for (event_id,) in rows:
            with self._tx() as tx:
                if tx.run("UPDATE city_outbox SET claimed_until = ? WHERE event_id = ? AND delivered_at IS NULL "
                          "AND claimed_until <= ?", (now + lease_ms, event_id, now)) == 1:
                    row = tx.one(f"SELECT {_OUTBOX_COLS} FROM city_outbox WHERE event_id = ?", (event_id,))
                    assert row is not None
                    claimed.append(_outbox(row))
        return claimed

    def city_event_delivered(self, event_id: str, *, now: int) -> None:
        with self._tx() as tx:
            tx.run("UPDATE city_outbox SET delivered_at = ?, attempts = attempts + 1, last_error = '', claimed_until = 0 "
                   "WHERE event_id = ? AND delivered_at IS NULL", (now, event_id))

    def city_event_failed(self, event_id: str, *, error: str, next_attempt_at: int) -> None:
        with self._tx() as tx:
            tx.run("UPDATE city_outbox SET attempts = attempts + 1, last_error = ?, next_attempt_at = ?, "
                   "claimed_until = 0 WHERE event_id = ? AND delivered_at IS NULL",
                   (error[:500], next_attempt_at, event_id))

    def city_events(self, *, undelivered_only: bool = True) -> list[OutboxEvent]:
        where = "WHERE delivered_at IS NULL " if undelivered_only else ""
        with self._tx() as tx:
            rows = tx.all(f"SELECT {_OUTBOX_COLS} FROM city_outbox {where}ORDER BY created_at, event_id")
        return [_outbox(r) for r in rows]

    def retry_city_events(self, *, now: int, event_id: str | None = None) -> int:
        """Make waiting events due now (all, or one)."""
        with self._tx() as tx:
            if event_id:
                return tx.run("UPDATE city_outbox SET next_attempt_at = ? WHERE delivered_at IS NULL AND event_id = ?",
                              (now, event_id))
            return tx.run("UPDATE city_outbox SET next_attempt_at = ? WHERE delivered_at IS NULL", (now,))

    def set_status(self, dossier_id: str, *, status: int, note: str, now: int) -> FeedRow:
        with self._tx() as tx:
            d = self._get_dossier(tx, dossier_id, lock=True)
            if d is None:
                raise HubError(f"no dossier {dossier_id!r}")
            if d.state != "committed":
                raise HubError(f"dossier {dossier_id} is not committed yet (state {d.state})")
            tx.run("UPDATE dossiers SET status = ?, status_changed_at = ? WHERE dossier_id = ?", (status, now, dossier_id))
            return self._append(tx, FeedType.DOSSIER_STATUS, _status_data(d, status, note, now), now=now,
                                station_id=d.station_id)

    # --- feed ---------------------------------------------------------------------------------

    def _append(self, tx: Tx, type_: str, data: dict[str, Any], *, now: int, station_id: str | None = None,
                agency_code: str | None = None) -> FeedRow:
        row = tx.one("UPDATE hub_counters SET value = value + 1 WHERE name = 'feed' RETURNING value")
        assert row is not None
        seq = int(row[0])
        tx.run("INSERT INTO feed (seq, type, station_id, agency_code, data, created_at) VALUES (?, ?, ?, ?, ?, ?)",
               (seq, type_, station_id, agency_code, _dump(data), now))
        return FeedRow(seq=seq, type=type_, data=data, created_at=now, station_id=station_id, agency_code=agency_code)

    def append_feed(self, type_: str, data: dict[str, Any], *, now: int, station_id: str | None = None,
                    agency_code: str | None = None) -> FeedRow:
        with self._tx() as tx:
            return self._append(tx, type_, data, now=now, station_id=station_id, agency_code=agency_code)

    def feed(self, station: StationRecord, *, since: int, limit: int) -> tuple[list[FeedRow], int]:
        cols = "seq, type, data, created_at, station_id, agency_code"
        with self._tx() as tx:
            head_row = tx.one("SELECT value FROM hub_counters WHERE name = 'feed'")
            head = int(head_row[0]) if head_row else 0
            if station.retired:
                # A replaced box sees only what is addressed to it: its retirement notice.
                rows = tx.all(f"SELECT {cols} FROM feed WHERE seq > ? AND seq <= ? AND station_id = ? ORDER BY seq LIMIT ?",
                              (since, head, parts.pseudo_station(station.station_id, station.key_id or ""), limit))
            else:
                # Items about this station from before its box enrolled (an earlier box's statuses,
                # partitions, revocation and commands) are not this box's.
                rows = tx.all(f"SELECT {cols} FROM feed "
                              "WHERE seq > ? AND seq <= ? AND (station_id = ? OR (station_id IS NULL AND "
                              "(agency_code IS NULL OR agency_code = ?))) "
                              f"AND NOT (seq <= ? AND (COALESCE(station_id, '') = ? OR (type = 'revocation' AND {self.contains}))) "
                              "ORDER BY seq LIMIT ?",
                              (since, head, station.station_id, station.agency_code,
                               parts.floor(tx, station.station_id), station.station_id,
                               _dump({"station_id": station.station_id})[1:-1], limit))
        return [FeedRow(seq=int(r[0]), type=r[1], data=json.loads(r[2]), created_at=r[3], station_id=r[4],
                        agency_code=r[5]) for r in rows], head

    def acknowledge_feed(self, station: StationRecord, *, since: int, now: int) -> int:
        if since <= 0:
            return 0
        with self._tx() as tx:
            return parts.acknowledge(tx, station.station_id, station.key_id, since=since, now=now)

    # --- partitions ---------------------------------------------------------------------------

    def retired_boxes(self, station_id: str) -> list[parts.RetiredBox]:
        with self._tx() as tx:
            return parts.retired_boxes(tx, station_id)

    def touch_retired(self, station_id: str, key_id: str, *, now: int) -> None:
        with self._tx() as tx:
            tx.run("UPDATE retired_partitions SET last_seen_at = ? WHERE station_id = ? AND key_id = ? "
                   "AND public_key IS NOT NULL", (now, station_id, key_id))

    def partitions(self, *, agency_code: str | None = None, now: int,
                   include_free: bool = False) -> list[parts.Reservation]:
        with self._tx() as tx:
            agencies = [agency_code] if agency_code else sorted(
                {r[0] for r in tx.all("SELECT agency_code FROM stations")}
                | {r[0] for r in tx.all("SELECT agency_code FROM retired_partitions")})
            out: list[parts.Reservation] = []
            for agency in agencies:
                out += parts.reservations(tx, agency, now=now, include_free=include_free)
            return out

    def set_partition(self, station_id: str, *, index: int, size: int | None, now: int) -> tuple[StationRecord, FeedRow | None]:
        with self._tx() as tx:
            st = self._get_station(tx, station_id)
            if st is None:
                raise HubError(f"no station {station_id!r}")
            self._lock_agency(tx, st.agency_code)
            st = self._get_station(tx, station_id, lock=True)
            assert st is not None
            size = size or st.partition_size
            if (index, size) == (st.partition_index, st.partition_size):
                raise HubError(f"station {station_id} already has code partition {index} × {size}")
            if parts.pending(tx, station_id) is not None and st.token_pending:
                raise HubError(f"a replacement box of station {station_id} has a token but has not enrolled yet: "
                               "give it its partition when re-issuing the token (hub add-station … --partition-index), "
                               "or set it after it enrolled")

            def own(r: parts.Reservation) -> bool:
                # The box keeps its own current and earlier ranges: the store never reissues a code it holds.
                return r.station_id == station_id and r.kind != "pending" and (
                    r.kind == "station" or (r.key_id is not None and r.key_id == st.key_id and r.released_at is None))

            parts.check_free(tx, st.agency_code, index, size, now=now, ignore=own, station_id=station_id)
            item = None
            if st.public_key is not None:
                item = self._append(tx, FeedType.CODE_PARTITION, {
                    "agency_code": st.agency_code, "partition_index": index, "partition_size": size},
                    now=now, station_id=station_id)
            parts.retire(tx, station_id=station_id, agency=st.agency_code, index=st.partition_index,
                         size=st.partition_size, key_id=st.key_id, public_key=None, reason="moved", now=now,
                         notice_seq=item.seq if item else None)
            tx.run("UPDATE stations SET partition_index = ?, partition_size = ? WHERE station_id = ?",
                   (index, size, station_id))
            record = self._get_station(tx, station_id)
        assert record is not None
        return record, item

    def release_partition(self, agency_code: str, index: int, *, now: int) -> int:
        with self._tx() as tx:
            self._lock_agency(tx, agency_code)
            held = [r for r in parts.reservations(tx, agency_code, now=now)
                    if r.kind == "retired" and r.partition_index == index]
            if not held:
                raise HubError(f"agency {agency_code} has no retired partition {index} still reserved")
            for r in held:
                last = max(r.retired_at or 0, r.last_seen_at or 0)
                if parts.vn_day(last) >= parts.vn_day(now):
                    day = parts.vn_date_of(last)
                    raise HubError(f"{r.describe()}: its box was last heard of on {day.isoformat()} (Vietnam time); "
                                   "it may have issued numbers that day, so it can be released from the next day on")
            return tx.run("UPDATE retired_partitions SET released_at = ? WHERE agency_code = ? AND partition_index = ? "
                          "AND released_at IS NULL", (now, agency_code, index))


def _status_data(d: DossierRecord, status: int, note: str, now: int) -> dict[str, Any]:
    return {"dossier_id": d.dossier_id, "code": d.code, "status": status,
            "status_name": DOSSIER_STATUSES[status], "note": note, "changed_at": ms_to_rfc3339(now)}
