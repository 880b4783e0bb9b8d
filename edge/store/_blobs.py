"""Immutable encrypted blob files named by the SHA-256 of their ciphertext.

Write order: ``tmp/`` → fsync → rename into ``blobs/xx/`` → fsync the directory. Only after that
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

from ._fsutil import fsync_dir

logger = logging.getLogger(__name__)
_NAME = re.compile(r"^[0-9a-f]{64}$")


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

    def write(self, chunks: Iterable[bytes]) -> WrittenBlob:
        """Write a stream of ciphertext chunks durably; returns its name (SHA-256) and size."""
        tmp = self.tmp / f"{os.getpid()}-{time.monotonic_ns()}.part"
        digest = hashlib.sha256()
        size = 0
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb", buffering=0) as fh:
                for chunk in chunks:
                    digest.update(chunk)
                    fh.write(chunk)
                    size += len(chunk)
                os.fsync(fh.fileno())
            name = digest.hexdigest()
            final = self.dir / name[:2] / name
            final.parent.mkdir(mode=0o700, exist_ok=True)
            os.replace(tmp, final)
            fsync_dir(final.parent)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise StoreError("disk full while writing a page: nothing was saved",
                                 message_vi="Bộ nhớ thiết bị đã đầy: trang chưa được lưu.") from exc
            raise StoreError(f"could not write a page blob: {exc}") from exc
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return WrittenBlob(name=name, size=size)

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

    def delete(self, names: Iterable[str]) -> None:
        dirs: set[Path] = set()
        for name in names:
            p = self.path(name)
            try:
                p.unlink()
                dirs.add(p.parent)
            except FileNotFoundError:
                pass
        for d in dirs:
            fsync_dir(d)

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
