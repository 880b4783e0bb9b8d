"""The box side of sync: outbox reconciler, feed puller, scheduler jobs, enrollment."""

from ._backoff import Backoff, is_transient_status, parse_retry_after
from ._bucket import TokenBucket
from ._client import SyncClient, status_json
from ._clock import SKEW_ENV, ClockState, HubClock, os_time
from ._enroll import EnrollResult, enroll, enroll_async
from ._errors import (
    AnchorMismatchError,
    CityKeyChangeError,
    InsecureTransportError,
    LocalIntegrityError,
    NotEnrolledError,
    ReceiptError,
    SyncLockedError,
    describe_vi,
)
from ._scheduler import JobSpec, SyncScheduler
from ._states import LABELS_VI, PUSHABLE, RECEIPTED, UNSYNCED, OutboxState, can_move
from ._status import DossierSyncState, SyncStatus
from ._transport import HubTransport, check_hub_url, pinned_ssl_context

__all__ = [
    "LABELS_VI",
    "PUSHABLE",
    "RECEIPTED",
    "SKEW_ENV",
    "UNSYNCED",
    "AnchorMismatchError",
    "Backoff",
    "CityKeyChangeError",
    "ClockState",
    "DossierSyncState",
    "EnrollResult",
    "HubClock",
    "HubTransport",
    "InsecureTransportError",
    "JobSpec",
    "LocalIntegrityError",
    "NotEnrolledError",
    "OutboxState",
    "ReceiptError",
    "SyncClient",
    "SyncLockedError",
    "SyncScheduler",
    "SyncStatus",
    "TokenBucket",
    "can_move",
    "check_hub_url",
    "describe_vi",
    "enroll",
    "enroll_async",
    "is_transient_status",
    "os_time",
    "parse_retry_after",
    "pinned_ssl_context",
    "status_json",
]
