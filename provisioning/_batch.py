"""``provision batch``: from a validated inventory to bundles, hub import lines and labels.

Output directory (made whole or not at all: built in a sibling temporary directory, then renamed)::

    bundles/<serial>.motcua-bundle   one signed bundle per box (mode 0600: holds a bearer token)
    stations.jsonl                   for ``motcua hub import-stations`` (token hashes only)
    labels.pdf                       the label sheet, one QR per box
    manifest.json                    the batch without secrets: used by ``provision replace``
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Tokens are the protocol's (docs/sync-protocol.md §5.1): 160-bit base32; the hub keeps the hash.
from sync.protocol._tokens import new_token, token_sha256
from sync.protocol._tokens import normalize_token as normalise_token  # noqa: F401 - re-exported

from ._bundle import SUFFIX, BundlePayload, sign_bundle
from ._errors import InventoryError, ProvisioningError, RowError
from ._files import fsync_dir
from ._inventory import InventoryRow
from ._keys import ProvisioningKeys
from ._labels import Label, render_labels
from ._partition import Assignment, Existing, assign_partitions, number_range

logger = logging.getLogger(__name__)

def station_id_for(agency_code: str, index: int) -> str:
    """Readable and unique: an agency's partition index belongs to one station at a time."""
    return f"{agency_code}-S{index:04d}"


