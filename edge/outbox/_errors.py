"""Errors of the outbox layer."""

from __future__ import annotations

from core.errors import MotcuaError


class OutboxError(MotcuaError):
    """The outbox cannot do what was asked."""


class OutboxTransitionError(OutboxError, ValueError):
    """An event that the transition table does not allow in the row's current state."""

    def __init__(self, dossier_id: str, state: str, event: str) -> None:
        super().__init__(f"outbox of {dossier_id}: event {event!r} is not allowed in state {state!r}",
                         message_vi="Thao tác này không hợp lệ với trạng thái gửi hiện tại của hồ sơ.")
        self.dossier_id = dossier_id
        self.state = state
        self.event = event


class NoOutboxRowError(OutboxError, LookupError):
    """The dossier is not in the outbox (a draft, or no such dossier)."""

    def __init__(self, dossier_id: str) -> None:
        super().__init__(f"dossier {dossier_id} has no outbox row",
                         message_vi="Hồ sơ chưa được đưa vào hàng đợi gửi.")
        self.dossier_id = dossier_id
