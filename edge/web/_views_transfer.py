"""The sync panel's "write a stick" button: the box mounts the one USB stick udev sees (read-write,
by itself), writes a sealed transfer of every dossier the city has not confirmed, and unmounts."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from urllib.parse import quote

from aiohttp import web

from ._common import audit
from ._errors import HttpError
from ._keys import SETTINGS, STORE
from ._roles import allow

logger = logging.getLogger(__name__)


def _write_stick(store, cfg) -> int:
    """(thread) Find the stick, mount it, export, unmount; returns the number of dossiers written."""
    from sync.transfer import TransferError, export_transfer, find_sticks, mounted_stick

    sticks = find_sticks(filesystems=cfg.filesystems)
    if len(sticks) != 1:
        raise TransferError(f"{len(sticks)} USB sticks found",
                            message_vi="Hãy cắm đúng một thẻ nhớ USB vào trạm rồi bấm lại." if sticks else
                            "Không thấy thẻ nhớ USB nào: hãy cắm thẻ rồi bấm lại.")
    with mounted_stick(sticks[0], mount_dir=Path(cfg.mount_dir)) as point:
        return len(export_transfer(store, point).dossiers)


@allow("sync.kick")
async def sync_transfer(request: web.Request) -> web.StreamResponse:
    from sync.errors import SyncError

    try:
        n = await asyncio.to_thread(_write_stick, request.app[STORE], request.app[SETTINGS].transfer)
    except SyncError as exc:
        raise HttpError(409, "transfer_failed", str(exc), message_vi=exc.message_vi or "Ghi thẻ nhớ không thành công.") from exc
    await audit(request, "sync.transfer_export", dossiers=n)
    raise web.HTTPSeeOther("/sync?msg=" + quote(f"transfer:{n}"))


def setup(app: web.Application) -> None:
    app.router.add_post("/sync/transfer", sync_transfer)
