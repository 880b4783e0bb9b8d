"""CCCD chip read timing over real pcscd + vpcd with the test eMRTD emulator.

``measure_card_read(quick)`` starts pcscd (or waits its turn for the machine's vpcd), puts the
emulated card on the virtual reader, and times whole reads: BAC, DG1, DG13, EF.SOD and passive
authentication. The baseline in the same run is the bare PC/SC round trip: the same number of
APDUs sent as unprotected SELECTs, so the ratio shows what the protocol and crypto add.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench._harness import summary_ms

_TEST_DIR = Path(__file__).resolve().parents[1] / "tests" / "edge" / "devices" / "cccd"


def _import_test_stack():
    if not (_TEST_DIR / "emrtd_emulator.py").exists():
        return None
    if str(_TEST_DIR) not in sys.path:
        sys.path.insert(0, str(_TEST_DIR))
    import cccd_cardfiles
    import emrtd_emulator
    import pcsc_stack

    return cccd_cardfiles, emrtd_emulator, pcsc_stack


class _CountingTransport:
    def __init__(self, inner: Any) -> None:
        self.inner, self.count = inner, 0

    def transmit(self, apdu: bytes) -> bytes:
        self.count += 1
        return self.inner.transmit(apdu)


def measure_card_read(quick: bool) -> dict[str, Any]:
    """Time card reads; returns {available, reads, apdus_per_read, read_*_ms, baseline_*_ms, ratio}."""
    stack_modules = _import_test_stack()
    if stack_modules is None:
        return {"available": False, "reason": "card emulator not found (tests/edge/devices/cccd)"}
    cardfiles, emulator_mod, pcsc_stack = stack_modules
    reason = pcsc_stack.missing_reason()
    if reason:
        return {"available": False, "reason": reason}

    from edge.devices.cccd import MrzKey, PcscTransport, read_card
    from edge.devices.cccd._apdu import command

    reads = 5 if quick else 30
    with tempfile.TemporaryDirectory(prefix="motcua-bench-card-") as tmp:
        folder = Path(tmp)
        pki = cardfiles.make_pki()
        csca = folder / "csca"
        csca.mkdir()
        (csca / "csca.pem").write_bytes(pki.csca_pem())
        key = MrzKey.from_fields(cardfiles.ID_NUMBER, cardfiles.DOB, cardfiles.EXPIRY)
        stack = pcsc_stack.PcscStack(folder / "pcscd.log").start()
        emulator = None
        try:
            emulator = emulator_mod.VpcdEmulator(emulator_mod.EmrtdCard(cardfiles.card_files(pki), key)).start()
            pcsc_stack.wait_for_card(True)
            read_s: list[float] = []
            base_s: list[float] = []
            apdus = 0
            verified = True
            with PcscTransport(pcsc_stack.READER) as transport:  # warm-up, counts the APDUs
                counting = _CountingTransport(transport)
                read_card(counting, mrz=key, csca_dir=csca)
                apdus = counting.count
            select = command(0x00, 0xA4, 0x04, 0x0C, bytes.fromhex("A0000002471001"))
            for _ in range(reads):
                # Each read is a new tap: connect, read, disconnect (pcscd powers the card down).
                start = time.perf_counter()
                with PcscTransport(pcsc_stack.READER) as transport:
                    result = read_card(transport, mrz=key, csca_dir=csca)
                read_s.append(time.perf_counter() - start)
                verified = verified and result.verified
                start = time.perf_counter()
                with PcscTransport(pcsc_stack.READER) as transport:
                    for _ in range(apdus):
                        transport.transmit(select)
                base_s.append(time.perf_counter() - start)
        finally:
            if emulator is not None:
                emulator.stop()
            stack.stop()
    read = summary_ms(read_s)
    base = summary_ms(base_s)
    return {
        "available": True, "reads": reads, "apdus_per_read": apdus, "all_verified": verified,
        **{f"read_{k}": v for k, v in read.items() if k != "n"},
        **{f"baseline_{k}": v for k, v in base.items() if k != "n"},
        "baseline": "same number of plain SELECT APDUs over the same pcscd/vpcd",
        "ratio": round(read["p50_ms"] / base["p50_ms"], 4) if base["p50_ms"] else 0.0,
    }


if __name__ == "__main__":
    import json

    print(json.dumps(measure_card_read(quick="--quick" in sys.argv), indent=2))
