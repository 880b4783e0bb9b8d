"""The hub's blob storage behind one interface, :class:`BlobStore` (docs/deploy.md, "Blob storage").

Every backend receives a chunk into the receiving worker's landing zone, ``partial/<sha256>`` in the
data directory: written as it arrives, fsynced at the chunk's end or when the connection breaks,
guarded by the whole blob's SHA-256. Appends are serialised with an exclusive, non-blocking
``flock`` on the partial file. Where a verified blob then lives is the backend's:

- :class:`LocalBlobStore` (the default): ``blobs/<aa>/<sha256>`` in the data directory; the offset
  of an upload is the size of its partial file.
- :class:`sync.hub.S3BlobStore`: an S3 bucket, the object named by the blob's SHA-256
  (``sync/hub/_s3.py``).

The public names, used by the HTTP handlers, ``hub open`` and the connector: ``is_complete``,
``offset``, ``open_appender`` / ``appender``, ``recover``, ``open`` (a reader that checks the
SHA-256 at its end), ``verify`` (quarantines a blob whose bytes do not match), ``check`` (the
backend answers), ``close``; errors :class:`BlobLocked`, :class:`BlobUnavailable`,
:class:`BlobCorrupt`, :class:`BlobConfigError`.

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
from sync.errors import HubError

COPY_BLOCK = 1024 * 1024


class BlobLocked(Exception):
    """Another request is appending to this blob right now."""


class BlobUnavailable(HubError):
    """The blob storage does not answer (or refuses): the hub answers 503, nothing is lost."""


class BlobConfigError(HubError):
    """The blob storage is misconfigured: wrong credentials, a missing bucket, a bad URL."""


class BlobCorrupt(HubError):
    """A stored blob's bytes do not match its SHA-256: it was quarantined."""

    def __init__(self, sha256: str, where: str) -> None:
        super().__init__(f"blob {sha256} does not match its SHA-256: quarantined as {where}")
        self.sha256 = sha256
        self.where = where


