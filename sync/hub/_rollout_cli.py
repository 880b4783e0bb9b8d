"""`motcua hub rollout …`: start a staged rollout of a release, follow it, abort it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from .cli import _now, _open, data_dir_option


@click.group("rollout")
def rollout() -> None:
    """Staged rollout of a release to the boxes, wave by wave, halted by failures (docs/deploy.md)."""


@rollout.command("start")
@data_dir_option
@click.argument("version")
@click.option("--waves", default="1,10,50,100", show_default=True,
              help="Cumulative percents of the boxes per wave, canaries first; the last is 100.")
@click.option("--agency", default=None, help="Only the boxes of this agency code.")
@click.option("--kind", default=None, help="Only boxes of this kind (branch, commune, mobile, popup).")
@click.option("--canary", "canaries", multiple=True, help="A station that goes first (repeatable).")
@click.option("--max-failures", "threshold", type=int, default=10, show_default=True,
              help="Halt when more than this percent of a wave's boxes fail (roll back).")
@click.option("--json", "as_json", is_flag=True)
def start_cmd(data_dir: Path, db: str | None, version: str, waves: str, agency: str | None, kind: str | None,
              canaries: tuple[str, ...], threshold: int, as_json: bool) -> None:
    """Start rolling VERSION out: the first wave's boxes get a signed update command on the feed."""
    from ._rollout import RolloutPlan, parse_waves, start_rollout

    plan = RolloutPlan(version=version, waves=parse_waves(waves), agency_code=agency, kind=kind,
                       failure_threshold_pct=threshold, canaries=tuple(dict.fromkeys(canaries)))
    storage, keys = _open(data_dir, db)
    try:
        status = start_rollout(storage, keys, plan, now=_now())
    finally:
        storage.close()
    _print(status, as_json)


@rollout.command("status")
@data_dir_option
@click.argument("rollout_id", required=False)
@click.option("--json", "as_json", is_flag=True)
def status_cmd(data_dir: Path, db: str | None, rollout_id: str | None, as_json: bool) -> None:
    """Per-wave progress of a rollout (the latest one by default)."""
    from ._rollout import rollout_status

    storage, _ = _open(data_dir, db)
    try:
        status = rollout_status(storage, rollout_id)
    finally:
        storage.close()
    if status is None:
        click.echo("null" if as_json else "no rollout yet")
        return
    _print(status, as_json)


@rollout.command("abort")
@data_dir_option
@click.argument("rollout_id")
@click.option("--reason", default="aborted by IT", show_default=True)
def abort_cmd(data_dir: Path, db: str | None, rollout_id: str, reason: str) -> None:
    """Stop a rollout: no further wave is sent."""
    from ._rollout import abort_rollout

    storage, _ = _open(data_dir, db)
    try:
        abort_rollout(storage, rollout_id, reason=reason, now=_now())
    finally:
        storage.close()
    click.echo(f"rollout {rollout_id} aborted")


def _print(status: dict[str, Any], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(status, ensure_ascii=False, indent=1))
        return
    click.echo(f"rollout {status['rollout_id']}  version {status['version']}  {status['state']}"
               f"  wave {status['current_wave']}/{len(status['waves'])}  {status['boxes']} box(es)"
               + (f"  — {status['reason']}" if status["reason"] else ""))
    for w in status["waves"]:
        click.echo(f"  wave {w['wave']} ({w['percent']:>3} %): {w['boxes']:>4} box(es)  waiting {w['waiting']}  "
                   f"sent {w['sent']}  installed {w['installed']}  rolled back {w['rolled_back']}  failed {w['failed']}"
                   + (f"  [{', '.join(w['failed_stations'][:10])}]" if w["failed_stations"] else ""))
