"""Outbox states of one dossier, the events that move them, and the one transition table."""

from __future__ import annotations

from enum import StrEnum

from core.labels import OUTBOX_STATE_VI


class OutboxState(StrEnum):
    SEALED = "sealed"            # finalized and sealed to the city, nothing sent yet
    CREATED = "created"          # the hub knows the dossier (idempotent create answered)
    UPLOADING = "uploading"      # blobs partly sent; offsets per blob in blob_offsets
    COMMITTED = "committed"      # the hub's receipt is stored and its signature verified
    CONFIRMED = "confirmed"      # the feed confirmed the hub holds it (or receipt re-verified)
    SHREDDED = "shredded"        # local wrap and blobs destroyed after the retention window
    RETRY_WAIT = "retry_wait"    # a transient failure; next_attempt_at says when
    REJECTED = "rejected"        # a permanent 4xx: shown to a person, never retried alone
    QUARANTINED = "quarantined"  # local integrity failure: a blob or a seal does not verify


class OutboxEvent(StrEnum):
    CREATED = "created"          # the hub answered the create (manifest accepted, blobs to send)
    UPLOADED = "uploaded"        # the hub acknowledged bytes of a blob
    COMMITTED = "committed"      # a verified receipt came back
    FAILED = "failed"            # a transient failure: wait (backoff), then retry
    REJECTED = "rejected"        # a permanent refusal by the hub, or a receipt that does not verify
    QUARANTINED = "quarantined"  # a local blob or seal does not verify
    CONFIRMED = "confirmed"      # the city's feed says it holds the dossier
    RETRIED = "retried"          # a person asks to send a rejected/quarantined dossier again
    SHREDDED = "shredded"        # crypto-shred after a verified receipt (retention)
    WIPED = "wiped"              # crypto-shred forced by the city's wipe command, whatever the state


S, E = OutboxState, OutboxEvent
_IN_FLIGHT = (S.SEALED, S.CREATED, S.UPLOADING, S.RETRY_WAIT)

#: (state, event) → new state. A pair not in the table is refused (:class:`OutboxTransitionError`).
TRANSITIONS: dict[tuple[OutboxState, OutboxEvent], OutboxState] = {
    **{(s, E.CREATED): S.CREATED for s in (S.SEALED, S.CREATED, S.RETRY_WAIT)},
    **{(s, E.UPLOADED): S.UPLOADING for s in (S.CREATED, S.UPLOADING, S.RETRY_WAIT)},
    **{(s, E.COMMITTED): S.COMMITTED for s in (*_IN_FLIGHT, S.COMMITTED)},
    **{(s, E.FAILED): S.RETRY_WAIT for s in _IN_FLIGHT},
    **{(s, E.REJECTED): S.REJECTED for s in (*_IN_FLIGHT, S.REJECTED)},
    **{(s, E.QUARANTINED): S.QUARANTINED for s in (*_IN_FLIGHT, S.QUARANTINED)},
    **{(s, E.CONFIRMED): S.CONFIRMED for s in (S.COMMITTED, S.CONFIRMED)},
    **{(s, E.RETRIED): S.SEALED for s in (S.SEALED, S.REJECTED, S.QUARANTINED)},
    **{(s, E.SHREDDED): S.SHREDDED for s in (S.COMMITTED, S.CONFIRMED)},
    **{(s, E.WIPED): S.SHREDDED for s in S if s != S.SHREDDED},
}
del S, E

# States the push job works on (retry_wait once its time has come).
PUSHABLE = frozenset({OutboxState.SEALED, OutboxState.CREATED, OutboxState.UPLOADING,
                      OutboxState.RETRY_WAIT})
# States in which the dossier is not yet safe at the city: never shredded, counted as pending.
UNSYNCED = PUSHABLE | {OutboxState.REJECTED, OutboxState.QUARANTINED}
# States that hold a verified receipt.
RECEIPTED = frozenset({OutboxState.COMMITTED, OutboxState.CONFIRMED, OutboxState.SHREDDED})

#: The words of each state, from the one table of Vietnamese labels (``core.labels``).
LABELS_VI: dict[OutboxState, str] = {state: OUTBOX_STATE_VI[state.value] for state in OutboxState}


def next_state(state: str, event: str) -> OutboxState | None:
    """The state ``event`` moves ``state`` to, or None when the table has no such move."""
    try:
        return TRANSITIONS.get((OutboxState(state), OutboxEvent(event)))
    except ValueError:
        return None


def can_move(source: str, target: str) -> bool:
    """Whether the sync pipeline moves ``source`` to ``target`` by some event. The city's wipe
    order (:attr:`OutboxEvent.WIPED`) is left out: it shreds whatever the state, by order."""
    try:
        src, dst = OutboxState(source), OutboxState(target)
    except ValueError:
        return False
    return any(s == src and t == dst for (s, e), t in TRANSITIONS.items() if e != OutboxEvent.WIPED)
