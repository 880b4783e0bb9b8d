"""CCCD file parsing: BER-TLV of a chip's data groups, by offsets into one buffer.

``measure_tlv_parse(quick)`` parses files of many small objects (the shape of DG13 or of a
secure-messaging answer, at worst) with ``edge.devices.cccd._tlv.parse_all``. The baseline in the
same run is a bare walk over the same bytes: the object boundaries alone, found from the headers
by offsets into a memoryview, no object built. The ratio is parse time over walk time; the same
ratio at 16, 32 and 64 KB shows the parse stays linear (the per-KB times should not grow).
"""

from __future__ import annotations

import statistics
import time
from typing import Any


def _bare_walk(data: bytes) -> int:
    view, pos, end, count = memoryview(data), 0, len(data), 0
    while pos < end:
        first = view[pos + 1]
        if first < 0x80:
            pos += 2 + first
        else:
            n = first & 0x7F
            pos += 2 + n + int.from_bytes(view[pos + 2:pos + 2 + n], "big")
        count += 1
    return count


def _median_s(fn, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure_tlv_parse(quick: bool) -> dict[str, Any]:
    from edge.devices.cccd import _tlv

    rounds = 3 if quick else 9
    item = _tlv.encode(0x0C, "Nguyễn".encode())  # a short UTF8String, 10 bytes with header
    out: dict[str, Any] = {"item_bytes": len(item), "rounds": rounds,
                           "baseline": "bare memoryview walk over the same bytes (boundaries only)"}
    for kb in (16, 32, 64):
        data = item * (kb * 1024 // len(item))
        assert len(_tlv.parse_all(data, what="bench")) == _bare_walk(data)
        parse_s = _median_s(lambda d=data: _tlv.parse_all(d, what="bench"), rounds)
        walk_s = _median_s(lambda d=data: _bare_walk(d), rounds)
        out[f"{kb}kb"] = {"objects": len(data) // len(item), "parse_ms": round(parse_s * 1000, 2),
                          "walk_ms": round(walk_s * 1000, 2), "parse_ms_per_kb": round(parse_s * 1000 / kb, 3),
                          "ratio": round(parse_s / walk_s, 2) if walk_s else 0.0}
    out["ratio"] = out["32kb"]["ratio"]
    out["growth_64kb_vs_16kb_per_kb"] = round(out["64kb"]["parse_ms_per_kb"] / out["16kb"]["parse_ms_per_kb"], 2)
    out["goal"] = "growth per KB about 1 (linear); ratio is the price of building the objects"
    return out
