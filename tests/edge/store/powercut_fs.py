"""A FUSE filesystem that loses, at a "power cut", everything that was not flushed (mfusepy, libfuse 3).

Run: python -m tests.edge.store.powercut_fs IMAGE MOUNTPOINT OUT CUT_AT SEED

It serves the tree copied from the directory IMAGE (all of it durable, as after a clean boot) at
MOUNTPOINT, from memory. The disk it models is hostile but honest, like a journaling filesystem
in its weakest mode:

* a file's bytes become durable only by ``fsync``/``fdatasync`` of that file;
* the namespace (create, rename, unlink, mkdir, rmdir) is journalled: each change is written in
  order, and all of it up to now becomes durable at any ``fsync`` of a file or a directory;
* at the cut, each file keeps its last synced bytes plus a random prefix of the writes made since
  (a torn write: the disk wrote some sectors and not others), and the namespace keeps its last
  durable state plus a random prefix of the changes since.

At the CUT_AT-th changing operation (write, truncate, create, rename, unlink, mkdir, rmdir, fsync)
the power goes: the durable image is written to the directory OUT, the file ``OUT.done`` is
created, and from then on every operation fails with EIO until the filesystem is unmounted.
"""

from __future__ import annotations

import ctypes.util
import errno
import os
import random
import stat
import sys
import threading
import time
from pathlib import Path

# libfuse 3 (Debian's fuse3 / libfuse3-3), even where libfuse 2 is installed too.
os.environ.setdefault("FUSE_LIBRARY_PATH", ctypes.util.find_library("fuse3") or "libfuse3.so.3")

import mfusepy as fuse


class Node:
    __slots__ = ("data", "is_dir", "mode", "mtime", "pending", "synced")

    def __init__(self, *, is_dir: bool, mode: int, data: bytes = b"") -> None:
        self.is_dir = is_dir
        self.mode = mode
        self.data = bytearray(data)  # what the running system sees
        self.synced = bytes(data)  # what the disk holds for sure
        self.pending: list[tuple[str, int, bytes]] = []  # writes and truncations since the last sync
        self.mtime = time.time_ns()


