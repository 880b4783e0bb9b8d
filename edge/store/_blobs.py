"""Immutable encrypted blob files named by the SHA-256 of their ciphertext.

Write order: ``tmp/`` → rename into ``blobs/xx/`` → made durable (file and directory entry: an
fsync of each, or one ``syncfs`` for all the pages of a dossier, see :meth:`BlobStore.sync`). Only after that
does the caller commit the row that references the blob, so a crash leaves at most an
unreferenced blob or a temporary file, which start-up removes and reports.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import re
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from edge.errors import IntegrityError, NotFoundError, StoreError

from ._fsutil import fsync_dir, syncfs

logger = logging.getLogger(__name__)
_NAME = re.compile(r"^[0-9a-f]{64}$")
_BATCH = 1 << 20  # bytes of ciphertext gathered into one writev


def _write_error(exc: OSError) -> StoreError:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return StoreError("disk full while writing a page: nothing was saved",
                          message_vi="Bộ nhớ thiết bị đã đầy: trang chưa được lưu.")
    return StoreError(f"could not write a page blob: {exc}")


def _writev_all(fd: int, chunks: list[bytes]) -> None:
    views = [memoryview(c) for c in chunks if c]
    while views:
        n = os.writev(fd, views)
        while views and n >= len(views[0]):
            n -= len(views[0])
            views.pop(0)
        if views and n:
            views[0] = views[0][n:]


@dataclass(frozen=True, slots=True, kw_only=True)
class WrittenBlob:
    name: str
    size: int


class BlobStore:
    """Content-addressed files under ``root/blobs`` with a private ``root/tmp``."""

    def __init__(self, root: Path) -> None:
        self.dir = root / "blobs"
        self.tmp = root / "tmp"

    def ensure(self) -> None:
        self.dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.tmp.mkdir(mode=0o700, parents=True, exist_ok=True)

    def path(self, name: str) -> Path:
        if not _NAME.match(name):
            raise IntegrityError(f"invalid blob name {name!r}")
        return self.dir / name[:2] / name

    def write(self, chunks: Iterable[bytes], *, durable: bool = True) -> WrittenBlob:
        """Write a stream of ciphertext chunks; returns its name (SHA-256) and size.

        Chunks are written in batches of about 1 MiB (one ``writev`` each), to ``tmp/`` then
        renamed into ``blobs/xx/``. With ``durable`` the file and its directory are fsynced
        before returning; without, the caller makes a batch of blobs durable at once with
        :meth:`sync` — in any case *before* it commits a row that references them. Until then a
        blob is unreferenced, so a crash in between leaves at most an unreferenced (possibly
        torn) blob that start-up removes.
        """
        tmp = self.tmp / f"{os.getpid()}-{time.monotonic_ns()}.part"
        digest = hashlib.sha256()
        size = 0
        final: Path | None = None
        fd = -1
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            batch: list[bytes] = []
            batched = 0
            for chunk in chunks:
                digest.update(chunk)
                batch.append(chunk)
                batched += len(chunk)
                if batched >= _BATCH:
                    _writev_all(fd, batch)
                    size += batched
                    batch, batched = [], 0
            if batch:
                _writev_all(fd, batch)
                size += batched
            name = digest.hexdigest()
            final = self.dir / name[:2] / name
            final.parent.mkdir(mode=0o700, exist_ok=True)
            os.replace(tmp, final)
            if durable:
                os.fsync(fd)
            os.close(fd)
            fd = -1
            if durable:
                fsync_dir(final.parent)
        except OSError as exc:
            self._discard(fd, tmp, final)
            raise _write_error(exc) from exc
        except BaseException:
            self._discard(fd, tmp, final)
            raise
        return WrittenBlob(name=name, size=size)

    def sync(self, names: Iterable[str]) -> None:
        """Make blobs written with ``durable=False`` durable, data and names: one ``syncfs`` of
        the store's file system where the system has it, else an fsync of each file and of each
        of their directories. Raises StoreError (the caller deletes the blobs) if it fails."""
        names = list(names)
        if not names:
            return
        try:
            if syncfs(self.dir):
                return
            dirs: set[Path] = set()
            for name in names:
                path = self.path(name)
                fd = os.open(path, os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
                dirs.add(path.parent)
            for d in dirs:
                fsync_dir(d)
        except OSError as exc:
            raise _write_error(exc) from exc

    @staticmethod
    def _discard(fd: int, tmp: Path, final: Path | None) -> None:
        if fd >= 0:
            os.close(fd)
        tmp.unlink(missing_ok=True)
        if final is not None:
            final.unlink(missing_ok=True)

    def open(self, name: str):
        try:
            return open(self.path(name), "rb")
        except FileNotFoundError:
            raise NotFoundError(f"blob {name} is missing") from None

    def read_chunks(self, name: str, size: int = 1 << 20) -> Iterator[bytes]:
        with self.open(name) as fh:
            while block := fh.read(size):
                yield block

    def verify_hash(self, name: str) -> None:
        digest = hashlib.sha256()
        for block in self.read_chunks(name):
            digest.update(block)
        if digest.hexdigest() != name:
            raise IntegrityError(f"blob {name} does not match its hash (corrupted or altered)")

    def delete(self, names: Iterable[str], *, best_effort: bool = False) -> None:
        """Remove blobs and fsync their directories. ``best_effort`` (removing the blobs of a
        write that failed, which no row references): an error is logged, not raised, so it does
        not hide the failure being handled; what is left is swept at the next start."""
        dirs: set[Path] = set()
        try:
            for name in names:
                p = self.path(name)
                try:
                    p.unlink()
                    dirs.add(p.parent)
                except FileNotFoundError:
                    pass
            for d in dirs:
                fsync_dir(d)
        except OSError as exc:
            if not best_effort:
                raise
            logger.warning("could not remove the blobs of a failed write (removed at next start): %s", exc)

    def all_names(self) -> Iterator[str]:
        if not self.dir.exists():
            return
        for sub in self.dir.iterdir():
            if sub.is_dir():
                for f in sub.iterdir():
                    if _NAME.match(f.name):
                        yield f.name

    def clear_tmp(self) -> int:
        """Remove temporary files left by an interrupted write; returns how many."""
        count = 0
        if self.tmp.exists():
            for f in self.tmp.iterdir():
                f.unlink(missing_ok=True)
                count += 1
        return count
