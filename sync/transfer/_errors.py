"""The one exception of the transfer package, with its words for the clerk."""

from __future__ import annotations

from sync.errors import SyncError

#: Why the hub refused a relayed transfer, for the clerk.
REFUSAL_VI = {
    "wrong_city": "Thẻ nhớ này của trạm thuộc thành phố khác: không nhận.",
    "origin_unknown": "Trạm làm ra thẻ nhớ này không có trong hệ thống của thành phố: không nhận.",
    "origin_revoked": "Trạm làm ra thẻ nhớ này đã bị thu hồi: thành phố không nhận hồ sơ từ thẻ.",
    "origin_retired": "Máy làm ra thẻ nhớ này đã được thay thế: thành phố không nhận thẻ của máy cũ; "
                      "hãy kết nối mạng cho máy cũ để gửi hồ sơ.",
    "origin_bad_signature": "Chữ ký của thẻ nhớ không phải của trạm: không nhận.",
}


class TransferError(SyncError):
    """A transfer cannot be written or read (no stick, nothing to send, a refused stick)."""
