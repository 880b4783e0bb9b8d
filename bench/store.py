"""``motcua bench store``: encrypted ingest throughput against plain write+fsync of the same files.

200 pages of 1 MB random bytes (20 in quick mode) go into a fresh store with fsync on; the baseline
writes the same files with write+fsync in the same run. Peak RSS of the ingest process is
measured in a child process so the page size, not the interpreter, shows. The same ingest with the
other page cipher (ChaCha20-Poly1305 next to AES-256-GCM) is reported in ``details``. Where ``age`` or
``restic`` are installed, their throughput on the same files is reported in ``details``.
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

from ._harness import BenchResult, ratio

MB = 1 << 20


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


def _ingest_child(state_dir: str, files: list[str], queue, cipher: str = "auto") -> None:
    from edge.config import load_settings
    from edge.store import PageSource, Store

    settings = load_settings(None, env={}, overrides={"store": {"state_dir": state_dir, "cipher": cipher}})
    Store.init(settings, agency_code="000.00.06.H56")
    with Store.open(settings) as store:
        start = time.perf_counter()
        for i in range(0, len(files), 10):
            handles = [open(f, "rb") for f in files[i:i + 10]]
            try:
                store.ingest(procedure_code="1.001612", actor="bench",
                             applicant={"full_name": "Bench Người Dùng", "id_number": f"{i:012d}"},
                             pages=[PageSource(source=h, media_type="image/png") for h in handles])
            finally:
                for h in handles:
                    h.close()
        elapsed = time.perf_counter() - start
        cipher = store.cipher
    queue.put((elapsed, cipher, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))


def _peer(cmd: list[str], env: dict | None = None) -> float | None:
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, env=env, timeout=600)
    return time.perf_counter() - start if done.returncode == 0 else None


def run(quick: bool = False, **_: object) -> BenchResult:
    n = 20 if quick else 200
    work = Path(tempfile.mkdtemp(prefix="motcua-bench-store-"))
    try:
        src = work / "pages"
        src.mkdir()
        files = []
        for i in range(n):
            p = src / f"page{i:04d}.bin"
            p.write_bytes(os.urandom(MB))
            files.append(p)
        total_mb = n
        baseline_s = _plain_copy(files, work / "plain")
        ctx = multiprocessing.get_context("spawn")
        queue = ctx.Queue()
        proc = ctx.Process(target=_ingest_child, args=(str(work / "state"), [str(f) for f in files], queue))
        proc.start()
        elapsed, cipher, child_rss = queue.get(timeout=1800)
        proc.join()
        # The other cipher on the same files (a Pi 4 has no AES instructions: ChaCha20 is its cipher).
        other = "aes-256-gcm" if cipher == "chacha20-poly1305" else "chacha20-poly1305"
        proc = ctx.Process(target=_ingest_child, args=(str(work / "state-other"), [str(f) for f in files], queue, other))
        proc.start()
        other_elapsed, _, _ = queue.get(timeout=1800)
        proc.join()
        by_cipher = {cipher: elapsed, other: other_elapsed}
        store_mb_s = total_mb / elapsed
        plain_mb_s = total_mb / baseline_s
        details: dict[str, object] = {"pages": n, "page_bytes": MB, "cipher": cipher, "peak_rss_mb": round(child_rss, 1),
                                      "store_seconds": round(elapsed, 3), "plain_seconds": round(baseline_s, 3),
                                      "target_ratio": 0.7, "target_peak_rss_mb": 100,
                                      "chacha20_poly1305_mb_s": round(total_mb / by_cipher["chacha20-poly1305"], 2),
                                      "aes_256_gcm_mb_s": round(total_mb / by_cipher["aes-256-gcm"], 2)}
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
        return BenchResult(name="store", metric="ingest throughput (encrypted, fsync)", value=round(store_mb_s, 2),
                           unit="MB/s", baseline="plain write+fsync of the same files", baseline_value=round(plain_mb_s, 2),
                           ratio=ratio(store_mb_s, plain_mb_s), details=details)
    finally:
        shutil.rmtree(work, ignore_errors=True)
