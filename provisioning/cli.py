"""Subcommands of this package (registered by edge.cli): ``provision …`` and ``firstboot``."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from edge.context import CliContext, pass_ctx

from ._batch import existing_from_manifests, plan_batch, write_batch
from ._bundle import read_bundle
from ._errors import EnrollmentError
from ._firstboot import (
    DEFAULT_CONFIG_DIR,
    DEFAULT_PUBLIC_KEY,
    DEFAULT_SEARCH,
    FirstbootOptions,
    run_firstboot,
)
from ._inventory import read_inventory
from ._keys import init_keys, load_keys, load_public_key
from ._partition import read_existing
from ._replace import replace_station

EXIT_PENDING = 75   # EX_TEMPFAIL: local set-up done, the hub was not reachable yet
EXIT_REFUSED = 3    # the hub refused the token: a person must issue a new bundle

_KEYS = click.option("--keys", "keys_dir", required=True, type=click.Path(path_type=Path, file_okay=False),
                     help="Provisioning directory (provisioning key and trust anchors).")


@click.group("provision")
def provision() -> None:
    """Provision boxes in bulk: keys, bundles, labels, replacement and key rotation."""


@provision.command("init")
@_KEYS
@click.option("--hub-data", type=click.Path(path_type=Path, file_okay=False),
              help="The hub's data directory: its receipt public key, city public key and TLS CA are imported.")
@click.option("--receipt-key", type=click.Path(path_type=Path, dir_okay=False), help="The hub's receipt-signing public key file.")
@click.option("--city-key", type=click.Path(path_type=Path, dir_okay=False), help="The city's HPKE public key (JSON).")
@click.option("--ca", type=click.Path(path_type=Path, dir_okay=False), help="The CA certificate of the hub's TLS certificate (PEM).")
def init_command(keys_dir: Path, hub_data: Path | None, receipt_key: Path | None, city_key: Path | None, ca: Path | None) -> None:
    """Create the provisioning key (kept if present) and import the hub's trust anchors."""
    keys, created = init_keys(keys_dir, hub_data=hub_data, receipt_key=receipt_key, city_key=city_key, ca=ca)
    click.echo(f"{'created' if created else 'kept'} provisioning key {keys_dir / 'provisioning.key'} (mode 0600)")
    click.echo(f"fingerprint {keys.fingerprint}")
    click.echo(f"public key for the box image: {keys_dir / 'provisioning.pub'} -> /etc/motcua/provisioning.pub")
    click.echo("trust anchors: hub receipt key, city key" + (", TLS CA" if keys.anchors.ca_pem else " (no TLS CA: loopback hubs only)"))


