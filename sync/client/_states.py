"""Outbox states: owned by :mod:`edge.outbox`, re-exported here for the sync client's callers."""

from __future__ import annotations

from edge.outbox import (
    LABELS_VI,
    PUSHABLE,
    RECEIPTED,
    TRANSITIONS,
    UNSYNCED,
    OutboxEvent,
    OutboxState,
    can_move,
)

__all__ = ["LABELS_VI", "PUSHABLE", "RECEIPTED", "TRANSITIONS", "UNSYNCED", "OutboxEvent", "OutboxState", "can_move"]
