"""``motcua bench NAME [--json]``: run one benchmark, print its result."""

from __future__ import annotations

import importlib
import json
import pkgutil

import click

import bench


def available() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules(bench.__path__) if not m.name.startswith("_") and m.name != "cli")


@click.command("bench")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--quick", is_flag=True, help="Smaller workload, for smoke tests.")
@click.option("--stations", type=int, default=None, help="Simulated stations (fleet benchmark).")
def bench_command(name: str, as_json: bool, quick: bool, stations: int | None) -> None:
    """Run benchmark NAME and report its ratio against a baseline measured in the same run."""
    names = available()
    if name not in names:
        raise click.BadParameter(f"unknown benchmark '{name}'; available: {', '.join(names)}", param_hint="NAME")
    module = importlib.import_module(f"bench.{name}")
    options = {"quick": quick}
    if stations is not None:
        options["stations"] = stations
    result = module.run(**options)
    if as_json:
        click.echo(json.dumps(result.to_dict(), ensure_ascii=False))
    else:
        data = result.to_dict()
        click.echo(f"{data['name']}: {data['metric']} = {data['value']} {data['unit']} "
                   f"(baseline {data['baseline']}: {data['baseline_value']}; ratio {data['ratio']})")
        for key, value in data["details"].items():
            click.echo(f"  {key}: {value}")


COMMANDS = [bench_command]
