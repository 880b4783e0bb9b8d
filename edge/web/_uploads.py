"""Page uploads: check the magic bytes, bound the size, stream into the encrypted store.

The plaintext never touches the disk: chunks go from the socket to ``store.add_page`` (which
encrypts as it writes), the store running in a worker thread that pulls chunks from the loop.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from edge.errors import ValidationError
from edge.services import SNIFF_BYTES, sniff
from edge.store import Store

_HEAD = SNIFF_BYTES


def too_large(limit_mb: int) -> ValidationError:
    return ValidationError("file", f"larger than {limit_mb} MB",
                           message_vi=f"Tệp vượt quá dung lượng cho phép ({limit_mb} MB). Vui lòng quét lại với độ phân giải thấp hơn hoặc chia nhỏ tệp.")


async def save_stream(store: Store, dossier_id: str, *, component: str, actor: str, limit_mb: int,
                      read: Callable[[], Awaitable[bytes]]) -> Any:
    """Read the first bytes, check them, then stream the rest into ``store.add_page``."""
    limit = limit_mb * 1024 * 1024
    head = b""
    while len(head) < _HEAD:
        chunk = await read()
        if not chunk:
            break
        head += chunk
    if not head:
        raise ValidationError("file", "the file is empty", message_vi="Tệp tải lên trống (0 byte).")
    if len(head) > limit:
        raise too_large(limit_mb)
    media_type = sniff(head)
    if media_type is None:
        raise ValidationError("file", "not a PDF, PNG, JPEG or TIFF file (checked by content)",
                              message_vi="Tệp không phải ảnh (JPEG, PNG, TIFF) hoặc PDF. Chỉ nhận ảnh chụp/quét hoặc tệp PDF.")
    loop = asyncio.get_running_loop()

    def chunks() -> Iterator[bytes]:
        total = len(head)
        yield head
        while True:
            more = asyncio.run_coroutine_threadsafe(read(), loop).result()
            if not more:
                return
            total += len(more)
            if total > limit:
                raise too_large(limit_mb)
            yield more

    add = functools.partial(store.add_page, dossier_id, chunks(), component=component,
                            media_type=media_type, actor=actor)
    return await loop.run_in_executor(None, add)