class PowerCutFS(fuse.Operations):
    use_ns = True  # times in nanoseconds

    def __init__(self, image: Path, out: Path, cut_at: int, seed: int) -> None:
        self.rng = random.Random(seed)
        self.out = out
        self.cut_at = cut_at
        self.ops = 0
        self.dead = False
        self.mutex = threading.Lock()
        self.ns: dict[str, Node] = {"/": Node(is_dir=True, mode=0o755)}
        for path in sorted(image.rglob("*")):
            rel = "/" + path.relative_to(image).as_posix()
            mode = stat.S_IMODE(path.lstat().st_mode)
            if path.is_dir():
                self.ns[rel] = Node(is_dir=True, mode=mode)
            elif path.is_file():
                self.ns[rel] = Node(is_dir=False, mode=mode, data=path.read_bytes())
        self.durable_ns = dict(self.ns)
        self.ns_journal: list[dict[str, Node]] = []  # the namespace after each change since durable_ns
        self.fhs: dict[int, Node] = {}
        self.next_fh = 1

    # --- the power ----------------------------------------------------------------------------

    def _changing(self) -> None:
        """Count a changing operation; at the chosen one, cut the power."""
        if self.dead:
            raise fuse.FuseOSError(errno.EIO)
        self.ops += 1
        if self.ops >= self.cut_at:
            self._cut()
            raise fuse.FuseOSError(errno.EIO)

    def _alive(self) -> None:
        if self.dead:
            raise fuse.FuseOSError(errno.EIO)

    def _cut(self) -> None:
        self.dead = True
        keep = self.rng.randint(0, len(self.ns_journal))
        names = self.ns_journal[keep - 1] if keep else self.durable_ns
        self.out.mkdir(parents=True)
        for rel in sorted(names):
            node = names[rel]
            target = self.out / rel.lstrip("/") if rel != "/" else self.out
            if node.is_dir:
                target.mkdir(mode=node.mode, exist_ok=True)
                continue
            content = bytearray(node.synced)
            pending = node.pending[: self.rng.randint(0, len(node.pending))]
            for kind, offset, data in pending:
                _apply(content, kind, offset, data)
            target.write_bytes(bytes(content))
            target.chmod(node.mode)
        Path(f"{self.out}.done").write_text(f"{self.ops} {keep}/{len(self.ns_journal)}\n")

    def _commit(self) -> None:
        """A journal commit: the namespace as it is now is durable."""
        self.durable_ns = dict(self.ns)
        self.ns_journal.clear()

    def _ns_changed(self) -> None:
        self.ns_journal.append(dict(self.ns))

    # --- helpers ------------------------------------------------------------------------------

    def _node(self, path: str | None, fh: int | None = None) -> Node:
        if fh and fh in self.fhs:
            return self.fhs[fh]
        node = self.ns.get(path) if path is not None else None
        if node is None:
            raise fuse.FuseOSError(errno.ENOENT)
        return node

    def _open_fh(self, node: Node) -> int:
        fh = self.next_fh
        self.next_fh += 1
        self.fhs[fh] = node
        return fh

    @staticmethod
    def _parent(path: str) -> str:
        return os.path.dirname(path) or "/"

    def _children(self, path: str) -> list[str]:
        prefix = path.rstrip("/") + "/"
        return [p[len(prefix):] for p in self.ns if p != "/" and p.startswith(prefix) and "/" not in p[len(prefix):]]

    # --- operations ---------------------------------------------------------------------------

    def getattr(self, path, fh=None):
        with self.mutex:
            self._alive()
            node = self._node(path, fh)
            kind = stat.S_IFDIR if node.is_dir else stat.S_IFREG
            return {"st_mode": kind | node.mode, "st_nlink": 2 if node.is_dir else 1,
                    "st_size": 0 if node.is_dir else len(node.data), "st_uid": os.getuid(), "st_gid": os.getgid(),
                    "st_atime": node.mtime, "st_mtime": node.mtime, "st_ctime": node.mtime}

    def readdir(self, path, fh):
        with self.mutex:
            self._alive()
            if not self._node(path).is_dir:
                raise fuse.FuseOSError(errno.ENOTDIR)
            return [".", "..", *self._children(path)]

    def opendir(self, path):
        with self.mutex:
            self._alive()
            return self._open_fh(self._node(path))

    def releasedir(self, path, fh):
        with self.mutex:
            self.fhs.pop(fh, None)
            return 0

    def access(self, path, amode):
        with self.mutex:
            self._alive()
            self._node(path)
            return 0

    def mkdir(self, path, mode):
        with self.mutex:
            self._changing()
            if path in self.ns:
                raise fuse.FuseOSError(errno.EEXIST)
            self._node(self._parent(path))
            self.ns[path] = Node(is_dir=True, mode=mode & 0o7777)
            self._ns_changed()
            return 0

    def rmdir(self, path):
        with self.mutex:
            self._changing()
            node = self._node(path)
            if not node.is_dir:
                raise fuse.FuseOSError(errno.ENOTDIR)
            if self._children(path):
                raise fuse.FuseOSError(errno.ENOTEMPTY)
            del self.ns[path]
            self._ns_changed()
            return 0

    def create(self, path, mode, fi=None):
        with self.mutex:
            self._changing()
            node = self.ns.get(path)
            if node is None:
                self._node(self._parent(path))
                node = self.ns[path] = Node(is_dir=False, mode=mode & 0o7777)
                self._ns_changed()
            return self._open_fh(node)

    def open(self, path, flags):
        with self.mutex:
            self._alive()
            node = self._node(path)
            if flags & os.O_TRUNC and node.data:
                self._changing()
                self._truncate(node, 0)
            return self._open_fh(node)

    def release(self, path, fh):
        with self.mutex:
            self.fhs.pop(fh, None)
            return 0

    def flush(self, path, fh):
        with self.mutex:
            self._alive()
            return 0

    def read(self, path, size, offset, fh):
        with self.mutex:
            self._alive()
            return bytes(self._node(path, fh).data[offset:offset + size])

    def write(self, path, data, offset, fh):
        with self.mutex:
            self._changing()
            node = self._node(path, fh)
            data = bytes(data)
            _apply(node.data, "write", offset, data)
            node.pending.append(("write", offset, data))
            node.mtime = time.time_ns()
            return len(data)

    def _truncate(self, node: Node, length: int) -> None:
        _apply(node.data, "truncate", length, b"")
        node.pending.append(("truncate", length, b""))
        node.mtime = time.time_ns()

    def truncate(self, path, length, fh=None):
        with self.mutex:
            self._changing()
            self._truncate(self._node(path, fh), length)
            return 0

    def fsync(self, path, datasync, fh):
        with self.mutex:
            self._changing()
            node = self._node(path, fh)
            node.synced = bytes(node.data)
            node.pending.clear()
            self._commit()
            return 0

    def fsyncdir(self, path, datasync, fh):
        with self.mutex:
            self._changing()
            self._commit()
            return 0

    def unlink(self, path):
        with self.mutex:
            self._changing()
            node = self._node(path)
            if node.is_dir:
                raise fuse.FuseOSError(errno.EISDIR)
            del self.ns[path]
            self._ns_changed()
            return 0

    def rename(self, old, new):
        with self.mutex:
            self._changing()
            node = self._node(old)
            if node.is_dir:
                moved = {p: n for p, n in self.ns.items() if p == old or p.startswith(old + "/")}
                for p in moved:
                    del self.ns[p]
                for p, n in moved.items():
                    self.ns[new + p[len(old):]] = n
            else:
                del self.ns[old]
                self.ns[new] = node
            self._ns_changed()
            return 0

    def chmod(self, path, mode):
        with self.mutex:
            self._alive()
            self._node(path).mode = mode & 0o7777
            return 0

    def chown(self, path, uid, gid):
        with self.mutex:
            self._alive()
            self._node(path)
            return 0

    def utimens(self, path, times=None):
        with self.mutex:
            self._alive()
            self._node(path).mtime = int(times[1]) if times else time.time_ns()
            return 0

    def statfs(self, path):
        return {"f_bsize": 4096, "f_frsize": 4096, "f_blocks": 1 << 20, "f_bfree": 1 << 19, "f_bavail": 1 << 19,
                "f_files": 1 << 16, "f_ffree": 1 << 15, "f_favail": 1 << 15, "f_namemax": 255}


def _apply(content: bytearray, kind: str, offset: int, data: bytes) -> None:
    if kind == "truncate":
        del content[offset:]
        content.extend(b"\0" * (offset - len(content)))
        return
    if offset > len(content):
        content.extend(b"\0" * (offset - len(content)))
    content[offset:offset + len(data)] = data


def main() -> None:
    image, mountpoint, out, cut_at, seed = sys.argv[1:6]
    fs = PowerCutFS(Path(image), Path(out), int(cut_at), int(seed))
    fuse.FUSE(fs, mountpoint, foreground=True, nothreads=True)


if __name__ == "__main__":
    main()
