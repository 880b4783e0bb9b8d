"""CCCD chip read timing over real pcscd + vpcd with the test eMRTD emulator.

``measure_card_read(quick)`` starts pcscd (or waits its turn for the machine's vpcd), puts the
emulated card on the virtual reader, and times whole reads: BAC, DG1, DG13, EF.SOD and passive
authentication. The baseline in the same run is the bare PC/SC round trip: the same number of
APDUs sent as unprotected SELECTs, so the ratio shows what the protocol and crypto add.

The same is measured for a PACE card opened with the CAN (PACE-ECDH-GM-AES-128 on
brainpoolP256r1, AES secure messaging), under ``pace``, with the time of the PACE handshake
alone (MSE:Set AT + four GENERAL AUTHENTICATE, elliptic-curve arithmetic in pure Python).
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
    """Time card reads; returns {available, reads, apdus_per_read, read_*_ms, baseline_*_ms, ratio,
    pace: {the same for a CAN read over PACE, handshake_*_ms}}."""
    stack_modules = _import_test_stack()
    if stack_modules is None:
        return {"available": False, "reason": "card emulator not found (tests/edge/devices/cccd)"}
    cardfiles, emulator_mod, pcsc_stack = stack_modules
    reason = pcsc_stack.missing_reason()
    if reason:
        return {"available": False, "reason": reason}

    from edge.devices.cccd import MrzKey

    reads = 5 if quick else 30
    with tempfile.TemporaryDirectory(prefix="motcua-bench-card-") as tmp:
        folder = Path(tmp)
        pki = cardfiles.make_pki()
        csca = folder / "csca"
        csca.mkdir()
        (csca / "csca.pem").write_bytes(pki.csca_pem())
        key = MrzKey.from_fields(cardfiles.ID_NUMBER, cardfiles.DOB, cardfiles.EXPIRY)
        # vpcd is one per machine: another session may hold it for long; quick mode waits briefly
        # and reports the card read as not measured (devices' details) rather than stall the run.
        stack = pcsc_stack.PcscStack(folder / "pcscd.log").start(lock_timeout=30 if quick else 900)
        try:
            bac = _time_reads(emulator_mod.EmrtdCard(cardfiles.card_files(pki), key), reads,
                              emulator_mod, pcsc_stack, mrz=key, csca_dir=csca)
            pace_card = emulator_mod.EmrtdCard(cardfiles.card_files(pki), key, pace=[("2.2", 13)],
                                               can=cardfiles.CAN, bac=False)
            pace = _time_reads(pace_card, reads, emulator_mod, pcsc_stack, can=cardfiles.CAN, csca_dir=csca,
                               handshake=True)
        finally:
            stack.stop()
    direct = _time_pace_in_process(cardfiles, emulator_mod, pki, key, 10 if quick else 50)
    return {"available": True, "reads": reads, **bac,
            "pace": {"protocol": "PACE-ECDH-GM-AES-128, brainpoolP256r1, CAN", **pace, **direct}}


def _time_pace_in_process(cardfiles: Any, emulator_mod: Any, pki: Any, key: Any, rounds: int) -> dict[str, Any]:
    """PACE with the card logic called directly (no PC/SC): the CPU cost of both sides' crypto."""
    from edge.devices.cccd._pace import PaceInfo, PacePassword, perform_pace

    info = PaceInfo(oid="0.4.0.127.0.7.2.2.4.2.2", version=2, parameter_id=13)
    password = PacePassword.from_can(cardfiles.CAN)
    times: list[float] = []
    for _ in range(rounds):
        card = emulator_mod.EmrtdCard(cardfiles.card_files(pki), key, pace=[("2.2", 13)], can=cardfiles.CAN)
        card.transmit = card.process
        start = time.perf_counter()
        perform_pace(card, password, info)
        times.append(time.perf_counter() - start)
    return {f"in_process_handshake_{k}": v for k, v in summary_ms(times).items() if k != "n"}


def _time_reads(card: Any, reads: int, emulator_mod: Any, pcsc_stack: Any, *, handshake: bool = False,
                **read_args: Any) -> dict[str, Any]:
    """Put ``card`` on vpcd and time ``reads`` whole reads and the plain-SELECT baseline."""
    from edge.devices.cccd import EmrtdSession, PcscTransport, parse_card_access, read_card
    from edge.devices.cccd._apdu import command
    from edge.devices.cccd._pace import PacePassword, choose

    emulator = emulator_mod.VpcdEmulator(card).start()
    try:
        pcsc_stack.wait_for_card(True)
        read_s: list[float] = []
        base_s: list[float] = []
        pace_s: list[float] = []
        verified = True
        with PcscTransport(pcsc_stack.READER) as transport:  # warm-up, counts the APDUs
            counting = _CountingTransport(transport)
            read_card(counting, **read_args)
            apdus = counting.count
        select = command(0x00, 0xA4, 0x04, 0x0C, bytes.fromhex("A0000002471001"))
        for _ in range(reads):
            # Each read is a new tap: connect, read, disconnect (pcscd powers the card down).
            start = time.perf_counter()
            with PcscTransport(pcsc_stack.READER) as transport:
                result = read_card(transport, **read_args)
            read_s.append(time.perf_counter() - start)
            verified = verified and result.verified
            start = time.perf_counter()
            with PcscTransport(pcsc_stack.READER) as transport:
                for _ in range(apdus):
                    transport.transmit(select)
            base_s.append(time.perf_counter() - start)
            if handshake:
                with PcscTransport(pcsc_stack.READER) as transport:
                    session = EmrtdSession(transport)
                    info = choose(parse_card_access(session.read_card_access() or b""))
                    start = time.perf_counter()
                    session.authenticate_pace(PacePassword.from_can(read_args["can"]), info)
                    pace_s.append(time.perf_counter() - start)
    finally:
        emulator.stop()
        pcsc_stack.wait_for_card(False)
    read = summary_ms(read_s)
    base = summary_ms(base_s)
    out = {
        "apdus_per_read": apdus, "all_verified": verified,
        **{f"read_{k}": v for k, v in read.items() if k != "n"},
        **{f"baseline_{k}": v for k, v in base.items() if k != "n"},
        "baseline": "same number of plain SELECT APDUs over the same pcscd/vpcd",
        "ratio": round(read["p50_ms"] / base["p50_ms"], 4) if base["p50_ms"] else 0.0,
    }
    if handshake:
        out.update({f"handshake_{k}": v for k, v in summary_ms(pace_s).items() if k != "n"})
    return out


if __name__ == "__main__":
    import json

    print(json.dumps(measure_card_read(quick="--quick" in sys.argv), indent=2))
