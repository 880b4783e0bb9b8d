"""``motcua bench NAME [--json]``: run one benchmark, print its result."""

from __future__ import annotations

import importlib
import json
import pkgutil

import click

import bench

# A benchmark whose module cannot carry its name (``bench.cli`` is this command).
MODULES = {"cli": "cli_startup"}


def available() -> list[str]:
    modules = {m.name for m in pkgutil.iter_modules(bench.__path__) if not m.name.startswith("_") and m.name != "cli"}
    return sorted((modules - set(MODULES.values())) | set(MODULES))


@click.command("bench")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--quick", is_flag=True, help="Smaller workload, for smoke tests.")
@click.option("--stations", type=int, default=None, help="Simulated stations (fleet benchmark).")
@click.option("--rounds", type=click.IntRange(min=5), default=None,
              help="Interleaved baseline/command pairs per command (cli benchmark; default 15, quick 5).")
def bench_command(name: str, as_json: bool, quick: bool, stations: int | None, rounds: int | None) -> None:
    """Run benchmark NAME and report its ratio against a baseline measured in the same run."""
    names = available()
    if name not in names:
        raise click.BadParameter(f"unknown benchmark '{name}'; available: {', '.join(names)}", param_hint="NAME")
    module = importlib.import_module(f"bench.{MODULES.get(name, name)}")
    options = {"quick": quick}
    if stations is not None:
        options["stations"] = stations
    if rounds is not None:
        options["rounds"] = rounds
    result = module.run(**options)
    if as_json:
        click.echo(json.dumps(result.to_dict(), ensure_ascii=False))
    else:
        data = result.to_dict()
        click.echo(f"{data['name']}: {data['metric']} = {data['value']} {data['unit']} "
                   f"(baseline {data['baseline']}: {data['baseline_value']}; ratio {data['ratio']})")
        for key, value in data["details"].items():
            click.echo(f"  {key}: {value}")
