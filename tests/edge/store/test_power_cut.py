"""Power cuts, not just SIGKILL: the store's writer on a filesystem that loses what was not flushed.

A SIGKILL keeps the page cache, so every write() the writer made survives it; a power cut keeps
only what was fsynced. Here the writer (``crash_writer``) runs on ``powercut_fs``, a FUSE layer
(mfusepy on libfuse 3) that at a random operation drops every unsynced byte (keeping a random
torn prefix of the unsynced writes and of the namespace changes). The image that survives is the
next round's disk, so the cuts pile up on one store. After each: every dossier the writer reported
created is whole, ``motcua check`` passes, and nothing half-written counts as a dossier.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from edge.store import Store
from tests.conftest import AGENCY, make_settings
from tests.edge.store.crash_writer import applicant, page_bytes

ROOT = Path(__file__).resolve().parents[3]
ROUNDS = 16


def _fuse_usable() -> str | None:
    if not os.path.exists("/dev/fuse"):
        return "no /dev/fuse on this machine"
    if os.geteuid() != 0 and shutil.which("fusermount3") is None:
        return "FUSE needs root or fusermount3 (Debian package fuse3)"
    try:
        import ctypes.util

        if ctypes.util.find_library("fuse3") is None:
            return "libfuse 3 is not installed (Debian package fuse3)"
    except OSError as exc:
        return f"libfuse 3 cannot be loaded: {exc}"
    return None


def _wait(predicate, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def _mounted(mountpoint: Path) -> bool:
    """Whether anything is mounted there, a dead FUSE mount included (``os.path.ismount`` says
    False for one: its stat fails with ENOTCONN)."""
    target = str(mountpoint).replace(" ", "\\040")
    with open("/proc/self/mounts") as fh:
        return any(line.split()[1] == target for line in fh if len(line.split()) > 1)


def _unmount(mountpoint: Path) -> None:
    """Unmount (lazily: a mount whose server is gone or busy goes too); wait until it is gone."""
    if not _mounted(mountpoint):
        return
    cmd = ["umount", "-l", str(mountpoint)] if os.geteuid() == 0 else ["fusermount3", "-u", "-z", str(mountpoint)]
    subprocess.run(cmd, check=False, capture_output=True)
    _wait(lambda: not _mounted(mountpoint), 20, f"{mountpoint} to be unmounted")


def _power_cycle(image: Path, mountpoint: Path, out: Path, *, cut_at: int, seed: int, start: int) -> tuple[str, str]:
    """Boot ``image``, run the writer until the power goes at the ``cut_at``-th change; the
    surviving disk is left in ``out``. Returns the writer's report lines and the cut's note."""
    fs_log = out.parent / f"{out.name}.fs.log"
    with open(fs_log, "wb") as log:
        fs = subprocess.Popen([sys.executable, "-m", "tests.edge.store.powercut_fs", str(image), str(mountpoint), str(out),
                               str(cut_at), str(seed)], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log)
    writer = None
    done = Path(f"{out}.done")
    try:
        _wait(lambda: os.path.ismount(mountpoint) or fs.poll() is not None, 20, "the FUSE mount")
        assert fs.poll() is None, fs_log.read_text(errors="replace")
        writer = subprocess.Popen([sys.executable, "-m", "tests.edge.store.crash_writer", str(mountpoint / "box"), str(start)],
                                  cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        _wait(lambda: done.exists() or writer.poll() is not None, 120, "the power cut")
        _wait(done.exists, 10, "the power cut (the writer stopped before it)")
        assert fs.poll() is None, f"the filesystem died: {fs_log.read_text(errors='replace')}"
    finally:
        if writer is not None:
            if writer.poll() is None:
                os.kill(writer.pid, signal.SIGKILL)
            lines = writer.stdout.read()
            writer.wait()
        _unmount(mountpoint)
        try:
            fs.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.kill(fs.pid, signal.SIGKILL)
            fs.wait()
        _unmount(mountpoint)  # had the server died, its dead mount goes now
    return lines, done.read_text().strip()


def test_power_cuts_at_random_points_keep_every_reported_dossier_whole(tmp_path: Path) -> None:
    if reason := _fuse_usable():
        pytest.skip(reason)
    first = tmp_path / "disk0"
    Store.init(make_settings(first / "box"), agency_code=AGENCY)
    mountpoint = tmp_path / "mnt"
    mountpoint.mkdir()
    rng = random.Random(20261202)
    reported: dict[int, tuple[str, str]] = {}
    next_n = 1
    image = first
    cuts = []
    for round_ in range(1, ROUNDS + 1):
        # Most cuts land while dossiers are being written, some while the store opens (recovery).
        cut_at = rng.randint(1, 120) if round_ % 4 == 0 else rng.randint(120, 2500)
        out = tmp_path / f"disk{round_}"
        lines, note = _power_cycle(image, mountpoint, out, cut_at=cut_at, seed=rng.randrange(1 << 30), start=next_n)
        cuts.append(note)
        for line in lines.splitlines():
            n, did, code = line.split()
            reported[int(n)] = (did, code)
            next_n = max(next_n, int(n) + 1)
        next_n += 1  # the dossier in flight may or may not have committed: never reuse its number
        shutil.rmtree(image)  # the old disk is gone; the surviving one boots next
        image = out

        # Power back on: the command a clerk or the watchdog runs, then the store itself.
        env = {**os.environ, "MOTCUA_STORE__STATE_DIR": str(out / "box")}
        env.pop("MOTCUA_CONFIG", None)
        checked = subprocess.run([sys.executable, "-m", "edge.cli", "check"], cwd=ROOT, env=env,
                                 capture_output=True, text=True, timeout=120)
        assert checked.returncode == 0, f"cut {note}: {checked.stdout}{checked.stderr}"
        settings = make_settings(out / "box")
        with Store.open(settings) as store:
            report = store.check()
            assert report.ok, (note, report.problems)
            for n, (did, code) in reported.items():
                dossier = store.get(did)  # reported created: it must have survived, whole
                assert dossier.code == code and dossier.applicant.full_name == applicant(n)["full_name"], note
                for k in range(2):
                    assert b"".join(store.read_page(did, k + 1)) == page_bytes(n, k), note
            # Nothing half-written counts: every dossier on the disk is finalized with both pages.
            rows = store.query("SELECT id, status FROM dossiers")
            for row in rows:
                assert row["status"] == "finalized", note
                assert len(store.pages(row["id"])) == 2, note
            codes = [r["code"] for r in store.query("SELECT code FROM dossiers")]
            assert len(codes) == len(set(codes))
            assert len(rows) >= len(reported)
    assert len(reported) >= ROUNDS, f"too few dossiers were written between the cuts: {cuts}"
    print(f"{ROUNDS} power cuts (operation, namespace changes kept): {cuts}; {len(reported)} dossiers reported")
