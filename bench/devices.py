"""``motcua bench devices``: scanner pages per minute into the encrypted store vs plain files.

SANE's ``test`` backend (enabled in a private SANE_CONFIG_DIR) scans feeder batches of colour
pattern pages. The measured path is the product's: scanimage → FIFO → ``store.add_page``
(encrypted, fsynced). The baseline, in the same run, is ``scanimage --batch`` writing the same
pages to PNG files. Rounds alternate between the two (``bench._harness.compare``) and the median of the per-pair
ratios is reported (goal: ratio ≥ 0.9, encryption must not slow the scanner). PDF assembly is timed separately.
``details`` also carries the CCCD card read time over vpcd from ``bench._card`` when present,
and the chip files' TLV parse time against a bare walk of the same bytes (``bench._tlv``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from ._harness import BenchResult, BenchUnavailable, compare, install_packages, peak_rss_mb

GOAL = 0.9

SHEETS = 10  # the test backend's feeder holds 10 sheets per session
OPTIONS = ("-x", "200", "-y", "200", "--test-picture", "Color pattern")


def _sane_dir(root: Path) -> Path:
    folder = root / "sane.d"
    folder.mkdir()
    (folder / "dll.conf").write_text("test\n")
    if Path("/etc/sane.d/test.conf").exists():
        shutil.copy("/etc/sane.d/test.conf", folder / "test.conf")
    return folder


def _baseline(out: Path, pages: int, resolution: int) -> float:
    out.mkdir()
    cmd = ["scanimage", "-d", "test", "--format=png", f"--batch={out}/p%d.png",
           f"--batch-count={pages}", f"--resolution={resolution}", "--mode=Color",
           "--source=Automatic Document Feeder", *OPTIONS]
    start = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    for f in out.iterdir():
        with open(f, "rb") as fh:
            os.fsync(fh.fileno())
    elapsed = time.perf_counter() - start
    shutil.rmtree(out)
    return elapsed


def _card_details(quick: bool) -> dict[str, Any]:
    try:
        from bench._card import measure_card_read
    except ImportError as exc:
        return {"card_read": f"not measured: bench._card is not available ({exc})"}
    try:
        return {"card_read": measure_card_read(quick)}
    except Exception as exc:  # the card bench needs pcscd + vpcd; report, do not fail
        return {"card_read": f"not measured: {type(exc).__name__}: {exc}"}


def _tlv_details(quick: bool) -> dict[str, Any]:
    from bench._tlv import measure_tlv_parse

    return measure_tlv_parse(quick)


def run(quick: bool = False, rounds: int | None = None, **_: Any) -> BenchResult:
    from edge.config import load_settings
    from edge.devices import ScanRequest, assemble_component_pdf, device_options, scan_to_store
    from edge.store import Store

    if shutil.which("scanimage") is None:
        raise BenchUnavailable("scanimage is not installed (Debian package sane-utils)")
    install_packages()
    resolution = 100 if quick else 150
    root = Path(tempfile.mkdtemp(prefix="motcua-bench-devices-", dir="/var/tmp"))
    old_env = os.environ.get("SANE_CONFIG_DIR")
    os.environ["SANE_CONFIG_DIR"] = str(_sane_dir(root))
    try:
        settings = load_settings(None, env={}, overrides={"store": {"state_dir": str(root / "box")}})
        Store.init(settings, agency_code="000.00.06.H56", demo_key_out=root / "city.key.json")
        pdf_seconds: list[float] = []
        page_bytes = {"n": 0}
        counter = iter(range(10**6))
        # The daemon reads a scanner's options once, when it appears; so does the benchmark.
        options = device_options("test")
        with Store.open(settings) as store:
            def workload() -> float:
                r = next(counter)
                dossier = store.create_draft(
                    procedure_code="1.001612", actor="bench",
                    applicant={"full_name": "Bench Người Dùng", "id_number": f"{r:012d}"})
                req = ScanRequest(device="test", dossier_id=dossier, component="tp1",
                                  pages=SHEETS, resolution=resolution, mode="Color",
                                  source="ADF", actor="bench", extra_options=OPTIONS)
                start = time.perf_counter()
                result = scan_to_store(store, req, options=options, assemble_pdf=False)
                took = time.perf_counter() - start
                if len(result.pages) != SHEETS:
                    raise RuntimeError(f"scan round stored {len(result.pages)} of {SHEETS} pages: {result.error}")
                page_bytes["n"] = result.pages[0].plain_size
                start = time.perf_counter()
                assemble_component_pdf(store, dossier, "tp1", actor="bench")
                pdf_seconds.append(time.perf_counter() - start)
                return SHEETS * 60 / took

            def baseline() -> float:
                return SHEETS * 60 / _baseline(root / f"files{next(counter)}", SHEETS, resolution)

            cmp = compare(workload, baseline, rounds=rounds, goal_at_least=GOAL)
            cipher = store.cipher
        details: dict[str, Any] = {
            "pages_per_round": SHEETS,
            "resolution_dpi": resolution,
            "page_png_bytes": page_bytes["n"],
            "pdf_assembly_s_per_page": round(sum(pdf_seconds) / (len(pdf_seconds) * SHEETS), 4),
            "peak_rss_mb": peak_rss_mb(),
            "goal_ratio": GOAL,
        }
        details.update(_card_details(quick))
        details["tlv_parse"] = _tlv_details(quick)
        return cmp.result(name="devices", metric="scanner pages per minute into the encrypted store",
                          unit="pages/min", baseline="scanimage --batch writing PNG files",
                          cipher=cipher, details=details)
    finally:
        if old_env is None:
            os.environ.pop("SANE_CONFIG_DIR", None)
        else:
            os.environ["SANE_CONFIG_DIR"] = old_env
        shutil.rmtree(root, ignore_errors=True)
