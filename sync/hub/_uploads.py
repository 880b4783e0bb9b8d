"""The lock on one blob's upload, the same for every way a blob reaches the hub: a box's chunks
(§6.3), a relay's (§14) and ``motcua hub import-transfer``.

Where the workers' landing zones are apart (S3), the lock is a lease in the database, taken first;
the partial file's ``flock`` follows in every case. Both are blocking calls: run them in a thread.
"""

from __future__ import annotations

import uuid

from sync.errors import ApiError
from sync.protocol import H_UPLOAD_LENGTH, H_UPLOAD_OFFSET

from ._blobs import Appender, BlobLocked, BlobStore
from ._core import Clock
from .storage import HubStorage

Lease = tuple[str, int]  # (holder, until ms)


def offset_error(current: int, size: int, message: str) -> ApiError:
    return ApiError(409, "offset_mismatch", message, extra={"offset": current},
                    headers={H_UPLOAD_OFFSET: str(current), H_UPLOAD_LENGTH: str(size)})


class BlobUploads:
    """Locks on blob uploads for one hub (its storage, its blob store, its clock)."""

    def __init__(self, storage: HubStorage, files: BlobStore, clock: Clock) -> None:
        self.storage = storage
        self.files = files
        self.clock = clock

    def new_lease(self, seconds: float) -> Lease | None:
        """A database lease for about ``seconds`` (a holder that dies frees the blob then) where
        the landing zones are apart; None where the partial file's lock is the lock."""
        if self.files.kind == "local":
            return None
        return uuid.uuid4().hex, self.clock() + int(seconds * 1000) + 5000

    def release(self, sha: str, lease: Lease | None) -> None:
        if lease is not None:
            self.storage.release_blob(sha, holder=lease[0])

    def open(self, sha: str, size: int, lease: Lease | None) -> Appender:
        """Take ``lease``, then the partial file's lock: 409 ``upload_locked`` if another holds
        either. On failure the lease is released here; else by the caller, after the appender."""
        if lease is not None and not self.storage.lease_blob(sha, holder=lease[0], until=lease[1], now=self.clock()):
            raise ApiError(409, "upload_locked", "another worker is writing this blob", headers={"Retry-After": "1"})
        try:
            return self.files.open_appender(sha, size)
        except BlobLocked:
            self.release(sha, lease)
            raise ApiError(409, "upload_locked", "another request is writing this blob",
                           extra={"offset": self.files.offset(sha, size)}, headers={"Retry-After": "1"}) from None
        except BaseException:
            self.release(sha, lease)
            raise

    def lock(self, sha: str, size: int, lease: Lease | None, *, offset: int) -> Appender:
        """:meth:`open`, and the upload must stand at ``offset`` (409 ``offset_mismatch`` else)."""
        app = self.open(sha, size, lease)
        try:
            if app.discard_if_complete():
                raise offset_error(size, size, "blob already complete")
            current = app.current_offset()
            if current != offset:
                raise offset_error(current, size, f"expected Upload-Offset {current}")
        except BaseException:
            app.close()
            self.release(sha, lease)
            raise
        return app
