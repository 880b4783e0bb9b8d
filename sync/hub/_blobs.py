"""Blob bytes on the hub's disk: ``blobs/<aa>/<sha256>`` once verified, ``partial/<sha256>`` while
uploading. The offset of an upload is the size of its partial file; appends are serialised across
processes with an exclusive, non-blocking ``flock`` on the partial file.

An :class:`Appender`'s methods block (run them in a thread); a lock of its own keeps a write still
running in a thread from racing a last write, an fsync or the close of an interrupted request.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

from core.fsutil import fsync_dir

COPY_BLOCK = 1024 * 1024


class BlobLocked(Exception):
    """Another request is appending to this blob right now."""


class BlobFiles:
    def __init__(self, data_dir: Path) -> None:
        self.root = Path(data_dir)
        self.partial_dir = self.root / "partial"
        self.blob_dir = self.root / "blobs"
        self.partial_dir.mkdir(parents=True, exist_ok=True)
        self.blob_dir.mkdir(parents=True, exist_ok=True)
        self._fanout: set[str] = set()  # blobs/<aa> directories known to exist

    def final_path(self, sha256: str) -> Path:
        return self.blob_dir / sha256[:2] / sha256

    def partial_path(self, sha256: str) -> Path:
        return self.partial_dir / sha256

    def is_complete(self, sha256: str) -> bool:
        return self.final_path(sha256).exists()

    def offset(self, sha256: str, size: int) -> int:
        if self.is_complete(sha256):
            return size
        try:
            return self.partial_path(sha256).stat().st_size
        except FileNotFoundError:
            return 0

    def open_appender(self, sha256: str) -> Appender:
        """Open and lock the partial file (raises BlobLocked); the caller closes the appender."""
        fd = os.open(self.partial_path(sha256), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise BlobLocked(sha256) from None
        except BaseException:
            os.close(fd)
            raise
        return Appender(self, sha256, fd)

    @contextlib.contextmanager
    def appender(self, sha256: str) -> Iterator[Appender]:
        app = self.open_appender(sha256)
        try:
            yield app
        finally:
            app.close()

    def recover(self, sha256: str, size: int) -> bool:
        """A partial file holding every byte but not moved into place (the hub stopped between its
        fsync and the rename): verify and move it now. True if the blob is complete."""
        if self.is_complete(sha256):
            return True
        try:
            if self.partial_path(sha256).stat().st_size != size:
                return False
            app = self.open_appender(sha256)
        except (FileNotFoundError, BlobLocked):
            return False
        try:
            if app.discard_if_complete():
                return True
            return app.current_offset() == size and app.finish(size)
        finally:
            app.close()

    def fanout_dir(self, sha256: str) -> Path:
        name = sha256[:2]
        path = self.blob_dir / name
        if name not in self._fanout:
            path.mkdir(exist_ok=True)
            self._fanout.add(name)
        return path

    def open(self, sha256: str):
        return open(self.final_path(sha256), "rb")


class Appender:
    """Holds the lock on one partial file."""

    def __init__(self, files: BlobFiles, sha256: str, fd: int) -> None:
        self.files = files
        self.sha256 = sha256
        self.fd = fd
        self.received = 0  # bytes of the current request's chunk received so far
        self._lock = threading.Lock()

    def current_offset(self) -> int:
        return os.fstat(self.fd).st_size

    def append(self, pieces: Sequence[bytes], at: int, digest=None) -> int:
        """Write ``pieces`` one after the other from ``at`` (feeding ``digest``); returns the end."""
        with self._lock:
            if digest is None:
                return self._write(pieces, at)
            for piece in pieces:  # each piece hashed then written while it is in the CPU's cache
                digest.update(piece)
                at = self._write([piece], at)
            return at

    def _write(self, pieces: Sequence[bytes], at: int) -> int:
        views = [memoryview(p) for p in pieces if p]
        while views:
            n = os.pwritev(self.fd, views[:512], at)  # IOV_MAX is 1024 on Linux
            at += n
            while views and n >= len(views[0]):
                n -= len(views[0])
                views.pop(0)
            if n:
                views[0] = views[0][n:]
        return at

    def write(self, data: bytes, at: int) -> None:
        self.append([data], at)

    def sync(self) -> None:
        with self._lock:
            os.fsync(self.fd)

    def truncate(self, size: int) -> None:
        with self._lock:
            os.ftruncate(self.fd, size)
            os.fsync(self.fd)

    def finish(self, size: int, digest: str | None = None) -> bool:
        """Verify the whole blob and make it durable; True → moved into place; False → discarded.

        ``digest``: the SHA-256 of the whole file, when the caller hashed every byte while writing
        it in this very request (a blob sent in one chunk from offset 0); otherwise the file is read.
        """
        with self._lock:
            path = self.files.partial_path(self.sha256)
            if digest is None or os.fstat(self.fd).st_size != size:
                digest, read = self._hash_file()
            else:
                read = size
            if read != size or digest != self.sha256:
                os.ftruncate(self.fd, 0)
                os.fsync(self.fd)
                return False
            os.fsync(self.fd)
            final = self.files.fanout_dir(self.sha256) / self.sha256
            os.replace(path, final)
            # The rename is durable once the new entry is. Should the old entry come back after a
            # crash, the next appender drops it (discard_if_complete): no fsync of partial/.
            fsync_dir(final.parent)
            return True

    def _hash_file(self) -> tuple[str, int]:
        digest = hashlib.sha256()
        read = 0
        while block := os.pread(self.fd, COPY_BLOCK, read):
            digest.update(block)
            read += len(block)
        return digest.hexdigest(), read

    def discard_if_complete(self) -> bool:
        """After taking the lock: if the blob was completed meanwhile, drop the stray partial."""
        if self.files.is_complete(self.sha256):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.files.partial_path(self.sha256))
            return True
        return False

    def abort(self, pieces: Sequence[bytes], at: int) -> None:
        """An interrupted request: write what it still held and fsync (nothing once closed)."""
        with self._lock:
            if self.fd < 0:
                return
            self._write(pieces, at)
            os.fsync(self.fd)

    def close(self) -> None:
        """Release the lock (waits for a write still running in a thread)."""
        with self._lock:
            if self.fd >= 0:
                os.close(self.fd)
                self.fd = -1