def _iso(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass(frozen=True, slots=True, kw_only=True)
class StationPlan:
    """One box of a batch, everything but its token."""

    serial: str
    station_id: str
    station_name: str
    agency_code: str
    kind: str
    address: str
    hub_url: str
    partition_index: int
    partition_size: int

    def to_json(self) -> dict[str, Any]:
        return {"serial": self.serial, "station_id": self.station_id, "station_name": self.station_name,
                "agency_code": self.agency_code, "kind": self.kind, "address": self.address,
                "hub_url": self.hub_url, "partition_index": self.partition_index,
                "partition_size": self.partition_size}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StationPlan:
        return cls(**{k: data[k] for k in ("serial", "station_id", "station_name", "agency_code", "kind",
                                           "address", "hub_url", "partition_index", "partition_size")})

    def label(self) -> Label:
        first, last = number_range(Assignment(index=self.partition_index, size=self.partition_size))
        return Label(serial=self.serial, station_id=self.station_id, station_name=self.station_name,
                     agency_code=self.agency_code, kind=self.kind, code_range=f"{first:04d}–{last:04d}")


@dataclass(frozen=True, slots=True, kw_only=True)
class BatchResult:
    out: Path
    stations: tuple[StationPlan, ...]
    token_expires_at: str

    @property
    def partition_size(self) -> int:
        return self.stations[0].partition_size

    def import_command(self) -> str:
        return f"motcua hub import-stations {self.out / 'stations.jsonl'} --partition-size {self.partition_size}"


def plan_batch(rows: Sequence[InventoryRow], keys: ProvisioningKeys, *, existing: Sequence[Existing] = (),
               partitions: int | None = None) -> list[StationPlan]:
    """Validate what needs the keys and the earlier stations, then place every row."""
    errors: list[RowError] = []
    known_serials = {e.serial.lower(): e for e in existing if e.serial}
    for row in rows:
        if row.hub_url.startswith("https://") and not keys.anchors.ca_pem:
            errors.append(RowError(row=row.row, column="hub_url", message=(
                "an https hub needs its TLS CA certificate in the provisioning directory; "
                f"import it with: motcua provision init --keys {keys.directory} --ca CA.pem")))
        if row.serial.lower() in known_serials:
            ex = known_serials[row.serial.lower()]
            errors.append(RowError(row=row.row, column="serial", message=(
                f"serial {row.serial!r} was already provisioned as station {ex.station_id}; "
                "to issue a new bundle for that box use: motcua provision replace")))
    try:
        placed = assign_partitions(rows, existing, partitions=partitions)
    except InventoryError as exc:
        errors.extend(exc.errors)
        placed = {}
    if errors:
        raise InventoryError(sorted(errors, key=lambda e: (e.row, e.column)))
    taken_ids = {e.station_id for e in existing}
    plans = []
    for row in rows:
        a = placed[row.serial]
        station_id = station_id_for(row.agency_code, a.index)
        if station_id in taken_ids:  # pragma: no cover - indices are distinct per agency
            raise ProvisioningError(f"station id {station_id} is already taken")
        plans.append(StationPlan(serial=row.serial, station_id=station_id, station_name=row.station_name,
                                 agency_code=row.agency_code, kind=row.kind, address=row.address,
                                 hub_url=row.hub_url, partition_index=a.index, partition_size=a.size))
    return plans


def _payload(plan: StationPlan, keys: ProvisioningKeys, token: str, issued: dt.datetime, expires: dt.datetime,
             replaces: str = "") -> BundlePayload:
    station = {"station_id": plan.station_id, "agency_code": plan.agency_code, "name": plan.station_name,
               "kind": plan.kind, "address": plan.address,
               "code_partition_index": plan.partition_index, "code_partition_size": plan.partition_size}
    return BundlePayload(serial=plan.serial, station_id=plan.station_id, issued_at=_iso(issued), token=token,
                         token_expires_at=_iso(expires), station=station, sync={"hub_url": plan.hub_url},
                         anchors=keys.anchors, provisioning_key=keys.fingerprint, replaces=replaces)


def _import_line(plan: StationPlan, token: str, expires: dt.datetime) -> str:
    """One line for ``motcua hub import-stations`` (docs/sync-protocol.md §11)."""
    return json.dumps({"station_id": plan.station_id, "agency_code": plan.agency_code, "name": plan.station_name,
                       "kind": plan.kind, "address": plan.address, "token_sha256": token_sha256(token),
                       "token_expires_at": _iso(expires), "partition_index": plan.partition_index},
                      ensure_ascii=False)


def _write(path: Path, data: bytes, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def write_batch(plans: Sequence[StationPlan], keys: ProvisioningKeys, out: Path, *, token_days: int = 30,
                now: dt.datetime | None = None, replaces: dict[str, str] | None = None,
                with_labels: bool = True) -> BatchResult:
    """Make every bundle, the import file, the labels and the manifest; publish them at once."""
    if not plans:
        raise ProvisioningError("nothing to provision: the batch is empty")
    if len({p.partition_size for p in plans}) != 1:
        raise ProvisioningError("a batch carries one partition size (the hub records one per import)")
    if token_days < 1 or token_days > 365:
        raise ProvisioningError(f"--token-days must be 1..365, got {token_days}")
    out = out.absolute()
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ProvisioningError(f"{out} already exists and is not empty; give a new output directory "
                                "(an earlier batch's tokens are never overwritten)")
    out.parent.mkdir(parents=True, exist_ok=True)
    issued = (now or dt.datetime.now(dt.UTC)).replace(microsecond=0)
    expires = issued + dt.timedelta(days=token_days)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        os.chmod(tmp, 0o700)
        bundles = tmp / "bundles"
        bundles.mkdir(mode=0o700)
        lines = []
        for plan in plans:
            token = new_token()
            payload = _payload(plan, keys, token, issued, expires, (replaces or {}).get(plan.serial, ""))
            _write(bundles / f"{plan.serial}{SUFFIX}", sign_bundle(payload, keys.private_key), 0o600)
            lines.append(_import_line(plan, token, expires))
            del token
        fsync_dir(bundles)
        _write(tmp / "stations.jsonl", ("\n".join(lines) + "\n").encode(), 0o644)
        manifest = {"format": "motcua-provisioning-batch", "version": 1, "created_at": _iso(issued),
                    "token_expires_at": _iso(expires), "provisioning_key": keys.fingerprint,
                    "partition_size": plans[0].partition_size,
                    "stations": [p.to_json() for p in plans]}
        _write(tmp / "manifest.json", json.dumps(manifest, ensure_ascii=False, indent=1).encode(), 0o644)
        if with_labels:
            _write(tmp / "labels.pdf", render_labels([p.label() for p in plans]), 0o644)
        fsync_dir(tmp)
        if out.exists():
            out.rmdir()
        os.rename(tmp, out)
        fsync_dir(out.parent)
    except BaseException:
        with contextlib.suppress(OSError):
            shutil.rmtree(tmp)
        raise
    logger.info("batch of %s bundles written to %s", len(plans), out)
    return BatchResult(out=out, stations=tuple(plans), token_expires_at=_iso(expires))


def read_manifest(path: Path) -> list[StationPlan]:
    """Stations of an earlier batch (its manifest.json, or the directory holding it)."""
    if path.is_dir():
        path = path / "manifest.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("format") != "motcua-provisioning-batch":
            raise ValueError("format is not motcua-provisioning-batch")
        return [StationPlan.from_json(s) for s in data["stations"]]
    except FileNotFoundError:
        raise ProvisioningError(f"batch manifest {path} does not exist") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise ProvisioningError(f"{path}: not a batch manifest ({exc})") from None


def existing_from_manifests(paths: Sequence[Path]) -> list[Existing]:
    out = []
    for path in paths:
        for plan in read_manifest(path):
            out.append(Existing(station_id=plan.station_id, agency_code=plan.agency_code,
                                partition_index=plan.partition_index, partition_size=plan.partition_size,
                                serial=plan.serial))
    return out
