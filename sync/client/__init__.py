"""The box side of sync: outbox reconciler, feed puller, scheduler jobs, enrollment."""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.lazy import lazy_exports

if TYPE_CHECKING:
    from edge.outbox import LABELS_VI, PUSHABLE, RECEIPTED, UNSYNCED, OutboxState, can_move

    from ._backoff import Backoff, is_transient_status, parse_retry_after
    from ._bucket import TokenBucket
    from ._client import SyncClient, status_json
    from ._clock import SKEW_ENV, ClockState, HubClock, os_time
    from ._config import SyncConfig
    from ._enroll import EnrollResult, enroll, enroll_async, receipt_key_of
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
    from ._guardrails import NoRoomError, check_room_for_scan
    from ._guardrails import warnings as guardrail_warnings
    from ._guardrails_config import GuardrailsConfig
    from ._manifest import build_manifest, load_manifest
    from ._scheduler import JobSpec, SyncScheduler
    from ._status import DossierSyncState, SyncStatus
    from ._transport import HubTransport, check_hub_url, pinned_ssl_context

_LAZY: dict[str, tuple[str, str | None]] = {
    "SyncConfig": ("._config", "SyncConfig"),
    "Backoff": ("._backoff", "Backoff"),
    "is_transient_status": ("._backoff", "is_transient_status"),
    "parse_retry_after": ("._backoff", "parse_retry_after"),
    "TokenBucket": ("._bucket", "TokenBucket"),
    "SyncClient": ("._client", "SyncClient"),
    "status_json": ("._client", "status_json"),
    "SKEW_ENV": ("._clock", "SKEW_ENV"),
    "ClockState": ("._clock", "ClockState"),
    "HubClock": ("._clock", "HubClock"),
    "os_time": ("._clock", "os_time"),
    "EnrollResult": ("._enroll", "EnrollResult"),
    "enroll": ("._enroll", "enroll"),
    "enroll_async": ("._enroll", "enroll_async"),
    "receipt_key_of": ("._enroll", "receipt_key_of"),
    "build_manifest": ("._manifest", "build_manifest"),
    "NoRoomError": ("._guardrails", "NoRoomError"),
    "check_room_for_scan": ("._guardrails", "check_room_for_scan"),
    "guardrail_warnings": ("._guardrails", "warnings"),
    "GuardrailsConfig": ("._guardrails_config", "GuardrailsConfig"),
    "load_manifest": ("._manifest", "load_manifest"),
    "AnchorMismatchError": ("._errors", "AnchorMismatchError"),
    "CityKeyChangeError": ("._errors", "CityKeyChangeError"),
    "InsecureTransportError": ("._errors", "InsecureTransportError"),
    "LocalIntegrityError": ("._errors", "LocalIntegrityError"),
    "NotEnrolledError": ("._errors", "NotEnrolledError"),
    "ReceiptError": ("._errors", "ReceiptError"),
    "SyncLockedError": ("._errors", "SyncLockedError"),
    "describe_vi": ("._errors", "describe_vi"),
    "JobSpec": ("._scheduler", "JobSpec"),
    "SyncScheduler": ("._scheduler", "SyncScheduler"),
    "LABELS_VI": ("edge.outbox", "LABELS_VI"),
    "PUSHABLE": ("edge.outbox", "PUSHABLE"),
    "RECEIPTED": ("edge.outbox", "RECEIPTED"),
    "UNSYNCED": ("edge.outbox", "UNSYNCED"),
    "OutboxState": ("edge.outbox", "OutboxState"),
    "can_move": ("edge.outbox", "can_move"),
    "DossierSyncState": ("._status", "DossierSyncState"),
    "SyncStatus": ("._status", "SyncStatus"),
    "HubTransport": ("._transport", "HubTransport"),
    "check_hub_url": ("._transport", "check_hub_url"),
    "pinned_ssl_context": ("._transport", "pinned_ssl_context"),
}

__all__ = [
    "GuardrailsConfig",
    "NoRoomError",
    "check_room_for_scan",
    "guardrail_warnings",
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
    "SyncConfig",
    "SyncLockedError",
    "SyncScheduler",
    "SyncStatus",
    "TokenBucket",
    "build_manifest",
    "can_move",
    "check_hub_url",
    "describe_vi",
    "enroll",
    "enroll_async",
    "is_transient_status",
    "load_manifest",
    "os_time",
    "parse_retry_after",
    "pinned_ssl_context",
    "receipt_key_of",
    "status_json",
]


# Names load on first use (PEP 562), so importing the package (or its _extension) is cheap.
__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
