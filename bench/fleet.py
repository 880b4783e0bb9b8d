"""``motcua bench fleet --stations N``: N boxes syncing at once to one hub, on SQLite and PostgreSQL.

Each simulated box has its own store, station key and enrollment; all of them push their
dossiers at the same moment to one ``motcua hub serve`` process (loopback). Reported: dossiers
per second (value: SQLite; details per backend), p95 latency from a dossier's push attempt to
its verified receipt, and ``details.lost`` (the box holds a receipt, the hub not the dossier) /
``details.duplicated`` counted by comparing every box's store with the hub's database;
``uncommitted_after_one_cycle``: dossiers the one timed cycle did not get through (the hub shed
load with 503, a request timed out), which the box retries at its next cycle. The baseline is
the same fleet on PostgreSQL when PostgreSQL is installed (the benchmark is skipped otherwise). SQLite and PostgreSQL rounds
alternate (``bench._harness.compare``), each on a fresh hub and fresh boxes; no goal on the
ratio (it says how far the single-file hub is from the server database), ``lost`` and
``duplicated`` must be 0.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import subprocess
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bench._harness import (
    BenchResult,
    BenchUnavailable,
    compare,
    default_cipher,
    install_packages,
    percentile,
    spread_of,
)
from bench.sync import HubProcess, fill, make_box

PG_VERSION, PG_CLUSTER = "15", "main"


def _psql(sql: str) -> None:
    subprocess.run(["runuser", "-u", "postgres", "--", "psql", "-v", "ON_ERROR_STOP=1", "-q", "-c", sql],
                   check=True, capture_output=True, text=True)


class Postgres:
    """A throwaway database on the local cluster (started, and stopped again, if it was down)."""

    def __init__(self) -> None:
        self.started = False
        self.name = f"motcua_fleet_{secrets.token_hex(4)}"
        self.dsn = ""

    def __enter__(self) -> Postgres:
        if shutil.which("pg_ctlcluster") is None:
            raise RuntimeError("PostgreSQL is not installed (apt-get install postgresql)")
        out = subprocess.run(["pg_lsclusters", "-h"], capture_output=True, text=True, check=False).stdout
        if not any(line.split()[:2] == [PG_VERSION, PG_CLUSTER] and "online" in line for line in out.splitlines()):
            subprocess.run(["pg_ctlcluster", PG_VERSION, PG_CLUSTER, "start"], check=True, capture_output=True)
            self.started = True
        password = secrets.token_hex(12)
        _psql(f"CREATE ROLE {self.name} LOGIN PASSWORD '{password}'")
        _psql(f"CREATE DATABASE {self.name} OWNER {self.name}")
        self.dsn = f"postgresql://{self.name}:{password}@127.0.0.1:5432/{self.name}"
        return self

    def __exit__(self, *exc: object) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", "psql", "-q", "-c",
                        f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)"], capture_output=True, check=False)
        subprocess.run(["runuser", "-u", "postgres", "--", "psql", "-q", "-c", f"DROP ROLE IF EXISTS {self.name}"],
                       capture_output=True, check=False)
        if self.started:
            subprocess.run(["pg_ctlcluster", PG_VERSION, PG_CLUSTER, "stop"], capture_output=True, check=False)


def _fleet(root: Path, *, stations: int, dossiers: int, page_bytes: int, db: str | None) -> dict[str, Any]:
    from sync.client import SyncClient, enroll_async

    hub = HubProcess(root / "hub", db=db)
    boxes: list[tuple[Any, Any]] = []
    try:
        hub.init()
        ids = [f"FLEET-{i:04d}" for i in range(stations)]
        size = max(dossiers, min(40, 9999 // max(stations, 1)))
        tokens = hub.add_stations(ids, partition_size=size)
        url = hub.start()
        boxes = [make_box(root, sid.lower(), request_timeout_seconds=60) for sid in ids]

        async def enroll_all() -> None:
            sem = asyncio.Semaphore(16)

            async def one(sid: str, store: Any) -> None:
                async with sem:
                    await enroll_async(store, url, tokens[sid], station_id=sid)

            await asyncio.gather(*(one(sid, store) for sid, (_, store) in zip(ids, boxes, strict=True)))

        asyncio.run(enroll_all())
        for _, store in boxes:
            fill(store, pages=dossiers, page_bytes=page_bytes, per_dossier=1)

        async def sync_all() -> tuple[float, list[float], list[str]]:
            clients = [SyncClient(settings=settings, store=store) for settings, store in boxes]
            errors: list[str] = []
            start = time.perf_counter()
            results = await asyncio.gather(*(c.sync_once() for c in clients), return_exceptions=True)
            elapsed = time.perf_counter() - start
            latencies = [v for c in clients if c.last_push for v in c.last_push.latencies.values()]
            for r in results:
                if isinstance(r, BaseException):
                    errors.append(f"{type(r).__name__}: {r}"[:200])
            for c in clients:
                await c.stop()
            return elapsed, latencies, errors

        elapsed, latencies, errors = asyncio.run(sync_all())
        storage = hub.storage()
        try:
            held = storage.list_dossiers()
        finally:
            storage.close()
        committed = {d.dossier_id for d in held if d.state == "committed"}
        box_ids = [r["id"] for _, store in boxes for r in store.query("SELECT id FROM dossiers WHERE status = 'finalized'")]
        id_counts = Counter(d.dossier_id for d in held)
        code_counts = Counter((d.agency_code, d.code) for d in held)
        # Lost: the box holds the hub's receipt (its outbox says committed) but the hub does not
        # hold the dossier committed. Not yet committed after this one cycle (the hub shed load,
        # a request timed out: the box retries later) is counted apart.
        box_done = {r["dossier_id"] for _, store in boxes
                    for r in store.query("SELECT dossier_id FROM outbox WHERE state = 'committed'")}
        lost = sum(1 for i in box_done if i not in committed)
        uncommitted = sum(1 for i in box_ids if i not in committed)
        duplicated = (sum(n - 1 for n in id_counts.values() if n > 1) + sum(n - 1 for n in code_counts.values() if n > 1)
                      + sum(1 for d in held if d.dossier_id not in set(box_ids)))
        total = len(box_ids)
        return {"stations": stations, "dossiers": total, "seconds": round(elapsed, 3),
                "dossiers_per_s": round(total / elapsed, 2) if elapsed else 0.0,
                "p95_commit_latency_ms": round(percentile(latencies, 95) * 1000, 1),
                "p50_commit_latency_ms": round(percentile(latencies, 50) * 1000, 1),
                "lost": lost, "duplicated": duplicated, "uncommitted_after_one_cycle": uncommitted,
                "errors": errors[:5], "error_count": len(errors)}
    finally:
        for _, store in boxes:
            store.close()
        hub.stop()


def run(quick: bool = False, stations: int = 200, rounds: int | None = None, **_: Any) -> BenchResult:
    install_packages()
    stations = min(stations, 10) if quick else stations
    dossiers = 1 if quick else 2
    page_bytes = 20_000 if quick else 50_000
    root = Path(tempfile.mkdtemp(prefix="motcua-bench-fleet-"))
    details: dict[str, Any] = {"stations": stations, "dossiers_per_station": dossiers, "page_bytes": page_bytes}
    runs: dict[str, list[dict[str, Any]]] = {"sqlite": [], "postgres": []}
    counter = iter(range(10**6))
    try:
        try:
            with Postgres():  # is there a cluster to measure the baseline on?
                pass
        except (RuntimeError, subprocess.CalledProcessError, OSError) as exc:
            raise BenchUnavailable(f"the baseline needs PostgreSQL: {exc}"[:300]) from None

        def one(kind: str) -> float:
            where = root / f"{kind}{next(counter)}"
            if kind == "postgres":  # each round on a fresh database of its own, as SQLite's are
                with Postgres() as pg:
                    out = _fleet(where, stations=stations, dossiers=dossiers, page_bytes=page_bytes, db=pg.dsn)
            else:
                out = _fleet(where, stations=stations, dossiers=dossiers, page_bytes=page_bytes, db=None)
            runs[kind].append(out)
            if not out["dossiers_per_s"]:
                raise RuntimeError(f"{kind} fleet committed nothing: {out['errors']}")
            return out["dossiers_per_s"]

        cmp = compare(lambda: one("sqlite"), lambda: one("postgres"), rounds=rounds)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    for kind, outs in runs.items():
        details[kind] = {"dossiers": outs[-1]["dossiers"] if outs else 0,
                         "p95_commit_latency_ms": spread_of([o["p95_commit_latency_ms"] for o in outs]),
                         "lost": sum(o["lost"] for o in outs), "duplicated": sum(o["duplicated"] for o in outs),
                         "uncommitted_after_one_cycle": sum(o["uncommitted_after_one_cycle"] for o in outs),
                         "error_count": sum(o["error_count"] for o in outs),
                         "errors": [e for o in outs for e in o["errors"]][:5]}
    details["lost"] = details["sqlite"]["lost"] + details["postgres"]["lost"]
    details["duplicated"] = details["sqlite"]["duplicated"] + details["postgres"]["duplicated"]
    details["p95_commit_latency_ms"] = details["sqlite"]["p95_commit_latency_ms"]["median"]
    return cmp.result(name="fleet", metric=f"dossiers/s, {stations} boxes at once (SQLite hub)",
                      unit="dossiers/s", baseline="same fleet, PostgreSQL hub", cipher=default_cipher(),
                      details=details)


if __name__ == "__main__":
    import json
    import sys

    print(json.dumps(run(quick="--quick" in sys.argv).to_dict(), indent=1))
    os._exit(0)
