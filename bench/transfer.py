"""``motcua bench transfer``: a sealed transfer written to a stick and read back at the hub, against
a plain ``cp -r`` + ``sync`` of the same bytes to the same filesystem and back, in the same run.

- One round of the workload (:func:`transfer_round`): ``transfer export`` of the box's unconfirmed
  dossiers (N × 1 MB pages: frozen manifests, page blobs hashed while copied, vouchers, the
  signed transfer document, every file fsynced, the rename) to a stick directory, then
  ``hub import-transfer`` of it (the whole stick verified: signature, manifests, every blob hash;
  each blob written, fsynced and renamed into the hub's blob files; one create and one commit
  transaction per dossier, receipts signed). Not timed: the pages are made before, and the
  receipts applied on the box after (so the next round exports only the new pages).
- One round of the baseline (:func:`baseline_round`): ``cp -r`` of the same page files to a stick
  directory + ``sync``, then ``cp -r`` from there to a hub-side directory + ``sync``.
- Rounds are interleaved by ``bench._harness.compare`` (export+import, copies, export+import, …);
  value and baseline are the medians of each side's MB/s, the ratio the median of the per-pair
  ratios (each baseline round copies the pages its own pair's workload round moved). No goal:
  the issue asks for the figure only.
- ``details.relay_import_mb_s``: one more round's stick forwarded by an enrolled relay box over
  HTTP to the hub process (``transfer import``: verify the stick, then PUT, PATCH, commit per
  dossier), for context.

The hub runs as its own process (``motcua hub serve`` on 127.0.0.1) for the enrollments and the
relay; the measured import runs in this process on the hub's data directory, as ``hub
import-transfer`` does.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench._harness import BenchResult, compare, default_cipher, spread_of

PAGE = 1024 * 1024


@dataclass
class Bed:
    """What the rounds share: the box, the hub's data directory, scratch space."""

    root: Path
    store: Any
    hub_dir: Path
    pages: int
    n: int = 0
    files: list[Path] | None = None
    payload_of_last: int = 0
    split: dict[str, list[float]] | None = None  # seconds of export and of import, per round


def prepare_round(bed: Bed) -> None:
    """(not timed) Make this round's pages on the box."""
    from bench.sync import fill

    before = {r["blob"] for r in bed.store.query("SELECT blob FROM pages")}
    fill(bed.store, pages=bed.pages, page_bytes=PAGE, per_dossier=10)
    rows = [r for r in bed.store.query("SELECT blob, size FROM pages") if r["blob"] not in before]
    bed.files = [bed.store.blobs.path(r["blob"]) for r in rows]
    bed.payload_of_last = sum(r["size"] for r in rows)
    bed.n += 1


def transfer_round(bed: Bed) -> float:
    """One round of the workload: new pages (not timed), their export + hub import; returns MB/s."""
    from sync.hub import import_transfer, open_hub
    from sync.protocol import read_transfer
    from sync.transfer import ImportReport, apply_receipts

    prepare_round(bed)
    stick = bed.root / f"stick-{bed.n}"
    stick.mkdir()
    storage, keys = open_hub(bed.hub_dir)
    try:
        from sync.transfer import export_transfer

        start = time.perf_counter()
        report = export_transfer(bed.store, stick)
        middle = time.perf_counter()
        got = import_transfer(storage, keys, bed.hub_dir, report.path, now=lambda: int(time.time() * 1000))
        elapsed = time.perf_counter() - start
        split = bed.split if bed.split is not None else {"export_s": [], "import_s": []}
        split["export_s"].append(round(middle - start, 3))
        split["import_s"].append(round(elapsed - (middle - start), 3))
        bed.split = split
        assert len(got.committed) == len(report.dossiers), (got.committed, report.dossiers)
        moved = sum(size for e in read_transfer(report.path, hash_blobs=False).entries for _, size in e.blobs)
    finally:
        storage.close()
    # (not timed) the receipts back, so that the next round's export holds only its own pages
    from sync.protocol import StickWriter, build_receipts_doc

    writer = StickWriter(stick, f"receipts-{bed.n}")
    writer.write_file("receipts.json", build_receipts_doc(receipt_key_id=keys.receipt_key_id, created_at="",
                                                         receipts=got.receipts))
    applied = ImportReport()
    apply_receipts(bed.store, writer.commit(), applied)
    assert len(applied.receipts_applied) == len(report.dossiers)
    shutil.rmtree(stick)
    return moved / elapsed / 1e6


