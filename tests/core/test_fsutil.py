"""Durable file writes and private SQLite files of the core."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from core.fsutil import fsync_dir, private_sqlite_files, write_file_atomic


def test_write_file_atomic_replaces_with_the_mode_asked_whatever_the_umask(tmp_path: Path) -> None:
    path = tmp_path / "key.json"
    old = os.umask(0o077)
    try:
        write_file_atomic(path, b"one", mode=0o644)
    finally:
        os.umask(old)
    assert path.read_bytes() == b"one" and path.stat().st_mode & 0o777 == 0o644
    path.chmod(0o666)
    write_file_atomic(path, b"two")
    assert path.read_bytes() == b"two" and path.stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["key.json"]  # no temporary left
    fsync_dir(tmp_path)


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "f"
    write_file_atomic(path, b"old")

    with pytest.raises(TypeError):
        write_file_atomic(path, object())  # type: ignore[arg-type]
    assert path.read_bytes() == b"old" and sorted(p.name for p in tmp_path.iterdir()) == ["f"]


def test_write_file_atomic_does_not_follow_a_planted_temporary_link(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    target.write_bytes(b"keep")
    path = tmp_path / "f"
    (tmp_path / f".f.tmp-{os.getpid()}").symlink_to(target)
    with pytest.raises(OSError):
        write_file_atomic(path, b"new")
    assert target.read_bytes() == b"keep" and not path.exists()


def test_private_sqlite_files_are_0600(tmp_path: Path) -> None:
    db = tmp_path / "hub.sqlite"
    old = os.umask(0o022)
    try:
        private_sqlite_files(db)
        conn = sqlite3.connect(db)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE t (x)")
        conn.execute("INSERT INTO t VALUES (1)")
        for name in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
            assert name.stat().st_mode & 0o777 == 0o600, name
        conn.close()
        db.chmod(0o644)
        private_sqlite_files(db)
        assert db.stat().st_mode & 0o777 == 0o600
    finally:
        os.umask(old)


def test_syncfs_flushes_the_file_system_of_a_path(tmp_path: Path) -> None:
    import sys

    from core.fsutil import syncfs

    (tmp_path / "f").write_bytes(b"x")
    assert syncfs(tmp_path / "f") is sys.platform.startswith("linux")
    with pytest.raises(FileNotFoundError):
        syncfs(tmp_path / "missing")


MOUNTINFO = """\
22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
30 22 0:40 / /var/lib/motcua rw,nosuid - fuse.powercut powercut rw,user_id=0
31 22 0:41 / /media/stick\\040one rw - vfat /dev/sdb1 rw
32 22 8:2 / /var/lib/motcua-ssd rw - f2fs /dev/sdc1 rw
"""


def test_fs_type_is_the_deepest_mount_above_the_path() -> None:
    from core.fsutil import fs_type

    assert fs_type(Path("/var/lib/motcua/state"), MOUNTINFO) == "fuse.powercut"
    assert fs_type(Path("/var/lib/motcua-ssd/state"), MOUNTINFO) == "f2fs"  # not a prefix match on the name
    assert fs_type(Path("/media/stick one/x"), MOUNTINFO) == "vfat"  # escaped blanks in mount points
    assert fs_type(Path("/etc"), MOUNTINFO) == "ext4"


def test_syncfs_is_used_only_where_the_file_system_makes_it_durable(tmp_path: Path, monkeypatch) -> None:
    import core.fsutil as fsutil

    if fsutil._libc_syncfs() is None:
        pytest.skip("no syncfs(2) on this system")
    kinds = {"ext4": True, "xfs": True, "f2fs": True, "fuse.powercut": False, "vfat": False, "nfs4": False, "": False}
    for kind, durable in kinds.items():
        monkeypatch.setattr(fsutil, "fs_type", lambda path, mountinfo=None, kind=kind: kind)
        assert fsutil.syncfs(tmp_path) is durable, kind