class HashingReader:
    """A blob's bytes as read; at their end the SHA-256 is checked (``on_mismatch`` quarantines)."""

    def __init__(self, raw, sha256: str, on_mismatch) -> None:
        self.raw = raw
        self.sha256 = sha256
        self.digest = hashlib.sha256()
        self.on_mismatch = on_mismatch
        self.checked = False

    def read(self, n: int = -1) -> bytes:
        data = self.raw.read(n)
        self.digest.update(data)
        if not data and n != 0 and not self.checked:
            self.checked = True
            if self.digest.hexdigest() != self.sha256:
                self.close()
                raise self.on_mismatch(self.sha256)
        return data

    def close(self) -> None:
        self.raw.close()

    def __enter__(self) -> HashingReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class LocalBlobStore:
    """Blobs in the data directory (one host, or a shared file system)."""

    kind = "local"

    def __init__(self, data_dir: Path) -> None:
        self.root = Path(data_dir)
        self.partial_dir = self.root / "partial"
        self.blob_dir = self.root / "blobs"
        self.quarantine_dir = self.root / "quarantine"
        self.partial_dir.mkdir(parents=True, exist_ok=True)
        self.blob_dir.mkdir(parents=True, exist_ok=True)
        self._fanout: set[str] = set()  # blobs/<aa> directories known to exist

    def check(self) -> None:
        """Raise unless the storage answers (start-up check)."""

    def close(self) -> None:
        pass

    def describe(self) -> str:
        return f"local {self.blob_dir}"

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

    def _lock_partial(self, sha256: str) -> int:
        fd = os.open(self.partial_path(sha256), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise BlobLocked(sha256) from None
        except BaseException:
            os.close(fd)
            raise
        return fd

    def open_appender(self, sha256: str, size: int | None = None) -> Appender:
        """Open and lock the partial file (raises BlobLocked); the caller closes the appender.
        ``size``: the blob's, when known (a backend may save a look-up with it)."""
        return Appender(self, sha256, self._lock_partial(sha256))

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
        return finish_if_whole(app, size)

    def fanout_dir(self, sha256: str) -> Path:
        name = sha256[:2]
        path = self.blob_dir / name
        if name not in self._fanout:
            path.mkdir(exist_ok=True)
            self._fanout.add(name)
        return path

    def open(self, sha256: str) -> HashingReader:
        """A reader of a complete blob (raises BlobUnavailable when it cannot be read)."""
        try:
            raw = open(self.final_path(sha256), "rb")
        except FileNotFoundError:
            raise BlobUnavailable(f"blob {sha256} is not in {self.blob_dir}") from None
        return HashingReader(raw, sha256, self._quarantine)

    def verify(self, sha256: str) -> bool:
        """Read a complete blob whole: True if it matches its SHA-256; else it is quarantined."""
        try:
            with self.open(sha256) as r:
                while r.read(COPY_BLOCK):
                    pass
        except BlobCorrupt:
            return False
        return True

    def _quarantine(self, sha256: str) -> BlobCorrupt:
        self.quarantine_dir.mkdir(exist_ok=True)
        where = self.quarantine_dir / sha256
        with contextlib.suppress(FileNotFoundError):
            os.replace(self.final_path(sha256), where)
            fsync_dir(self.quarantine_dir)
        return BlobCorrupt(sha256, str(where))

    def publish(self, app: Appender, size: int) -> None:
        """(lock held, bytes verified and fsynced) Put the partial file in place under its hash."""
        final = self.fanout_dir(app.sha256) / app.sha256
        os.replace(self.partial_path(app.sha256), final)
        # The rename is durable once the new entry is. Should the old entry come back after a
        # crash, the next appender drops it (discard_if_complete): no fsync of partial/.
        fsync_dir(final.parent)

    def after_sync(self, app: Appender) -> None:
        """(lock held) A chunk's bytes were fsynced in the landing zone."""


BlobStore = LocalBlobStore  # the interface every backend implements (S3BlobStore subclasses it)
BlobFiles = LocalBlobStore  # the earlier name


def open_blob_store(data_dir: Path, config: dict | None = None, *, access_key: str | None = None,
                    secret_key: str | None = None) -> BlobStore:
    """The blob store a hub's configuration names (``blobs`` in ``hub.json``; none → local).

    S3 credentials come from ``access_key``/``secret_key`` (in-process use), else botocore's chain:
    ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY`` or the credentials file. Never from hub.json.
    """
    if config is None:
        from ._keys import read_config

        config = read_config(data_dir).get("blobs")
    if not config:
        return LocalBlobStore(data_dir)
    if not isinstance(config, dict):
        raise BlobConfigError("the blobs configuration must be an object")
    from ._s3 import S3BlobStore, S3Config

    return S3BlobStore(data_dir, S3Config.from_dict(config), access_key=access_key, secret_key=secret_key)


def finish_if_whole(app: Appender, size: int) -> bool:
    """(recover) Complete an upload whose landing zone holds all ``size`` bytes; closes ``app``."""
    try:
        if app.discard_if_complete():
            return True
        return app.current_offset() == size and app.finish(size)
    finally:
        app.close()


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
            self.files.after_sync(self)

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
            if not self.verify_local(size, digest):
                return False
            os.fsync(self.fd)
            self.files.publish(self, size)
            return True

    def verify_local(self, size: int, digest: str | None) -> bool:
        """(lock held) The partial file holds the blob whole and matches its id; else it is emptied."""
        if digest is None or os.fstat(self.fd).st_size != size:
            digest, read = self._hash_file()
        else:
            read = size
        if read != size or digest != self.sha256:
            self.reset()
            return False
        return True

    def reset(self) -> None:
        os.ftruncate(self.fd, 0)
        os.fsync(self.fd)

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
            with contextlib.suppress(HubError):  # best effort: the bytes are durable here anyway
                self.files.after_sync(self)

    def close(self) -> None:
        """Release the lock (waits for a write still running in a thread)."""
        with self._lock:
            if self.fd >= 0:
                os.close(self.fd)
                self.fd = -1
