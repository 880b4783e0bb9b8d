"""``motcua bench fleet --stations N``: N boxes syncing at once to the city end.

Workload: two ``motcua hub serve`` workers on PostgreSQL with their blobs in S3 (a one-node Ceph
RADOS Gateway started for the run, bench/_stack.py), behind HAProxy. Baseline: the same fleet
against one worker on PostgreSQL with its blobs in its data directory. Each simulated box has its
own store, station key and enrollment; all of them push their dossiers at the same moment.
Reported: dossiers per second, p95 latency from a dossier's push attempt to its verified receipt,
hub CPU seconds per dossier (user + system of the worker processes), and ``details.lost`` /
``details.duplicated`` counted box by box against the hub's database and, for the workload,
against the objects in the bucket (every page object present once, nothing else, no multipart
upload left). The baseline needs PostgreSQL; the workload also Ceph and HAProxy (``skipped`` in
the details otherwise).
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
from bench.sync import HubProcess, fill, make_box, motcua_bin

PG_VERSION, PG_CLUSTER = "15", "main"
ROUNDS_DEADLINE_S = 900  # boxes turned away try again until then


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


def _fleet_boxes(root: Path, hub: HubProcess, url: str, *, stations: int, dossiers: int,
                 page_bytes: int) -> list[tuple[Any, Any]]:
    """Stations registered, one box each enrolled through ``url`` and filled with its dossiers."""
    from sync.client import enroll_async

    ids = [f"FLEET-{i:04d}" for i in range(stations)]
    size = max(dossiers, min(40, 9999 // max(stations, 1)))
    tokens = hub.add_stations(ids, partition_size=size)
    boxes = [make_box(root, sid.lower(), request_timeout_seconds=120) for sid in ids]

    async def enroll_all() -> None:
        sem = asyncio.Semaphore(16)

        async def one(sid: str, store: Any) -> None:
            async with sem:
                await enroll_async(store, url, tokens[sid], station_id=sid)

        await asyncio.gather(*(one(sid, store) for sid, (_, store) in zip(ids, boxes, strict=True)))

    asyncio.run(enroll_all())
    for _, store in boxes:
        fill(store, pages=dossiers, page_bytes=page_bytes, per_dossier=1)
    return boxes


def _sync_fleet(boxes: list[tuple[Any, Any]], workers: list[HubProcess]) -> dict[str, Any]:
    """Every box pushes at once; elapsed time, latencies, errors and the workers' CPU seconds."""
    import psutil

    from sync.client import SyncClient

    procs = [psutil.Process(w.proc.pid) for w in workers if w.proc is not None]

    def cpu() -> float:
        return sum(p.cpu_times().user + p.cpu_times().system for p in procs)

    async def sync_all() -> tuple[float, list[float], list[str], int]:
        """Every box at once; a box the hub turned away (503, its limits) tries again a second
        later, as its scheduler would, until every dossier holds a receipt (or ROUNDS_DEADLINE_S)."""
        clients = [SyncClient(settings=settings, store=store) for settings, store in boxes]
        errors: list[str] = []
        latencies: list[float] = []
        pending = clients
        rounds = 0
        start = time.perf_counter()
        while pending and time.perf_counter() - start < ROUNDS_DEADLINE_S:
            if rounds:
                await asyncio.sleep(1.0)
            rounds += 1
            results = await asyncio.gather(*(c.sync_once() for c in pending), return_exceptions=True)
            again = []
            for c, r in zip(pending, results, strict=True):
                if c.last_push:
                    latencies += c.last_push.latencies.values()
                    c.last_push = None
                if isinstance(r, BaseException):
                    errors.append(f"{type(r).__name__}: {r}"[:200])
                    again.append(c)
                elif r.pending:
                    again.append(c)
            pending = again
        elapsed = time.perf_counter() - start
        for c in clients:
            await c.stop()
        return elapsed, latencies, errors, rounds

    cpu_before = cpu()
    elapsed, latencies, errors, rounds = asyncio.run(sync_all())
    return {"elapsed": elapsed, "latencies": latencies, "errors": errors, "cpu_s": cpu() - cpu_before,
            "rounds": rounds}


