"""The one table of Vietnamese words the box, the hub and the receipt show.

Standard library only; keys are the plain strings (or, for city statuses, the integers) the
code stores, so every layer can read this table without importing another's enums.

Document kinds: a copy that is not certified is a "Bản sao" (the national forms' word), on the
screen and on the printed receipt alike; "Bản sao chứng thực" is the certified copy.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType


def _frozen(table: dict) -> Mapping:
    return MappingProxyType(table)


# Local status of a dossier on the box.
DOSSIER_STATUS_VI: Mapping[str, str] = _frozen({
    "draft": "Đang nhập (nháp)",
    "finalized": "Đã tiếp nhận",
    "handed_over": "Đã trả kết quả",
    "shredded": "Đã xóa bản sao cục bộ",
})

# Where the dossier stands on its way to the city (the outbox state); "" = not queued yet.
OUTBOX_STATE_VI: Mapping[str, str] = _frozen({
    "": "Chưa gửi",
    "sealed": "Chờ gửi",
    "created": "Đang gửi",
    "uploading": "Đang tải lên",
    "committed": "Thành phố đã nhận (có biên nhận)",
    "confirmed": "Thành phố đã xác nhận",
    "shredded": "Đã xoá bản lưu tại trạm",
    "retry_wait": "Chờ thử lại",
    "rejected": "Bị từ chối — cần người xử lý",
    "quarantined": "Lỗi dữ liệu tại trạm — cần kiểm tra",
})

# The city's processing status of a dossier (protocol status numbers 1..10).
CITY_STATUS_VI: Mapping[int, str] = _frozen({
    1: "Đang tiếp nhận",
    2: "Mới tiếp nhận",
    3: "Bị từ chối",
    4: "Đang xử lý",
    5: "Chờ bổ sung hồ sơ",
    6: "Chờ nộp phí",
    7: "Đã hủy",
    8: "Không giải quyết được",
    9: "Chờ trả kết quả",
    10: "Đã trả kết quả",
})

# Kinds of the papers of a procedure's components.
DOCUMENT_KIND_VI: Mapping[str, str] = _frozen({
    "original": "Bản chính",
    "certified_copy": "Bản sao chứng thực",
    "photocopy": "Bản sao",
})

CHANNEL_VI: Mapping[str, str] = _frozen({
    "direct": "Trực tiếp",
    "online": "Trực tuyến",
    "postal": "Bưu chính",
})

TIME_UNIT_VI: Mapping[str, str] = _frozen({
    "working_days": "ngày làm việc",
    "working_hours": "giờ làm việc",
})

PAYMENT_METHOD_VI: Mapping[str, str] = _frozen({
    "cash": "Tiền mặt",
    "vietqr": "Chuyển khoản (VietQR)",
})

ROLE_VI: Mapping[str, str] = _frozen({
    "clerk": "Cán bộ tiếp nhận",
    "supervisor": "Lãnh đạo / giám sát",
    "admin": "Quản trị",
})

WEEKDAY_VI: tuple[str, ...] = ("Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy", "Chủ Nhật")


def city_status_vi(status: object) -> str:
    """The words of a city status given as a number or its text ("10"); unknown: as given."""
    try:
        return CITY_STATUS_VI[int(str(status))]
    except (KeyError, ValueError):
        return str(status)


def outbox_state_vi(state: object) -> str:
    """The words of an outbox state (a StrEnum member or its value); None: not queued yet."""
    key = "" if state is None else str(getattr(state, "value", state))
    return OUTBOX_STATE_VI.get(key, key)


__all__ = ["CHANNEL_VI", "CITY_STATUS_VI", "DOCUMENT_KIND_VI", "DOSSIER_STATUS_VI", "OUTBOX_STATE_VI",
           "PAYMENT_METHOD_VI", "ROLE_VI", "TIME_UNIT_VI", "WEEKDAY_VI", "city_status_vi", "outbox_state_vi"]
