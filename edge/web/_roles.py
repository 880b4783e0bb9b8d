"""Who may do what: the role matrix, checked on every route and API call.

Every handler declares the permission it needs with :func:`allow`; a route without a declaration
is refused (deny by default).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

PUBLIC = "public"

# permission → roles holding it
MATRIX: dict[str, frozenset[str]] = {
    "dossier.read": frozenset({"clerk", "supervisor", "admin"}),
    "dossier.write": frozenset({"clerk", "supervisor", "admin"}),
    "dossier.handover": frozenset({"clerk", "supervisor", "admin"}),
    "dossier.override": frozenset({"supervisor", "admin"}),
    "devices.view": frozenset({"clerk", "supervisor", "admin"}),
    "devices.scan": frozenset({"clerk", "supervisor", "admin"}),
    "sync.view": frozenset({"clerk", "supervisor", "admin"}),
    "sync.kick": frozenset({"clerk", "supervisor", "admin"}),
    "status.view": frozenset({"clerk", "supervisor", "admin"}),
    "accounts.unlock": frozenset({"supervisor", "admin"}),
    "accounts.manage": frozenset({"admin"}),
    "session": frozenset({"clerk", "supervisor", "admin"}),
}

PERMISSION_VI = {
    "dossier.read": "xem hồ sơ",
    "dossier.write": "tiếp nhận hồ sơ",
    "dossier.handover": "trả kết quả",
    "dossier.override": "duyệt hồ sơ thiếu thành phần",
    "devices.view": "xem thiết bị",
    "devices.scan": "quét tài liệu",
    "sync.view": "xem đồng bộ",
    "sync.kick": "đồng bộ ngay",
    "status.view": "xem trạng thái",
    "accounts.unlock": "mở khóa tài khoản",
    "accounts.manage": "quản lý tài khoản",
    "session": "đăng nhập",
}


def has(role: str | None, permission: str) -> bool:
    return permission == PUBLIC or (role is not None and role in MATRIX.get(permission, ()))


def allow(permission: str, *, csrf: str = "auto") -> Callable[[Any], Any]:
    """Declare a handler's permission. ``csrf``: "auto" (checked by the middleware for unsafe
    methods), or "handler" (the handler checks it itself, e.g. first part of a multipart upload)."""
    if permission != PUBLIC and permission not in MATRIX:
        raise ValueError(f"unknown permission {permission!r}")

    def mark(fn: Any) -> Any:
        fn.__motcua_permission__ = permission
        fn.__motcua_csrf__ = csrf
        return fn

    return mark


def permission_of(handler: Any) -> tuple[str | None, str]:
    return getattr(handler, "__motcua_permission__", None), getattr(handler, "__motcua_csrf__", "auto")
