"""The outbox is :mod:`edge.outbox`'s (its table, states and every write); re-exported here."""

from __future__ import annotations

from edge.outbox import Outbox, iso, parse_iso

__all__ = ["Outbox", "iso", "parse_iso"]