def _compare(boxes: list[tuple[Any, Any]], held: list[Any]) -> tuple[int, int, int, int]:
    """(finalized on the boxes, lost, duplicated, uncommitted), box by box against the hub's dossiers.

    Lost: the box holds the hub's receipt (its outbox says committed) but the hub does not hold the
    dossier committed. Not yet committed after the timed cycles (the hub shed load, a request timed
    out: the box retries later) is counted apart as uncommitted.
    """
    committed = {d.dossier_id for d in held if d.state == "committed"}
    box_ids = [r["id"] for _, store in boxes for r in store.query("SELECT id FROM dossiers WHERE status = 'finalized'")]
    box_done = {r["dossier_id"] for _, store in boxes
                for r in store.query("SELECT dossier_id FROM outbox WHERE state = 'committed'")}
    id_counts = Counter(d.dossier_id for d in held)
    code_counts = Counter((d.agency_code, d.code) for d in held)
    lost = sum(1 for i in box_done if i not in committed)
    uncommitted = sum(1 for i in box_ids if i not in committed)
    box_set = set(box_ids)
    duplicated = (sum(n - 1 for n in id_counts.values() if n > 1) + sum(n - 1 for n in code_counts.values() if n > 1)
                  + sum(1 for d in held if d.dossier_id not in box_set))
    return len(box_ids), lost, duplicated, uncommitted


def _figures(total: int, run: dict[str, Any], *, stations: int, lost: int, duplicated: int) -> dict[str, Any]:
    elapsed = run["elapsed"]
    return {"stations": stations, "dossiers": total, "seconds": round(elapsed, 3),
            "dossiers_per_s": round(total / elapsed, 2) if elapsed else 0.0,
            "p95_commit_latency_ms": round(percentile(run["latencies"], 95) * 1000, 1),
            "p50_commit_latency_ms": round(percentile(run["latencies"], 50) * 1000, 1),
            "hub_cpu_ms_per_dossier": round(run["cpu_s"] * 1000 / total, 2) if total else 0.0,
            "lost": lost, "duplicated": duplicated, "errors": run["errors"][:5], "error_count": len(run["errors"]),
            "sync_rounds": run["rounds"]}


def single_worker_round(root: Path, *, stations: int, dossiers: int, page_bytes: int, db: str | None) -> dict[str, Any]:
    """The baseline: one worker, blobs in its data directory."""
    hub = HubProcess(root / "hub", db=db)
    boxes: list[tuple[Any, Any]] = []
    try:
        hub.init()
        url = hub.start()
        boxes = _fleet_boxes(root, hub, url, stations=stations, dossiers=dossiers, page_bytes=page_bytes)
        run = _sync_fleet(boxes, [hub])
        storage = hub.storage()
        try:
            held = storage.list_dossiers()
        finally:
            storage.close()
        total, lost, duplicated, uncommitted = _compare(boxes, held)
        return {**_figures(total, run, stations=stations, lost=lost, duplicated=duplicated),
                "uncommitted": uncommitted}
    finally:
        for _, store in boxes:
            store.close()
        hub.stop()


def _s3_objects(store: Any) -> tuple[list[str], int]:
    """Every object key in the bucket, and the multipart uploads still open."""
    keys: list[str] = []
    token = None
    while True:
        page = store._call("list_objects_v2", **({"ContinuationToken": token} if token else {}))
        keys += [o["Key"] for o in page.get("Contents", [])]
        if not page.get("IsTruncated"):
            break
        token = page["NextContinuationToken"]
    uploads = store._call("list_multipart_uploads").get("Uploads", [])
    return keys, len(uploads)


