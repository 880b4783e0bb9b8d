"""Client-side errors and the plain-Vietnamese words a clerk sees for each failure."""

from __future__ import annotations

from sync.errors import ApiError, SyncError, TransportError


class SyncLockedError(SyncError):
    """Sync is locked on this box: the station was revoked or wiped."""


class NotEnrolledError(SyncError):
    """The box has no station identity yet: run ``motcua sync enroll``."""

    def __init__(self, message: str = "this box is not enrolled with a hub (motcua sync enroll --hub URL --token T)") -> None:
        super().__init__(message, message_vi="Trạm chưa đăng ký với hệ thống của thành phố; liên hệ bộ phận CNTT.")


class InsecureTransportError(SyncError):
    """Plain HTTP to a host that is not loopback, or a TLS set-up without a pinned CA."""


class ReceiptError(SyncError):
    """A receipt from the hub does not verify or does not match what was sent."""


class AnchorMismatchError(SyncError):
    """An enrollment answer whose keys differ from the trust anchors the box was provisioned with."""


class CityKeyChangeError(SyncError):
    """A city key change that would strand dossiers the hub holds under the old key."""


class LocalIntegrityError(SyncError):
    """A dossier's local data failed verification; the dossier is quarantined."""


_BY_CODE_VI = {
    "station_revoked": "Trạm đã bị thành phố thu hồi quyền đồng bộ; dữ liệu tại trạm đã được xoá theo lệnh. Liên hệ bộ phận CNTT.",
    "unknown_station": "Thành phố không nhận ra trạm này (chưa đăng ký hoặc đã bị xoá); liên hệ bộ phận CNTT.",
    "bad_signature": "Khoá của trạm không khớp với khoá thành phố đã đăng ký; liên hệ bộ phận CNTT.",
    "unsigned": "Yêu cầu gửi lên thiếu chữ ký; liên hệ bộ phận CNTT.",
    "clock_skew": "Đồng hồ của trạm lệch quá nhiều so với thành phố; trạm sẽ tự chỉnh và gửi lại.",
    "replayed_request": "Một yêu cầu bị gửi lặp trên đường truyền; trạm sẽ gửi lại bằng yêu cầu mới.",
    "manifest_conflict": "Thành phố đã có một hồ sơ cùng số định danh nhưng nội dung khác; cần cán bộ kiểm tra.",
    "code_conflict": "Mã hồ sơ này đã được một hồ sơ khác sử dụng; cần cán bộ kiểm tra.",
    "code_out_of_partition": "Mã hồ sơ nằm ngoài dãy số thành phố cấp cho thiết bị này; cần cán bộ kiểm tra.",
    "code_after_retirement": "Mã hồ sơ được cấp sau khi thiết bị đã bị thay thế; cần cán bộ kiểm tra.",
    "forbidden": "Hồ sơ này thuộc về trạm khác; cần cán bộ kiểm tra.",
    "invalid_request": "Thành phố từ chối hồ sơ vì dữ liệu không hợp lệ; cần cán bộ kiểm tra.",
    "too_large": "Hồ sơ hoặc trang tài liệu vượt quá giới hạn kích thước của thành phố; cần cán bộ kiểm tra.",
    "rate_limited": "Máy chủ thành phố đang quá tải; trạm sẽ tự gửi lại sau.",
    "unavailable": "Máy chủ thành phố tạm thời không phục vụ; trạm sẽ tự gửi lại sau.",
    "request_timeout": "Đường truyền quá chậm, thành phố ngừng chờ dữ liệu; trạm sẽ tự gửi tiếp phần còn lại.",
    "insufficient_storage": "Máy chủ thành phố đã hết chỗ lưu trữ; trạm sẽ tự gửi lại sau.",
    "internal": "Máy chủ thành phố gặp lỗi; trạm sẽ tự gửi lại sau.",
    "unsupported_version": "Phiên bản phần mềm của trạm không tương thích với thành phố; cần cập nhật.",
    "checksum_mismatch": "Dữ liệu bị hỏng trên đường truyền; trạm sẽ gửi lại.",
    "blob_hash_mismatch": "Dữ liệu bị hỏng trên đường truyền; trạm sẽ gửi lại từ đầu.",
    "token_invalid": "Mã đăng ký không đúng hoặc không dành cho trạm này.",
    "token_expired": "Mã đăng ký đã hết hạn; xin mã mới từ bộ phận CNTT.",
    "token_used": "Mã đăng ký đã được dùng cho một thiết bị khác; xin mã mới từ bộ phận CNTT.",
}


def describe_vi(exc: BaseException) -> str:
    """One sentence in plain Vietnamese for a failure, for the sync panel."""
    if isinstance(exc, ApiError):
        text = _BY_CODE_VI.get(exc.code)
        if text:
            return text
        if exc.status >= 500:
            return _BY_CODE_VI["internal"]
        return f"Thành phố từ chối yêu cầu (mã lỗi {exc.code}); cần cán bộ kiểm tra."
    if isinstance(exc, TransportError | OSError | TimeoutError):
        if "timeout" in str(exc).lower() or isinstance(exc, TimeoutError):
            return "Máy chủ thành phố không trả lời kịp; hồ sơ vẫn được lưu an toàn tại trạm và sẽ tự gửi lại."
        return "Không kết nối được tới máy chủ thành phố; hồ sơ vẫn được lưu an toàn tại trạm và sẽ tự gửi lại."
    message_vi = getattr(exc, "message_vi", None)
    if message_vi:
        return message_vi
    return "Đồng bộ gặp lỗi không xác định; trạm sẽ tự thử lại. Nếu lỗi kéo dài, liên hệ bộ phận CNTT."


def is_transient(exc: BaseException) -> bool:
    """Retry later (with backoff) or stop and show a person?"""
    if isinstance(exc, ApiError):
        # Every attempt carries a fresh nonce, so a "replayed" answer can only be a duplicated
        # packet of an earlier attempt: retrying with a new nonce is safe (all calls idempotent).
        return exc.retryable or exc.code == "replayed_request"
    return isinstance(exc, TransportError | OSError | TimeoutError)
