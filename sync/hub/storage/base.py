"""The hub's storage interface; ``sqlite.py`` and ``postgres.py`` implement it with one schema.

Everything that matters across hub workers lives here (stations, tokens, nonces, dossiers,
blob completion, receipts, the feed); blob bytes live on disk (``sync.hub._blobs``).
Times are Unix milliseconds.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sync.protocol import Manifest, StationImport

DEFAULT_PARTITION_SIZE = 1000


@dataclass(frozen=True, slots=True, kw_only=True)
class StationRecord:
    """A station as the hub knows it."""

    station_id: str
    agency_code: str
    name: str
    kind: str
    address: str
    partition_index: int
    partition_size: int
    public_key: bytes | None
    key_id: str | None
    enrolled_at: int | None
    revoked_at: int | None
    revoke_reason: str
    wipe_command: dict[str, Any] | None
    token_expires_at: int | None
    token_pending: bool
    last_seen_at: int | None
    last_heartbeat: dict[str, Any] | None
    created_at: int
    # True when a replaced box signed the request: its own key and partition are filled in.
    retired: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class BlobRow:
    index: int
    sha256: str
    size: int
    component: str
    media_type: str
    complete: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class DossierRecord:
    dossier_id: str
    station_id: str
    agency_code: str
    code: str
    procedure_code: str
    manifest: dict[str, Any]
    manifest_sha256: str
    state: str
    created_at: int
    committed_at: int | None
    hub_seq: int | None
    receipt: bytes | None
    status: int | None
    status_changed_at: int | None
    blobs: tuple[BlobRow, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class BlobTarget:
    """One blob of one dossier, as an upload request needs it (without the whole manifest)."""

    dossier_id: str
    station_id: str
    blob: BlobRow | None  # None: the blob is not in the dossier's manifest


@dataclass(frozen=True, slots=True, kw_only=True)
class Admission:
    """An admitted signed request: its station, and the dossier or blob it asked for (None: absent)."""

    station: StationRecord
    dossier: DossierRecord | None = None
    target: BlobTarget | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class FeedRow:
    seq: int
    type: str
    data: dict[str, Any]
    created_at: int
    station_id: str | None
    agency_code: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class NewStation:
    station_id: str
    agency_code: str
    name: str = ""
    kind: str = "branch"
    address: str = ""
    partition_index: int | None = None
    # None: an existing station keeps its size, a new one gets DEFAULT_PARTITION_SIZE.
    partition_size: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class OutboxEvent:
    """An event for the city system (docs/city-connector.md) and its delivery so far."""

    event_id: str  # the idempotency key
    dossier_id: str
    event: dict[str, Any]
    created_at: int
    attempts: int
    next_attempt_at: int
    last_error: str
    delivered_at: int | None


# The commit callback receives (dossier, hub_seq, committed_at) and returns the answer's bytes.
ReceiptBuilder = Callable[[DossierRecord, int, int], bytes]
# Revocation callback: (station, command_id, now) -> signed command object {"command", "signature"}.
CommandBuilder = Callable[[StationRecord, str, int], dict[str, Any]]
# Admission check, run inside the admission's transaction: (station or None, the station's retired
# boxes on demand) -> the station that signed, or raise ApiError (§4.3 steps 2-5).
AdmissionCheck = Callable[[StationRecord | None, Callable[[], list[Any]]], StationRecord]


class HubStorage(abc.ABC):
    """What the hub needs from its database. Every method is one transaction; thread-safe."""

    @abc.abstractmethod
    def setup(self) -> None:
        """Create the schema if missing (idempotent)."""

    @abc.abstractmethod
    def close(self) -> None: ...

    # stations and enrollment
    @abc.abstractmethod
    def add_station(self, station: NewStation, *, token_sha256: str, token_expires_at: int, now: int) -> StationRecord:
        """Create a station, or give an existing one (same agency) a new token."""

    @abc.abstractmethod
    def import_stations(self, rows: Sequence[StationImport], *, now: int,
                        partition_size: int = DEFAULT_PARTITION_SIZE) -> tuple[int, int]:
        """All rows or none; returns (created, updated)."""

    @abc.abstractmethod
    def get_station(self, station_id: str) -> StationRecord | None: ...

    @abc.abstractmethod
    def list_stations(self) -> list[StationRecord]: ...

    @abc.abstractmethod
    def enroll(self, station_id: str, *, token_sha256: str, public_key: bytes, key_id: str, now: int) -> StationRecord:
        """Consume the token and install the key; raises ApiError (token_invalid/expired/used)."""

    @abc.abstractmethod
    def rotate_key(self, station_id: str, *, old_key: bytes, new_key: bytes, key_id: str, now: int) -> StationRecord: ...

    @abc.abstractmethod
    def revoke(self, station_id: str, *, reason: str, now: int, command_id: str,
               build_command: CommandBuilder) -> StationRecord:
        """Mark revoked, drop any unused token, feed a revocation and a signed wipe command."""

    @abc.abstractmethod
    def touch(self, station_id: str, *, now: int, heartbeat: dict[str, Any] | None = None) -> None: ...

    # replay protection
    @abc.abstractmethod
    def remember_nonce(self, station_id: str, nonce: str, *, expires_at: int) -> bool:
        """True if new; False if this (station, nonce) was seen (a replay)."""

    @abc.abstractmethod
    def sweep_nonces(self, *, now: int) -> int: ...

    def admit(self, station_id: str, nonce: str, *, expires_at: int, check: AdmissionCheck,
              dossier_id: str | None = None, blob_sha256: str | None = None) -> Admission:
        """§4.3 steps 2-6 and the dossier (or, with ``blob_sha256``, one blob) the request names.

        ``check`` decides steps 2-5; the nonce is then recorded (a replay raises ApiError
        ``replayed_request``). Backends do it all in one transaction; this default composes the
        single-purpose methods.
        """
        from sync.errors import ApiError

        st = check(self.get_station(station_id), lambda: self.retired_boxes(station_id))
        if not self.remember_nonce(st.station_id, nonce, expires_at=expires_at):
            raise ApiError(401, "replayed_request", "this nonce was already used: a replayed request")
        if dossier_id is None:
            return Admission(station=st)
        d = self.get_dossier(dossier_id)
        if blob_sha256 is None:
            return Admission(station=st, dossier=d)
        target = None if d is None else BlobTarget(
            dossier_id=d.dossier_id, station_id=d.station_id,
            blob=next((b for b in d.blobs if b.sha256 == blob_sha256), None))
        return Admission(station=st, target=target)

    # dossiers
    @abc.abstractmethod
    def create_dossier(self, manifest: Manifest, *, now: int, key_id: str | None = None) -> tuple[bool, DossierRecord]:
        """(created, record); raises ApiError manifest_conflict / code_conflict / forbidden /
        code_out_of_partition / code_after_retirement.

        ``key_id``: the sending box's key (a replaced box's is not the station's); None means the
        station's current box. A new dossier's code must lie in a range that box holds or held on
        the code's date (docs/sync-protocol.md §6.1).
        """

    @abc.abstractmethod
    def get_dossier(self, dossier_id: str) -> DossierRecord | None: ...

    @abc.abstractmethod
    def list_dossiers(self, *, station_id: str | None = None) -> list[DossierRecord]: ...

    @abc.abstractmethod
    def outcome_counts(self, *, agency_code: str | None = None, committed_only: bool = True) -> dict[str, int]:
        """Dossiers per counter outcome (received, refused, supplement_requested)."""

    @abc.abstractmethod
    def mark_blob_complete(self, sha256: str, *, size: int, now: int) -> None: ...

    @abc.abstractmethod
    def complete_blobs(self, hashes: Sequence[str]) -> set[str]:
        """Which of these blob hashes are complete and verified."""

    @abc.abstractmethod
    def commit_dossier(self, dossier_id: str, *, manifest_sha256: str, now: int,
                       build_receipt: ReceiptBuilder, completed: Sequence[tuple[str, int]] = ()) -> bytes:
        """Store the receipt once and return it (the same bytes on every repeat).

        ``completed``: (sha256, size) of blobs found verified on disk but not yet recorded; they
        are recorded in the same transaction.
        """

    @abc.abstractmethod
    def set_status(self, dossier_id: str, *, status: int, note: str, now: int) -> FeedRow: ...

    # upload locks shared by workers (blobs in S3): see SqlStorage
    def lease_blob(self, sha256: str, *, holder: str, until: int, now: int) -> bool:
        raise NotImplementedError

    def release_blob(self, sha256: str, *, holder: str) -> None:
        raise NotImplementedError

    # the city connector's outbox (docs/city-connector.md): see SqlStorage
    def claim_city_events(self, *, now: int, limit: int, lease_ms: int) -> list[OutboxEvent]:
        raise NotImplementedError

    def city_event_delivered(self, event_id: str, *, now: int) -> None:
        raise NotImplementedError

    def city_event_failed(self, event_id: str, *, error: str, next_attempt_at: int) -> None:
        raise NotImplementedError

    def city_events(self, *, undelivered_only: bool = True) -> list[OutboxEvent]:
        raise NotImplementedError

    def retry_city_events(self, *, now: int, event_id: str | None = None) -> int:
        raise NotImplementedError

    # feed
    @abc.abstractmethod
    def append_feed(self, type_: str, data: dict[str, Any], *, now: int, station_id: str | None = None,
                    agency_code: str | None = None) -> FeedRow: ...

    @abc.abstractmethod
    def feed(self, station: StationRecord, *, since: int, limit: int) -> tuple[list[FeedRow], int]:
        """(items visible to the station with since < seq <= head, head) in seq order."""

    @abc.abstractmethod
    def acknowledge_feed(self, station: StationRecord, *, since: int, now: int) -> int:
        """The box applied its feed up to ``since``: partitions it was told to leave are stopped."""

    # code partitions (storage/_partitions.py)
    @abc.abstractmethod
    def retired_boxes(self, station_id: str) -> list[Any]:
        """Keys of replaced boxes of this station (they may still upload what they hold)."""

    @abc.abstractmethod
    def touch_retired(self, station_id: str, key_id: str, *, now: int) -> None: ...

    @abc.abstractmethod
    def partitions(self, *, agency_code: str | None = None, now: int, include_free: bool = False) -> list[Any]:
        """Reservations (stations, pending replacements, retired ranges) per agency."""

    @abc.abstractmethod
    def set_partition(self, station_id: str, *, index: int, size: int | None,
                      now: int) -> tuple[StationRecord, FeedRow | None]:
        """Move a station's box to another free partition; a ``code_partition`` item tells the box."""

    @abc.abstractmethod
    def release_partition(self, agency_code: str, index: int, *, now: int) -> int:
        """Free a retired partition whose box is gone (not before the day after its last contact)."""
