"""``motcua bench store``: encrypted ingest throughput against plain write+fsync of the same files.

Each round ingests N pages of 1 MB random bytes (100; 20 in quick mode), ten to a dossier, into a
store with fsync on; the baseline round writes the same files with write+fsync (and one fsync of
their directory). Rounds alternate (``bench._harness.compare``), once for each page cipher
(AES-256-GCM and ChaCha20-Poly1305): the value and ratio are those of the cipher this machine
chooses by default (``store.cipher = "auto"``), the other is in ``details.ciphers``.
The ingest runs in a child process per cipher (one store each, kept open across its rounds), so
its peak RSS shows the page size, not the interpreter. Where ``age`` or ``restic`` are
installed, their throughput on the same files is reported in ``details`` (one run each).
Goal: ratio ≥ 0.9 (median).
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from ._harness import BenchResult, compare, default_cipher, install_packages

MB = 1 << 20
CIPHERS = ("aes-256-gcm", "chacha20-poly1305")
GOAL = 0.9


def _plain_copy(files: list[Path], out: Path) -> float:
    out.mkdir()
    start = time.perf_counter()
    for f in files:
        with open(f, "rb") as src, open(out / f.name, "wb") as dst:
            while block := src.read(MB):
                dst.write(block)
            dst.flush()
            os.fsync(dst.fileno())
    fd = os.open(out, os.O_RDONLY)
    os.fsync(fd)
    os.close(fd)
    return time.perf_counter() - start


def _ingest_child(state_dir: str, cipher: str, conn) -> None:
    """Serve ingest rounds: receive a list of files, ingest them, answer the seconds it took."""
    from edge.config import load_settings
    from edge.outbox import ingest_and_enqueue
    from edge.store import PageSource, Store

    install_packages()
    settings = load_settings(None, env={}, overrides={"store": {"state_dir": state_dir, "cipher": cipher}})
    Store.init(settings, agency_code="000.00.06.H56")
    with Store.open(settings) as store:
        conn.send(store.cipher)
        while (files := conn.recv()) is not None:
            start = time.perf_counter()
            for i in range(0, len(files), 10):
                handles = [open(f, "rb") for f in files[i:i + 10]]
                try:
                    ingest_and_enqueue(store, procedure_code="1.001612", actor="bench",
                                 applicant={"full_name": "Bench Người Dùng", "id_number": f"{i:012d}"},
                                 pages=[PageSource(source=h, media_type="image/png") for h in handles])
                finally:
                    for h in handles:
                        h.close()
            conn.send(time.perf_counter() - start)
    conn.send(_peak_rss_mib())


def _peak_rss_mib() -> float:
    """This process's own peak RSS (``VmHWM``: ``ru_maxrss`` would carry the parent's over from
    the fork, a large one after the API benchmark)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class _Ingester:
    def __init__(self, state_dir: Path, cipher: str) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_ingest_child, args=(str(state_dir), cipher, child), daemon=True)
        self.proc.start()
        child.close()
        self.cipher = self._recv()

    def _recv(self, timeout: float = 1800) -> Any:
        if not self.conn.poll(timeout):
            raise RuntimeError("the ingest process did not answer")
        return self.conn.recv()

    def round(self, files: list[Path]) -> float:
        self.conn.send([str(f) for f in files])
        return self._recv()

    def close(self) -> float:
        """Stop the child; returns its peak RSS in MiB."""
        try:
            self.conn.send(None)
            return round(self._recv(120), 1)
        finally:
            self.proc.join(30)
            if self.proc.is_alive():
                self.proc.kill()
                self.proc.join(5)


def _peer(cmd: list[str], env: dict | None = None) -> float | None:
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, env=env, timeout=600)
    return time.perf_counter() - start if done.returncode == 0 else None


def _peers(work: Path, src: Path, files: list[Path], total_mb: int) -> dict[str, Any]:
    details: dict[str, Any] = {}
    if shutil.which("age") and shutil.which("age-keygen"):
        key = work / "age.key"
        subprocess.run(["age-keygen", "-o", str(key)], capture_output=True, check=True)
        recipient = subprocess.run(["age-keygen", "-y", str(key)], capture_output=True, text=True, check=True).stdout.strip()
        (work / "age").mkdir()
        start = time.perf_counter()
        for f in files:
            subprocess.run(["age", "-r", recipient, "-o", str(work / "age" / f.name), str(f)], check=True)
        details["age_mb_s"] = round(total_mb / (time.perf_counter() - start), 1)
    if shutil.which("restic"):
        env = {**os.environ, "RESTIC_PASSWORD": "bench", "RESTIC_REPOSITORY": str(work / "restic")}
        if _peer(["restic", "init"], env) is not None:
            took = _peer(["restic", "backup", "--quiet", str(src)], env)
            if took:
                details["restic_mb_s"] = round(total_mb / took, 1)
    return details


def run(quick: bool = False, rounds: int | None = None, **_: object) -> BenchResult:
    n = 20 if quick else 100
    work = Path(tempfile.mkdtemp(prefix="motcua-bench-store-"))
    ingesters: dict[str, _Ingester] = {}
    try:
        src = work / "pages"
        src.mkdir()
        files = []
        for i in range(n):
            p = src / f"page{i:04d}.bin"
            p.write_bytes(os.urandom(MB))
            files.append(p)
        counter = iter(range(10**6))

        def baseline() -> float:
            out = work / f"plain{next(counter)}"
            took = _plain_copy(files, out)
            shutil.rmtree(out, ignore_errors=True)
            return n / took

        comparisons, rss = {}, {}
        for cipher in CIPHERS:
            ingester = ingesters[cipher] = _Ingester(work / f"state-{cipher}", cipher)
            comparisons[cipher] = compare(lambda ing=ingester: n / ing.round(files), baseline, rounds=rounds,
                                          goal_at_least=GOAL)
            rss[cipher] = ingesters.pop(cipher).close()
            shutil.rmtree(work / f"state-{cipher}", ignore_errors=True)
        chosen = default_cipher()
        details: dict[str, Any] = {
            "pages_per_round": n, "page_bytes": MB, "peak_rss_mb": rss[chosen], "target_peak_rss_mb": 100,
            "goal_ratio": GOAL,
            "ciphers": {c: {**{k: v for k, v in cmp.summary().items() if k not in ("goal",)},
                            "peak_rss_mb": rss[c]} for c, cmp in comparisons.items()},
        }
        details.update(_peers(work, src, files, n))
        return comparisons[chosen].result(name="store", metric=f"ingest throughput (encrypted with {chosen}, fsync)",
                                          unit="MB/s", baseline="plain write+fsync of the same files",
                                          cipher=chosen, details=details)
    finally:
        for ingester in ingesters.values():
            ingester.close()
        shutil.rmtree(work, ignore_errors=True)
