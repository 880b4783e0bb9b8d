"""The fleet-operations figures of `bench fleet`, on a small fleet (a run, not a speed check)."""

from __future__ import annotations

from bench._fleet_ops import measure


def test_measure_reports_both_figures_with_their_baselines_interleaved():
    out = measure(stations=12, quick=True)
    assert out["stations"] == 12 and out["rounds"] == 5
    assert out["hub_cpu_ms_per_heartbeat"] >= 0 and out["hub_cpu_ms_per_time_request"] >= 0
    assert out["fleet_page_p95_ms"] > 0 and out["bare_rows_p95_ms"] > 0
    assert set(out) >= {"heartbeat_cpu_ratio", "fleet_page_ratio", "page_requests"}
    assert out["fleet_page_bytes"] > 10_000  # the first page's HTML, its rows included
    assert all(len(v) == 5 for v in out["rounds_ms"].values())
    page = out["fleet_page_ratio_spread"]
    assert page["n"] == 5 and page["min"] <= out["fleet_page_ratio"] == page["median"] <= page["max"]
    assert out["heartbeat_cpu_ratio_spread"]["n"] <= 5  # pairs whose /v1/time took no measurable CPU have no ratio
