"""``motcua bench NAME`` / ``motcua bench --all``: run benchmarks, print (or write) their results."""

from __future__ import annotations

import datetime as dt
import importlib
import json
import pkgutil
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import click

import bench

from ._harness import MIN_ROUNDS, BenchResult, BenchUnavailable, default_cipher, machine

# A benchmark whose module cannot carry its name (``bench.cli`` is this command).
MODULES = {"cli": "cli_startup"}
SCHEMA = "motcua-bench/1"


def available() -> list[str]:
    modules = {m.name for m in pkgutil.iter_modules(bench.__path__) if not m.name.startswith("_") and m.name != "cli"}
    return sorted((modules - set(MODULES.values())) | set(MODULES))


def run_one(name: str, **options: Any) -> BenchResult:
    module = importlib.import_module(f"bench.{MODULES.get(name, name)}")
    return module.run(**options)


def run_all(names: list[str], *, echo=None, **options: Any) -> dict[str, Any]:
    """Every named benchmark in turn; one document (a failure or a skip is recorded, not raised)."""
    doc: dict[str, Any] = {"schema": SCHEMA, "started_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                           "machine": machine(), "cipher": default_cipher(),
                           "options": {k: v for k, v in options.items() if v is not None},
                           "results": {}, "skipped": {}, "failed": {}}
    for name in names:
        if echo:
            echo(f"bench {name} …")
        start = time.perf_counter()
        try:
            result = run_one(name, **options)
        except BenchUnavailable as exc:
            doc["skipped"][name] = str(exc)
            continue
        except Exception as exc:  # one broken benchmark must not lose the others' figures
            doc["failed"][name] = {"error": f"{type(exc).__name__}: {exc}"[:2000],
                                   "traceback": traceback.format_exc()[-4000:]}
            continue
        data = result.to_dict()
        data["seconds"] = round(time.perf_counter() - start, 1)
        doc["results"][name] = data
    doc["finished_at"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    return doc


def _text(data: dict[str, Any]) -> str:
    lines = [f"{data['name']}: {data['metric']} = {data['value']} {data['unit']} "
             f"(baseline {data['baseline']}: {data['baseline_value']})",
             f"  ratio {data['ratio']} (min {data['ratio_min']}, max {data['ratio_max']}, spread {data['spread']}, "
             f"{data['rounds']} interleaved pairs) — goal {data['goal'] or 'none'}: {data['verdict']}"
             + ("" if data["conclusive"] else " (spread too wide to conclude)"),
             f"  machine: {data['machine'].get('cores')} cores, {data['machine'].get('cpu_model')}, "
             f"AES {'yes' if data['machine'].get('aes') else 'no'}, load {data['machine'].get('load_avg')}; "
             f"cipher {data['cipher'] or '-'}"]
    lines += [f"  {key}: {value}" for key, value in data["details"].items()]
    return "\n".join(lines)


@click.command("bench")
@click.argument("name", required=False)
@click.option("--all", "run_every", is_flag=True, help="Run every benchmark, one after the other.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the JSON document to FILE (to compare between releases).")
@click.option("--quick", is_flag=True, help="Smaller workload, for smoke tests.")
@click.option("--stations", type=int, default=None, help="Simulated stations (fleet benchmark).")
@click.option("--rounds", type=click.IntRange(min=MIN_ROUNDS), default=None,
              help=f"Interleaved workload/baseline pairs (default 5, cli 15; at least {MIN_ROUNDS}).")
def bench_command(name: str | None, run_every: bool, as_json: bool, out: Path | None, quick: bool,
                  stations: int | None, rounds: int | None) -> None:
    """Run benchmark NAME (or --all) against a baseline measured in the same run, interleaved."""
    names = available()
    if run_every == (name is not None):
        raise click.UsageError(f"give one benchmark NAME or --all (available: {', '.join(names)})")
    if name is not None and name not in names:
        raise click.BadParameter(f"unknown benchmark '{name}'; available: {', '.join(names)}", param_hint="NAME")
    options: dict[str, Any] = {"quick": quick}
    if stations is not None:
        options["stations"] = stations
    if rounds is not None:
        options["rounds"] = rounds
    if out is not None and not out.parent.is_dir():
        raise click.BadParameter(f"directory {out.parent} does not exist", param_hint="--out")
    if run_every:
        doc = run_all(names, echo=None if as_json else (lambda s: click.echo(s, err=True)), **options)
    else:
        try:
            result = run_one(name, **options)
        except BenchUnavailable as exc:
            raise click.ClickException(f"bench {name} cannot run on this machine: {exc}") from None
        doc = result.to_dict()
    text = json.dumps(doc, ensure_ascii=False, indent=1 if run_every else None)
    if out is not None:
        tmp = out.with_name(out.name + ".part")
        tmp.write_text(text + "\n", encoding="utf-8")
        tmp.replace(out)
    if as_json:
        click.echo(text)
    elif run_every:
        for data in doc["results"].values():
            click.echo(_text(data))
        for skipped, why in doc["skipped"].items():
            click.echo(f"{skipped}: skipped: {why}")
        for failed, info in doc["failed"].items():
            click.echo(f"{failed}: FAILED: {info['error']}")
    else:
        click.echo(_text(doc))
    if run_every and doc["failed"]:
        sys.exit(1)
