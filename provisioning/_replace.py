"""``provision replace``: a new bundle and token for an existing station, for a replacement box.

The replacement box gets a NEW dossier-number partition of the agency (the old box may have issued
numbers today that are still offline); the hub keeps the old box's range reserved and lets the old
box upload what it holds (docs/sync-protocol.md §12.1).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from pathlib import Path

from ._batch import BatchResult, StationPlan, read_manifest, write_batch
from ._errors import ProvisioningError
from ._inventory import SERIAL_RE, check_hub_url
from ._keys import ProvisioningKeys
from ._partition import replacement_partition


def replace_station(*, serial: str, station_id: str, manifests: Sequence[Path], keys: ProvisioningKeys, out: Path,
                    token_days: int = 7, hub_url: str | None = None, now: dt.datetime | None = None,
                    partition_index: int | None = None) -> BatchResult:
    """Issue a bundle for box ``serial`` taking over ``station_id`` (new partition, new token).

    The hub learns the new token and partition with ``hub import-stations`` (it refuses a partition
    that another box holds or may still hold). When the new box enrolls, the old box's key is
    retired: it may still upload the dossiers it holds, and then issues no more codes.
    """
    if not SERIAL_RE.fullmatch(serial):
        raise ProvisioningError(f"serial {serial!r} may hold only letters, digits, '.', '_' and '-'")
    if not manifests:
        raise ProvisioningError("give the batch manifest(s) that hold the station: --from DIR/manifest.json")
    plans: list[StationPlan] = []
    for path in manifests:
        plans.extend(read_manifest(path))
    found = [p for p in plans if p.station_id == station_id]
    if not found:
        raise ProvisioningError(f"station {station_id} is in none of the given manifests ({', '.join(map(str, manifests))})")
    old = found[-1]
    if hub_url:
        why = check_hub_url(hub_url)
        if why:
            raise ProvisioningError(f"--hub-url {hub_url!r} {why}")
    if (hub_url or old.hub_url).startswith("https://") and not keys.anchors.ca_pem:
        raise ProvisioningError("an https hub needs its TLS CA in the provisioning directory (provision init --ca FILE)")
    held = [(p.partition_index, p.partition_size) for p in plans if p.agency_code == old.agency_code]
    part = replacement_partition(old.agency_code, old.partition_size, held, index=partition_index)
    plan = dataclasses.replace(old, serial=serial, hub_url=(hub_url or old.hub_url).rstrip("/"),
                               partition_index=part.index)
    replaces = {serial: old.serial} if old.serial != serial else {}
    return write_batch([plan], keys, out, token_days=token_days, now=now, replaces=replaces)
