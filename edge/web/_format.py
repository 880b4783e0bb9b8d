"""Jinja filters: Vietnamese dates, money, and the names of states."""

from __future__ import annotations

import datetime as dt
from typing import Any

import jinja2

from edge.store import VN_TZ

STATUS_VI = {
    "draft": "Đang nhập (nháp)",
    "finalized": "Đã tiếp nhận",
    "handed_over": "Đã trả kết quả",
    "shredded": "Đã xóa bản sao cục bộ",
}
SYNC_VI = {
    None: "Chưa gửi",
    "sealed": "Chờ gửi",
    "created": "Đang gửi",
    "uploading": "Đang tải lên",
    "committed": "Thành phố đã nhận",
    "confirmed": "Thành phố đã xác nhận",
    "shredded": "Đã xác nhận, đã xóa cục bộ",
    "retry_wait": "Chờ thử lại",
    "rejected": "Bị từ chối (cần xử lý)",
    "quarantined": "Tạm giữ (cần xử lý)",
}
try:  # the sync client's own names for its states, when it is installed
    from sync.client import LABELS_VI as _SYNC_LABELS

    SYNC_VI.update({str(k.value if hasattr(k, "value") else k): v for k, v in _SYNC_LABELS.items()})
except ImportError:  # pragma: no cover - the web app also runs without the sync package
    pass

CITY_STATUS_VI = {
    "1": "Đang tiếp nhận", "2": "Mới tiếp nhận", "3": "Từ chối", "4": "Đang xử lý",
    "5": "Chờ bổ sung", "6": "Chờ thanh toán", "7": "Đã hủy", "8": "Không giải quyết được",
    "9": "Đang trả kết quả", "10": "Đã có kết quả",
}
KIND_VI = {"original": "Bản chính", "certified_copy": "Bản sao chứng thực", "photocopy": "Bản sao"}
CHANNEL_VI = {"direct": "Trực tiếp", "online": "Trực tuyến", "postal": "Bưu chính"}


def parse_when(value: Any) -> dt.datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time())
    try:
        return dt.datetime.fromisoformat(str(value))
    except ValueError:
        return None


def local(value: Any) -> dt.datetime | None:
    when = parse_when(value)
    if when is not None and when.tzinfo is not None:
        when = when.astimezone(VN_TZ)  # the box's wall clock may be UTC; clerks read Vietnam time
    return when


def vn_datetime(value: Any) -> str:
    when = local(value)
    return when.strftime("%H:%M ngày %d/%m/%Y") if when else "—"


def vn_date(value: Any) -> str:
    when = local(value)
    return when.strftime("%d/%m/%Y") if when else "—"


def money(value: Any) -> str:
    try:
        amount = int(value)
    except (TypeError, ValueError):
        return "—"
    return f"{amount:,}".replace(",", ".") + " đồng"


def age(seconds: Any) -> str:
    if seconds is None:
        return "—"
    s = int(seconds)
    if s < 60:
        return f"{s} giây"
    if s < 3600:
        return f"{s // 60} phút"
    if s < 86400:
        return f"{s // 3600} giờ {s % 3600 // 60} phút"
    return f"{s // 86400} ngày {s % 86400 // 3600} giờ"


def register_filters(env: jinja2.Environment) -> None:
    env.filters.update({
        "vn_datetime": vn_datetime, "vn_date": vn_date, "money": money, "age": age,
        "status_vi": lambda s: STATUS_VI.get(s, s or "—"),
        "sync_vi": lambda s: SYNC_VI.get(s, s or "—"),
        "city_vi": lambda s: CITY_STATUS_VI.get(str(s), s) if s else "—",
        "kind_vi": lambda s: KIND_VI.get(s, s),
        "channel_vi": lambda s: CHANNEL_VI.get(s, s),
    })
