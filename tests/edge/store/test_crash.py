"""Crash safety: a writer killed with SIGKILL at random points, many times."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from edge.store import Store
from tests.conftest import make_settings
from tests.edge.store.crash_writer import applicant, page_bytes

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.slow
def test_sigkill_at_random_points_never_loses_or_half_writes(tmp_path) -> None:
    settings = make_settings(tmp_path / "box")
    Store.init(settings, agency_code="000.00.06.H56")
    rng = random.Random(20261122)
    reported: dict[int, tuple[str, str]] = {}
    next_n = 1
    cleaned = 0
    for _round in range(12):
        proc = subprocess.Popen([sys.executable, "-m", "tests.edge.store.crash_writer", str(settings.state_dir), str(next_n)],
                                cwd=ROOT, stdout=subprocess.PIPE, text=True)
        try:
            # Wait for the writer to be running (first dossier committed), then kill it at a random moment.
            first = proc.stdout.readline()
            assert first, "writer did not start"
            time.sleep(rng.uniform(0.0, 0.25))
        finally:
            os.kill(proc.pid, signal.SIGKILL)
            rest = proc.stdout.read()
            proc.wait()
        for line in (first + rest).splitlines():
            n, did, code = line.split()
            reported[int(n)] = (did, code)
            next_n = max(next_n, int(n) + 1)
        next_n += 1  # the dossier in flight, if any, may or may not have committed: never reuse its number

        with Store.open(settings) as store:
            cleaned += store.startup_report.orphan_blobs_removed + store.startup_report.tmp_files_removed
            report = store.check()
            assert report.ok, report.problems
            assert not report.notes, report.notes  # start-up removed every half-written blob
            for n, (did, code) in reported.items():
                dossier = store.get(did)
                assert dossier.code == code and dossier.applicant.full_name == applicant(n)["full_name"]
                for k in range(2):
                    assert b"".join(store.read_page(did, k + 1)) == page_bytes(n, k)
            # Nothing half-written counts as a dossier: every dossier row is whole.
            for row in store.query("SELECT id, status FROM dossiers"):
                assert row["status"] == "finalized"
                assert len(store.pages(row["id"])) == 2
            codes = [r["code"] for r in store.query("SELECT code FROM dossiers")]
            assert len(codes) == len(set(codes))
    assert len(reported) >= 12
    print(f"half-written files cleaned across rounds: {cleaned}")
