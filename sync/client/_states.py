"""Outbox states of one dossier and the transitions allowed between them."""

from __future__ import annotations

from enum import StrEnum


class OutboxState(StrEnum):
    SEALED = "sealed"            # finalized and sealed to the city, nothing sent yet
    CREATED = "created"          # the hub knows the dossier (idempotent create answered)
    UPLOADING = "uploading"      # blobs partly sent; offsets per blob in sync_blob
    COMMITTED = "committed"      # the hub's receipt is stored and its signature verified
    CONFIRMED = "confirmed"      # the feed confirmed the hub holds it (or receipt re-verified)
    SHREDDED = "shredded"        # local wrap and blobs destroyed after the retention window
    RETRY_WAIT = "retry_wait"    # a transient failure; next_attempt_at says when
    REJECTED = "rejected"        # a permanent 4xx: shown to a person, never retried alone
    QUARANTINED = "quarantined"  # local integrity failure: a blob or a seal does not verify


# States the push job works on (retry_wait once its time has come).
PUSHABLE = frozenset({OutboxState.SEALED, OutboxState.CREATED, OutboxState.UPLOADING,
                      OutboxState.RETRY_WAIT})
# States in which the dossier is not yet safe at the city: never shredded, counted as pending.
UNSYNCED = PUSHABLE | {OutboxState.REJECTED, OutboxState.QUARANTINED}
# States that hold a verified receipt.
RECEIPTED = frozenset({OutboxState.COMMITTED, OutboxState.CONFIRMED, OutboxState.SHREDDED})

TRANSITIONS: dict[OutboxState, frozenset[OutboxState]] = {
    OutboxState.SEALED: frozenset({OutboxState.CREATED, OutboxState.COMMITTED, OutboxState.RETRY_WAIT,
                                   OutboxState.REJECTED, OutboxState.QUARANTINED}),
    OutboxState.CREATED: frozenset({OutboxState.UPLOADING, OutboxState.COMMITTED, OutboxState.RETRY_WAIT,
                                    OutboxState.REJECTED, OutboxState.QUARANTINED}),
    OutboxState.UPLOADING: frozenset({OutboxState.UPLOADING, OutboxState.COMMITTED, OutboxState.RETRY_WAIT,
                                      OutboxState.REJECTED, OutboxState.QUARANTINED}),
    OutboxState.RETRY_WAIT: frozenset({OutboxState.CREATED, OutboxState.UPLOADING, OutboxState.COMMITTED,
                                       OutboxState.RETRY_WAIT, OutboxState.REJECTED,
                                       OutboxState.QUARANTINED}),
    OutboxState.COMMITTED: frozenset({OutboxState.CONFIRMED, OutboxState.SHREDDED}),
    OutboxState.CONFIRMED: frozenset({OutboxState.SHREDDED}),
    OutboxState.REJECTED: frozenset({OutboxState.SEALED}),      # a person chose to retry
    OutboxState.QUARANTINED: frozenset({OutboxState.SEALED}),   # repaired, then retried
    OutboxState.SHREDDED: frozenset(),
}

LABELS_VI: dict[OutboxState, str] = {
    OutboxState.SEALED: "Chờ gửi",
    OutboxState.CREATED: "Đang gửi",
    OutboxState.UPLOADING: "Đang tải lên",
    OutboxState.COMMITTED: "Thành phố đã nhận (có biên nhận)",
    OutboxState.CONFIRMED: "Thành phố đã xác nhận",
    OutboxState.SHREDDED: "Đã xoá bản lưu tại trạm",
    OutboxState.RETRY_WAIT: "Chờ thử lại",
    OutboxState.REJECTED: "Bị từ chối — cần người xử lý",
    OutboxState.QUARANTINED: "Lỗi dữ liệu tại trạm — cần kiểm tra",
}


def can_move(source: str, target: str) -> bool:
    return OutboxState(target) in TRANSITIONS[OutboxState(source)]