def city_round(root: Path, *, stations: int, dossiers: int, page_bytes: int, db: str, rgw: Any) -> dict[str, Any]:
    """The workload: two workers on PostgreSQL and S3 behind HAProxy."""
    from bench._stack import start_haproxy
    from sync.hub import S3BlobStore, S3Config

    bucket = f"fleet-{secrets.token_hex(5)}"
    admin = S3BlobStore(root / "admin", S3Config(bucket=bucket, endpoint=rgw.endpoint), access_key=rgw.access_key,
                        secret_key=rgw.secret_key)
    admin._call("create_bucket")
    saved = {k: os.environ.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    os.environ.update(AWS_ACCESS_KEY_ID=rgw.access_key, AWS_SECRET_ACCESS_KEY=rgw.secret_key)
    workers = [HubProcess(root / f"worker-{i}", db=db) for i in range(2)]
    boxes: list[tuple[Any, Any]] = []
    lb = None
    try:
        subprocess.run([motcua_bin(), "hub", "init", "--data-dir", str(workers[0].data_dir), "--kem", "X25519",
                        "--db", db, "--blobs", f"s3://{bucket}", "--s3-endpoint", rgw.endpoint],
                       check=True, capture_output=True)
        shutil.copytree(workers[0].data_dir, workers[1].data_dir, ignore=shutil.ignore_patterns("partial", "blobs"))
        urls = [w.start() for w in workers]
        lb = start_haproxy(urls, root / "haproxy.cfg")
        boxes = _fleet_boxes(root, workers[0], lb.url, stations=stations, dossiers=dossiers, page_bytes=page_bytes)
        run = _sync_fleet(boxes, workers)
        storage = workers[0].storage()
        try:
            held = storage.list_dossiers()
        finally:
            storage.close()
        total, lost, duplicated, uncommitted = _compare(boxes, held)
        keys, open_uploads = _s3_objects(admin)
        wanted = Counter(b.sha256 for d in held for b in d.blobs)
        key_counts = Counter(keys)
        lost += sum(1 for sha in wanted if sha not in key_counts)
        duplicated += sum(1 for k in keys if k not in wanted) + sum(n - 1 for n in key_counts.values() if n > 1)
        figures = _figures(total, run, stations=stations, lost=lost, duplicated=duplicated)
        figures.update(s3_objects=len(keys), s3_open_uploads=open_uploads, uncommitted=uncommitted)
        return figures
    finally:
        for _, store in boxes:
            store.close()
        if lb is not None:
            lb.stop()
        for w in workers:
            w.stop()
        admin.close()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def run(quick: bool = False, stations: int = 200, rounds: int | None = None, **_: Any) -> BenchResult:
    """Workload and baseline rounds interleaved (``bench._harness.compare``), each on fresh hubs,
    a fresh database and fresh boxes."""
    from bench._stack import RgwUnavailable, start_rgw

    install_packages()
    stations = min(stations, 10) if quick else stations
    dossiers = 1 if quick else 2
    page_bytes = 20_000 if quick else 50_000
    root = Path(tempfile.mkdtemp(prefix="motcua-bench-fleet-"))
    details: dict[str, Any] = {"stations": stations, "dossiers_per_station": dossiers, "page_bytes": page_bytes}
    runs: dict[str, list[dict[str, Any]]] = {"city": [], "single_worker": []}
    counter = iter(range(10**6))
    try:
        try:
            with Postgres():  # is there a cluster to measure on?
                pass
        except (RuntimeError, subprocess.CalledProcessError, OSError) as exc:
            raise BenchUnavailable(f"the fleet benchmark needs PostgreSQL: {exc}"[:300]) from None
        try:
            rgw = start_rgw()
        except RgwUnavailable as exc:
            raise BenchUnavailable(f"the workload needs Ceph RGW: {exc}"[:300]) from None
        try:
            def city() -> float:
                with Postgres() as pg:
                    try:
                        out = city_round(root / f"city{next(counter)}", stations=stations, dossiers=dossiers,
                                         page_bytes=page_bytes, db=pg.dsn, rgw=rgw)
                    except RgwUnavailable as exc:
                        raise BenchUnavailable(f"HAProxy not available: {exc}"[:300]) from None
                runs["city"].append(out)
                return _rate(out, "city")

            def single() -> float:
                with Postgres() as pg:
                    out = single_worker_round(root / f"single{next(counter)}", stations=stations, dossiers=dossiers,
                                              page_bytes=page_bytes, db=pg.dsn)
                runs["single_worker"].append(out)
                return _rate(out, "single worker")

            cmp = compare(city, single, rounds=rounds)
        finally:
            rgw.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    for kind, outs in runs.items():
        details[kind] = {"dossiers": outs[-1]["dossiers"] if outs else 0,
                         "p95_commit_latency_ms": spread_of([o["p95_commit_latency_ms"] for o in outs]),
                         "hub_cpu_ms_per_dossier": spread_of([o["hub_cpu_ms_per_dossier"] for o in outs
                                                              if o.get("hub_cpu_ms_per_dossier") is not None]),
                         "lost": sum(o["lost"] for o in outs), "duplicated": sum(o["duplicated"] for o in outs),
                         "uncommitted": sum(o.get("uncommitted", 0) for o in outs)}
    details["s3_open_uploads"] = sum(o.get("s3_open_uploads", 0) for o in runs["city"])
    details["lost"] = details["city"]["lost"] + details["single_worker"]["lost"]
    details["duplicated"] = details["city"]["duplicated"] + details["single_worker"]["duplicated"]
    details["p95_commit_latency_ms"] = details["city"]["p95_commit_latency_ms"]["median"]
    details["hub_cpu_ms_per_dossier"] = details["city"]["hub_cpu_ms_per_dossier"]["median"]
    from bench._fleet_ops import measure  # hub CPU per heartbeat, fleet page p95 with 1,000 boxes
    details["fleet_ops"] = measure(stations=1000, quick=quick)
    return cmp.result(name="fleet", metric=f"dossiers/s, {stations} boxes at once, 2 workers on PostgreSQL + S3 "
                      "behind HAProxy", unit="dossiers/s",
                      baseline="same fleet, 1 worker on PostgreSQL, blobs on its disk", cipher=default_cipher(),
                      details=details)


def _rate(out: dict[str, Any], what: str) -> float:
    if not out.get("dossiers_per_s"):
        raise RuntimeError(f"the {what} fleet committed nothing: {out.get('errors')}")
    return out["dossiers_per_s"]


if __name__ == "__main__":
    import json
    import sys

    print(json.dumps(run(quick="--quick" in sys.argv).to_dict(), indent=1))
    os._exit(0)