def baseline_round(bed: Bed) -> float:
    """One round of the baseline: ``cp -r`` + ``sync`` of the last workload round's page files to a
    stick directory and from it; returns MB/s."""
    if not bed.files:
        prepare_round(bed)  # a baseline round first: pages of its own (the next export takes them too)
    assert bed.files
    src = bed.root / f"plain-{bed.n}"
    src.mkdir()
    for f in bed.files:  # (not timed) the same bytes, gathered in one directory for cp -r
        shutil.copyfile(f, src / f.name)
    subprocess.run(["sync"], check=True)
    stick, back = bed.root / f"cp-stick-{bed.n}", bed.root / f"cp-hub-{bed.n}"
    start = time.perf_counter()
    subprocess.run(["cp", "-r", str(src), str(stick)], check=True)
    subprocess.run(["sync"], check=True)
    subprocess.run(["cp", "-r", str(stick), str(back)], check=True)
    subprocess.run(["sync"], check=True)
    elapsed = time.perf_counter() - start
    moved = sum(f.stat().st_size for f in bed.files)
    for d in (src, stick, back):
        shutil.rmtree(d)
    return moved / elapsed / 1e6


def relay_round(bed: Bed, relay_store, relay_settings) -> float:
    """(details only) New pages exported, then forwarded by an enrolled relay box over HTTP; MB/s."""
    from sync.transfer import export_transfer, import_stick

    prepare_round(bed)
    stick = bed.root / f"relay-stick-{bed.n}"
    stick.mkdir()
    report = export_transfer(bed.store, stick)
    start = time.perf_counter()
    got = import_stick(relay_store, relay_settings, stick)
    elapsed = time.perf_counter() - start
    assert got.ok and len(got.transfers[0].forwarded) == len(report.dossiers)
    shutil.rmtree(stick)
    return bed.payload_of_last / elapsed / 1e6


def run(quick: bool = False, rounds: int | None = None, **_: Any) -> BenchResult:
    from bench.sync import HubProcess, make_box
    from sync.client import enroll

    pages = 20 if quick else 200
    root = Path(tempfile.mkdtemp(prefix="motcua-bench-transfer-"))
    hub = HubProcess(root / "hub")
    try:
        hub.init()
        tokens = hub.add_stations(["BENCH-T", "BENCH-R"], partition_size=1000)
        url = hub.start()
        _, store = make_box(root, "box")
        enroll(store, url, tokens["BENCH-T"], station_id="BENCH-T")  # then offline: it never calls the hub
        relay_settings, relay = make_box(root, "relay", chunk_size_kb=1024)
        enroll(relay, url, tokens["BENCH-R"], station_id="BENCH-R")
        bed = Bed(root=root, store=store, hub_dir=hub.data_dir, pages=pages)
        try:
            cmp = compare(lambda: transfer_round(bed), lambda: baseline_round(bed), rounds=rounds)
            split = bed.split or {}
            relayed = relay_round(bed, relay, relay_settings)
        finally:
            store.close()
            relay.close()
    finally:
        hub.stop()
        shutil.rmtree(root, ignore_errors=True)
    details = {**split, "export_s_spread": spread_of(split.get("export_s", [])),
               "import_s_spread": spread_of(split.get("import_s", [])),
               "relay_import_mb_s": round(relayed, 2), "pages": pages, "page_bytes": PAGE, "quick": quick,
               "note": "workload: manifests, vouchers, signed document, every blob hashed on export and "
                       "again on import; export: one flush of the stick before its rename; import: the "
                       "hub's blob files (an fsync of each blob and of its directory, as for an upload), "
                       "one create + one commit transaction per dossier; baseline: two copies, one sync each"}
    return cmp.result(name="transfer", metric="export + hub import throughput", unit="MB/s",
                      baseline="cp -r + sync to the stick directory and back, same bytes, same filesystem",
                      cipher=default_cipher(), details=details)
