"""Keyset pagination of the dossier list: an opaque cursor for ``Store.list(before=...)``.

The cursor is ``(created_at, counter)`` of the last row shown, base64url-encoded: it names a
position in the list, nothing personal. A deep page costs as much as the first one.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from typing import TYPE_CHECKING, Any

from edge.errors import ValidationError

if TYPE_CHECKING:
    from edge.store import Store


def encode_cursor(key: tuple[str, int]) -> str:
    created_at, counter = key
    return base64.urlsafe_b64encode(f"{created_at}|{int(counter)}".encode()).decode().rstrip("=")


def decode_cursor(value: str, *, field: str = "before") -> tuple[str, int]:
    bad = ValidationError(field, "not a cursor of this list",
                          message_vi="Con trỏ trang không hợp lệ: hãy quay lại trang đầu danh sách.")
    if not value or len(value) > 120:
        raise bad
    try:
        text = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode("ascii")
        created_at, _, counter = text.partition("|")
        dt.datetime.fromisoformat(created_at)
        number = int(counter)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise bad from None
    if number < 0:
        raise bad
    return created_at, number


def list_page(store: Store, *, limit: int, offset: int = 0, status: str | None = None,
              before: str | None = None) -> tuple[list[Any], str | None]:
    """One page of summaries and the cursor of the next page (None on the last page)."""
    key = decode_cursor(before) if before else None
    rows = store.list(limit=limit + 1, offset=offset, status=status, before=key)
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    last = store.list_cursor(rows[-1].id)
    return rows, encode_cursor(last) if last else None


def list_page_json(store: Store, *, limit: int, offset: int = 0, status: str | None = None,
                   before: str | None = None) -> tuple[list[str], str | None]:
    """:func:`list_page` as the summaries' JSON texts (``Store.list_json``), in one query."""
    key = decode_cursor(before) if before else None
    rows = store.list_json(limit=limit + 1, offset=offset, status=status, before=key)
    if len(rows) <= limit:
        return [r[0] for r in rows], None
    _text, created_at, counter = rows[limit - 1]
    return [r[0] for r in rows[:limit]], encode_cursor((created_at, counter))
