"""``motcua bench provision``: time to make 1,000 signed bundles and their label sheet.

The measured run is the real thing: inventory validation, partition assignment, a fresh token per
box, 1,000 Ed25519-signed bundles written with fsync (mode 0600), stations.jsonl, manifest.json and
the label PDF (DejaVu font, one vector QR per box), all published by one rename.
Baseline, in the same run: the same 1,000 payloads written as plain unsigned JSON files (with
fsync) and a PDF of the same pages listing the same text without QR codes — the floor any
provisioning tool pays for writing that many files and that much text. The two alternate
(``bench._harness.compare``), each round in a fresh output directory; goal: ratio ≤ 3.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from ._harness import BenchResult, compare

GOAL = 3


def _inventory(n: int, path: Path) -> None:
    agencies = ("000.00.06.H56", "000.00.07.H56", "000.00.53.H48", "000.00.00.H29")
    kinds = ("branch", "commune", "mobile", "popup")
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["serial", "station_name", "agency_code", "kind", "address", "hub_url"])
        for i in range(n):
            w.writerow([f"PI{i:06d}", f"Điểm tiếp nhận Phường Đông Sơn {i}", agencies[i % 4], kinds[i % 4],
                        f"{i} Lê Lợi, Thanh Hóa", "https://hub.example.gov.vn"])


def _keys(base: Path):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from edge.store import CityPrivateKey
    from provisioning import init_keys

    (base / "city.pub").write_text(json.dumps(CityPrivateKey.generate("MLKEM768_X25519").public().to_json()))
    receipt = Ed25519PrivateKey.generate().public_key()
    (base / "receipt.pub").write_bytes(receipt.public_bytes(serialization.Encoding.PEM,
                                                            serialization.PublicFormat.SubjectPublicKeyInfo))
    import datetime as dt

    ca_key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, "motcua bench CA")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(ca_key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + dt.timedelta(days=1))
            .sign(ca_key, hashes.SHA256()))
    (base / "ca.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    keys, _ = init_keys(base / "keys", receipt_key=base / "receipt.pub", city_key=base / "city.pub", ca=base / "ca.pem")
    return keys


def _baseline(plans, keys, out: Path) -> float:
    """Unsigned JSON of the same payloads with fsync, plus a plain-text PDF of the same labels."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    from provisioning._labels import FONT, _register_fonts

    _register_fonts()
    start = time.perf_counter()
    out.mkdir()
    for plan in plans:
        body = json.dumps({**plan.to_json(), "token": "X" * 32, "anchors": keys.anchors.to_json()},
                          ensure_ascii=False).encode()
        fd = os.open(out / f"{plan.serial}.json", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, body)
        os.fsync(fd)
        os.close(fd)
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4, pageCompression=1)
    for i, plan in enumerate(plans):
        if i and i % 16 == 0:
            c.showPage()
        c.setFont(FONT, 8)
        y = 800 - (i % 16) * 48
        for k, line in enumerate((plan.station_name, plan.station_id, plan.serial, plan.agency_code)):
            c.drawString(40, y - k * 10, line)
    c.showPage()
    c.save()
    (out / "labels.pdf").write_bytes(buf.getvalue())
    return time.perf_counter() - start


def run(quick: bool = False, rounds: int | None = None, **_: object) -> BenchResult:
    from provisioning import plan_batch, read_inventory, write_batch

    n = 100 if quick else 1000
    with tempfile.TemporaryDirectory(prefix="motcua-bench-provision-") as tmp:
        base = Path(tmp)
        keys = _keys(base)
        _inventory(n, base / "inventory.csv")
        seen: dict[str, list[float]] = {"validate_and_plan_s": [], "write_batch_s": []}
        last: dict[str, object] = {}
        counter = iter(range(10**6))

        def workload() -> float:
            out = base / f"out{next(counter)}"
            start = time.perf_counter()
            plans = plan_batch(read_inventory(base / "inventory.csv"), keys)
            planned = time.perf_counter()
            result = write_batch(plans, keys, out)
            elapsed = time.perf_counter() - start
            seen["validate_and_plan_s"].append(planned - start)
            seen["write_batch_s"].append(elapsed - (planned - start))
            last.update(plans=plans, pdf=(result.out / "labels.pdf").stat().st_size,
                        bundles=sum(p.stat().st_size for p in (result.out / "bundles").iterdir()))
            shutil.rmtree(out, ignore_errors=True)
            return elapsed

        def baseline() -> float:
            if "plans" not in last:
                last["plans"] = plan_batch(read_inventory(base / "inventory.csv"), keys)
            out = base / f"baseline{next(counter)}"
            took = _baseline(last["plans"], keys, out)
            shutil.rmtree(out, ignore_errors=True)
            return took

        cmp = compare(workload, baseline, rounds=rounds, goal_at_most=GOAL)
    plans = last["plans"]
    return cmp.result(
        name="provision", metric=f"time to make {n} bundles + label sheet", unit="s",
        baseline=f"{n} unsigned JSON files (fsync) + plain-text PDF, same run",
        details={"stations": n,
                 "validate_and_plan_s_median": round(statistics.median(seen["validate_and_plan_s"]), 3),
                 "write_batch_s_median": round(statistics.median(seen["write_batch_s"]), 3),
                 "label_pdf_bytes": last["pdf"], "bundle_bytes_total": last["bundles"],
                 "partition_size": plans[0].partition_size, "goal_ratio": GOAL},
    )