@provision.command("batch")
@click.argument("inventory", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--out", required=True, type=click.Path(path_type=Path, file_okay=False), help="New output directory.")
@_KEYS
@click.option("--token-days", default=30, show_default=True, type=int, help="Days until the enrollment tokens expire.")
@click.option("--existing", multiple=True, type=click.Path(path_type=Path),
              help="manifest.json (or its directory) or stations.jsonl of earlier batches: their partitions stay taken.")
@click.option("--partitions", type=int, default=None,
              help="Split a new agency's numbers into at least this many partitions (room for later boxes).")
@click.option("--no-labels", is_flag=True, help="Skip the label sheet.")
def batch_command(inventory: Path, out: Path, keys_dir: Path, token_days: int, existing: tuple[Path, ...],
                  partitions: int | None, no_labels: bool) -> None:
    """Make one signed bundle per inventory row, stations.jsonl for the hub and a label sheet."""
    keys = load_keys(keys_dir)
    rows = read_inventory(inventory)
    earlier = []
    manifests = [p for p in existing if not str(p).endswith(".jsonl")]
    earlier.extend(existing_from_manifests(manifests))
    for path in existing:
        if str(path).endswith(".jsonl"):
            earlier.extend(read_existing(path))
    if partitions is not None and not 1 <= partitions <= 9999:
        raise click.BadParameter("must be 1..9999", param_hint="--partitions")
    plans = plan_batch(rows, keys, existing=earlier, partitions=partitions)
    result = write_batch(plans, keys, out, token_days=token_days, with_labels=not no_labels)
    click.echo(f"{len(result.stations)} bundles in {result.out / 'bundles'} (mode 0600; each holds a one-time token "
               f"valid until {result.token_expires_at})")
    click.echo(f"partition size {result.partition_size}; on the hub run: {result.import_command()}")
    if not no_labels:
        click.echo(f"label sheet: {result.out / 'labels.pdf'}")


@provision.command("replace")
@click.argument("serial")
@click.option("--station", "station_id", required=True, help="Station id the new box takes over.")
@click.option("--from", "manifests", multiple=True, required=True, type=click.Path(path_type=Path),
              help="The batch manifest.json (or directory) that holds the station.")
@click.option("--out", required=True, type=click.Path(path_type=Path, file_okay=False), help="New output directory.")
@_KEYS
@click.option("--token-days", default=7, show_default=True, type=int)
@click.option("--hub-url", default=None, help="Another hub address for the new box (default: the station's).")
@click.option("--partition-index", type=int, default=None,
              help="Dossier-number partition for the new box (default: the lowest no box in the manifests used).")
def replace_command(serial: str, station_id: str, manifests: tuple[Path, ...], out: Path, keys_dir: Path,
                    token_days: int, hub_url: str | None, partition_index: int | None) -> None:
    """Issue a bundle for replacement box SERIAL taking over an existing station (new partition)."""
    keys = load_keys(keys_dir)
    result = replace_station(serial=serial, station_id=station_id, manifests=list(manifests), keys=keys, out=out,
                             token_days=token_days, hub_url=hub_url, partition_index=partition_index)
    plan = result.stations[0]
    click.echo(f"bundle for {serial} as station {station_id}, partition {plan.partition_index} × "
               f"{plan.partition_size}: {result.out / 'bundles'}")
    click.echo(f"then on the hub: {result.import_command()}  (when the new box enrolls the old box's key is "
               "retired: it may still upload what it holds; revoke a stolen box first with motcua hub revoke)")


@provision.command("verify")
@click.argument("bundle", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--pub", "public_key", required=True, type=click.Path(path_type=Path, dir_okay=False),
              help="Provisioning public key (provisioning.pub).")
def verify_command(bundle: Path, public_key: Path) -> None:
    """Check a bundle's signature and show what it configures (never the token)."""
    payload = read_bundle(bundle, load_public_key(public_key))
    click.echo(f"OK: signed by {payload.provisioning_key[:16]}…")
    click.echo(f"serial {payload.serial}  station {payload.station_id}  agency {payload.station['agency_code']}")
    click.echo(f"hub {payload.sync['hub_url']}  token expires {payload.token_expires_at}"
               + (f"  replaces {payload.replaces}" if payload.replaces else ""))


@provision.command("rotate-key")
@pass_ctx
def rotate_key_command(ctx: CliContext) -> None:
    """On the box: make a new station key and register it with the hub (signed by the current key)."""
    from ._lifecycle import rotate_station_key

    key_id = rotate_station_key(ctx.settings)
    click.echo(f"station key rotated; the hub now knows key {key_id}")


@click.command("firstboot")
@click.option("--search", multiple=True, help="Where to look for *.motcua-bundle (globs; repeatable). "
              f"Default: {', '.join(DEFAULT_SEARCH)}.")
@click.option("--pub", "public_key", type=click.Path(path_type=Path, dir_okay=False), default=str(DEFAULT_PUBLIC_KEY),
              show_default=True, help="The provisioning public key the image trusts.")
@click.option("--config-dir", type=click.Path(path_type=Path, file_okay=False), default=str(DEFAULT_CONFIG_DIR),
              show_default=True, help="Where edge.toml and the trust anchors are written.")
@click.option("--serial", default=None, envvar="MOTCUA_SERIAL",
              help="This box's serial (default: the device tree's serial number; env MOTCUA_SERIAL).")
@click.option("--owner", default=None, help="User[:group] that owns the state dir (the service user, e.g. motcua).")
@click.option("--no-enroll", is_flag=True, help="Do the local steps only (motcua-firstboot.service).")
@click.option("--enroll-only", is_flag=True, help="Enroll only; the local steps must be done (motcua-enroll.service).")
@click.option("--max-attempts", type=int, default=None, help="Give up enrolling after N attempts (default: retry until the hub answers).")
@click.option("--retry-base", type=float, default=5.0, show_default=True, help="First backoff ceiling in seconds.")
@pass_ctx
def firstboot_command(ctx: CliContext, search: tuple[str, ...], public_key: Path, config_dir: Path, serial: str | None,
                      owner: str | None, no_enroll: bool, enroll_only: bool, max_attempts: int | None, retry_base: float) -> None:
    """Set this box up from its provisioning bundle and enroll it with the hub (safe to rerun)."""
    from edge.config import StoreConfig

    if no_enroll and enroll_only:
        raise click.UsageError("--no-enroll and --enroll-only exclude each other")
    state_dir = ctx.state_dir or Path(StoreConfig().state_dir)
    options = FirstbootOptions(state_dir=state_dir.absolute(), public_key=public_key, config_dir=config_dir.absolute(),
                               search=search or DEFAULT_SEARCH, serial=serial, owner=owner, local=not enroll_only,
                               enroll=not no_enroll,
                               max_attempts=max_attempts, backoff_base=retry_base)
    try:
        report = run_firstboot(options)
    except EnrollmentError as exc:
        click.echo(f"error: {exc}", err=True)
        if exc.message_vi:
            click.echo(f"lỗi: {exc.message_vi}", err=True)
        sys.exit(EXIT_REFUSED)
    done = ", ".join(report.done) or "nothing new"
    click.echo(f"station {report.station_id}: steps done now: {done}")
    if report.enrolled:
        click.echo("enrolled with the hub; token destroyed; box provisioned")
    else:
        click.echo(f"intake works; enrollment pending: {report.pending}")
        if not no_enroll:
            sys.exit(EXIT_PENDING)
