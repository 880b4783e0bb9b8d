"""What the sync panel and ``motcua sync status`` show: a snapshot, in plain Vietnamese."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from edge.outbox import LABELS_VI, OutboxState


@dataclass(frozen=True, slots=True, kw_only=True)
class DossierSyncState:
    """One dossier's place in the outbox."""

    dossier_id: str
    code: str | None
    state: str
    state_vi: str
    attempts: int
    next_attempt_at: str | None
    last_error: str | None
    receipt_id: str | None
    committed_at: str | None
    city_status: str | None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> DossierSyncState:
        state = row["state"]
        try:
            label = LABELS_VI[OutboxState(state)]
        except ValueError:
            label = state
        return cls(dossier_id=row["dossier_id"], code=row.get("code"), state=state, state_vi=label,
                   attempts=int(row.get("attempts") or 0), next_attempt_at=row.get("next_attempt_at"),
                   last_error=row.get("last_error"), receipt_id=row.get("receipt_id"),
                   committed_at=row.get("committed_at"), city_status=row.get("city_status"))


@dataclass(frozen=True, slots=True, kw_only=True)
class SyncStatus:
    """A snapshot of the box's reconciliation with the city."""

    enrolled: bool
    locked: bool                      # revoked / wiped: sync refuses to run
    lock_reason_vi: str | None
    hub_url: str | None
    station_id: str | None
    pending: int                      # dossiers not yet holding a verified receipt
    oldest_unsynced_age_seconds: float | None
    last_success_at: str | None
    last_attempt_at: str | None
    last_error: str | None            # plain English, for IT
    last_error_vi: str | None         # plain Vietnamese, for the clerk
    online: bool
    rejected: int
    quarantined: int
    clock_offset_seconds: float
    clock_anchored: bool
    feed_since: int
    disk_free_mb: float | None
    disk_alarm: bool
    metered: bool
    counts: dict[str, int] = field(default_factory=dict)
    dossiers: tuple[DossierSyncState, ...] = ()
    warnings: tuple[dict[str, Any], ...] = ()  # offline guardrails: {code, message_vi, days}

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @property
    def summary_vi(self) -> str:
        if self.locked:
            return self.lock_reason_vi or "Đồng bộ đã bị khoá."
        if not self.enrolled:
            return "Trạm chưa đăng ký với hệ thống của thành phố."
        if self.pending == 0:
            return "Mọi hồ sơ đã được gửi lên thành phố."
        if self.last_error_vi:
            return f"Còn {self.pending} hồ sơ chưa gửi. {self.last_error_vi}"
        return f"Còn {self.pending} hồ sơ chưa gửi."
