"""The interleaved comparison: order of the rounds, the ratios, the spread and the verdict."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from bench._harness import BenchResult, Comparison, acompare, compare, machine, spread_of, verdict
from bench.cli import available, run_all
from edge.cli import cli


class FakeWorkload:
    """Rounds that record the order they ran in and return preset values."""

    def __init__(self, workload: list[float], baseline: list[float]) -> None:
        self.w, self.b = list(workload), list(baseline)
        self.order: list[str] = []

    def workload(self) -> float:
        self.order.append("A")
        return self.w.pop(0)

    def baseline(self) -> float:
        self.order.append("B")
        return self.b.pop(0)


def test_rounds_alternate_and_pair_up() -> None:
    fake = FakeWorkload([2, 4, 6, 8, 10, 99], [1, 2, 2, 4, 5, 1])
    cmp = compare(fake.workload, fake.baseline, rounds=5)
    assert fake.order == ["A", "B"] * 5
    assert cmp.ratios == [2, 2, 3, 2, 2]
    s = cmp.summary()
    assert s["ratio"] == 2 and s["ratio_min"] == 2 and s["ratio_max"] == 3
    assert s["value"] == 6 and s["baseline_value"] == 2  # medians of each side
    assert s["spread"] == 0.5 and s["rounds"] == 5


def test_warmup_rounds_are_not_kept() -> None:
    fake = FakeWorkload([100, 1, 1, 1, 1, 1], [1] * 6)
    cmp = compare(fake.workload, fake.baseline, rounds=5, warmup=1)
    assert fake.order == ["A", "B"] * 6 and cmp.ratios == [1] * 5


def test_default_is_five_pairs_and_fewer_are_refused() -> None:
    fake = FakeWorkload([1] * 5, [1] * 5)
    assert len(compare(fake.workload, fake.baseline).ratios) == 5
    with pytest.raises(ValueError, match="at least 5 rounds"):
        compare(fake.workload, fake.baseline, rounds=4)


@pytest.mark.parametrize("bad", [0, -1.0, None, "1", True])
def test_a_round_must_measure_a_positive_number(bad) -> None:
    with pytest.raises((TypeError, ValueError)):
        compare(lambda: bad, lambda: 1.0, rounds=5)


def test_narrow_spread_concludes_by_the_median() -> None:
    ratios = [0.88, 0.91, 0.92, 0.93, 0.95]  # spread 0.076
    assert verdict(ratios, goal_at_least=0.9) == (True, "met")  # one pair misses, the median meets
    assert verdict(ratios, goal_at_least=0.925) == (True, "missed")
    assert verdict(ratios) == (True, "no goal")


def test_wide_spread_straddling_the_goal_is_inconclusive() -> None:
    ratios = [0.5, 0.8, 0.95, 1.1, 1.4]
    assert verdict(ratios, goal_at_least=0.9) == (False, "inconclusive")
    assert verdict(ratios) == (False, "no goal")


def test_wide_spread_on_one_side_of_the_goal_still_concludes() -> None:
    assert verdict([2.0, 4.0, 9.0, 3.0, 2.5], goal_at_most=1.5) == (True, "missed")
    assert verdict([2.0, 4.0, 9.0, 3.0, 2.5], goal_at_most=10) == (True, "met")
    assert verdict([1.2, 1.0, 1.35], goal_at_least=0.9, goal_at_most=1.4) == (True, "met")
    assert verdict([1.2, 1.0, 1.5], goal_at_least=0.9, goal_at_most=1.4) == (False, "inconclusive")


def test_spread_threshold_is_the_callers() -> None:
    ratios = [0.8, 0.9, 1.0, 1.0, 1.1]  # spread 0.3
    assert verdict(ratios, goal_at_least=0.95, max_spread=0.25) == (False, "inconclusive")
    assert verdict(ratios, goal_at_least=0.95, max_spread=0.35) == (True, "met")


def test_result_carries_machine_cipher_and_rounds() -> None:
    fake = FakeWorkload([3, 3, 3, 3, 3], [1, 1, 1, 1, 1])
    result = compare(fake.workload, fake.baseline, goal_at_most=3).result(
        name="fake", metric="seconds", unit="s", baseline="floor", cipher="aes-256-gcm", details={"x": 1})
    assert isinstance(result, BenchResult)
    data = json.loads(json.dumps(result.to_dict()))
    assert data["ratio"] == 3 and data["verdict"] == "met" and data["conclusive"] and data["goal"] == "ratio <= 3"
    assert data["cipher"] == "aes-256-gcm" and data["details"]["x"] == 1
    assert data["details"]["ratios"] == [3] * 5 and data["details"]["workload_rounds"] == [3] * 5
    m = data["machine"]
    assert m["cores"] >= 1 and m["cpu_model"] and isinstance(m["aes"], bool)


def test_machine_reads_the_aes_flag_from_cpuinfo() -> None:
    flags = Path("/proc/cpuinfo").read_text(errors="replace") if Path("/proc/cpuinfo").exists() else ""
    has_aes = any(line.split(":", 1)[0].strip() in {"flags", "Features"} and "aes" in line.split(":", 1)[1].split()
                  for line in flags.splitlines() if ":" in line)
    assert machine()["aes"] is has_aes


def test_acompare_runs_coroutines_interleaved() -> None:
    order: list[str] = []

    async def w() -> float:
        order.append("A")
        await asyncio.sleep(0)
        return 2.0

    def b() -> float:  # a plain function works too
        order.append("B")
        return 1.0

    cmp = asyncio.run(acompare(w, b, rounds=6))
    assert order == ["A", "B"] * 6 and cmp.summary()["ratio"] == 2


def test_spread_of_empty_and_comparison_of_no_rounds() -> None:
    assert spread_of([])["n"] == 0
    assert verdict([], goal_at_least=1) == (False, "inconclusive")
    assert Comparison(workload=[2.0], baseline=[4.0]).ratios == [0.5]


def test_bench_needs_a_name_or_all() -> None:
    runner = CliRunner()
    none = runner.invoke(cli, ["bench"])
    assert none.exit_code == 2 and "--all" in none.output
    both = runner.invoke(cli, ["bench", "store", "--all"])
    assert both.exit_code == 2
    unknown = runner.invoke(cli, ["bench", "nosuch"])
    assert unknown.exit_code == 2 and "unknown benchmark" in unknown.output


def test_run_all_records_results_and_failures(tmp_path: Path) -> None:
    doc = run_all(["store", "nosuch"], quick=True)
    assert doc["schema"] == "motcua-bench/1" and doc["machine"]["cores"] >= 1 and doc["cipher"]
    assert set(doc["results"]) == {"store"} and set(doc["failed"]) == {"nosuch"}
    store = doc["results"]["store"]
    assert store["rounds"] == 5 and store["unit"] == "MB/s" and store["cipher"] == doc["cipher"]
    assert set(store["details"]["ciphers"]) == {"aes-256-gcm", "chacha20-poly1305"}
    for c in store["details"]["ciphers"].values():
        assert c["ratio_min"] <= c["ratio"] <= c["ratio_max"] and len(c["ratios"]) == 5
    json.dumps(doc)


def test_bench_json_out_file(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    result = CliRunner().invoke(cli, ["bench", "provision", "--quick", "--json", "--out", str(out)])
    assert result.exit_code == 0, result.output
    written = json.loads(out.read_text())
    assert written == json.loads(result.output)
    assert written["name"] == "provision" and written["rounds"] == 5 and written["goal"] == "ratio <= 3"
    missing = CliRunner().invoke(cli, ["bench", "provision", "--quick", "--out", str(tmp_path / "no" / "x.json")])
    assert missing.exit_code == 2


def test_every_module_is_listed() -> None:
    assert {"api", "cli", "devices", "field", "fleet", "provision", "sign", "store", "sync",
            "transfer"} <= set(available())
