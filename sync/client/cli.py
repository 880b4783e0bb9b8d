"""``motcua sync``: enroll this box with the city hub, sync now, show the sync status."""

from __future__ import annotations

import asyncio
import json

import click

from edge.context import CliContext, pass_ctx


@click.group("sync")
def sync_group() -> None:
    """Reconciliation with the city hub."""


@sync_group.command("enroll")
@click.option("--hub", "hub_url", required=True, help="Hub URL: https://HOST[:PORT] (http only to loopback).")
@click.option("--token", required=True, help="One-time enrollment token from `motcua hub add-station`.")
@click.option("--ca-file", type=click.Path(exists=True, dir_okay=False), default=None,
              help="The hub's CA certificate (PEM): the only trust anchor for https.")
@click.option("--station-id", default=None, help="Station id (default: the store's).")
@pass_ctx
def enroll_command(ctx: CliContext, hub_url: str, token: str, ca_file: str | None, station_id: str | None) -> None:
    """Enroll this box with the hub: register its key, learn the hub's keys and code partition."""
    from sync.client import enroll

    with ctx.open_store() as store:
        result = enroll(store, hub_url, token, ca_file=ca_file or ctx.settings.sync.ca_file or None,
                        station_id=station_id, timeout_seconds=ctx.settings.sync.request_timeout_seconds)
    click.echo(f"enrolled as {result.station_id} (agency {result.agency_code}, partition "
               f"{result.partition_index}×{result.partition_size}, hub receipt key {result.receipt_key_id})")
    if result.pending_sealed_to_old_key:
        click.echo(f"note: {result.pending_sealed_to_old_key} dossier(s) taken before enrollment were sealed again "
                   "to the city's key", err=True)


@sync_group.command("now")
@click.option("--json", "as_json", is_flag=True, help="Print the status after the cycle as JSON.")
@pass_ctx
def now_command(ctx: CliContext, as_json: bool) -> None:
    """Run one push and one pull cycle now, then print the status."""
    from sync.client import SyncClient, status_json

    with ctx.open_store() as store:
        client = SyncClient(settings=ctx.settings, store=store)

        async def run():
            try:
                return await client.sync_once()
            finally:
                await client.stop()

        status = asyncio.run(run())
    if as_json:
        click.echo(status_json(status))
        return
    _print_status(status)
    if status.pending and status.last_error:
        raise SystemExit(1)


@sync_group.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@pass_ctx
def status_command(ctx: CliContext, as_json: bool) -> None:
    """Show pending dossiers, the last success and the last error."""
    from sync.client import SyncClient, status_json

    with ctx.open_store() as store:
        status = SyncClient(settings=ctx.settings, store=store).status()
    if as_json:
        click.echo(status_json(status))
    else:
        _print_status(status)


def _print_status(status) -> None:
    click.echo(status.summary_vi)
    click.echo(f"station: {status.station_id or '-'}  hub: {status.hub_url or '-'}")
    click.echo(f"pending: {status.pending}  rejected: {status.rejected}  quarantined: {status.quarantined}")
    click.echo(f"last success: {status.last_success_at or '-'}  feed since: {status.feed_since}")
    if status.last_error:
        click.echo(f"last error: {status.last_error}")
    click.echo("states: " + json.dumps(status.counts, ensure_ascii=False))
