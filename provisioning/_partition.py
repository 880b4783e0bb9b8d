"""Dossier-number partitions: boxes of one agency draw NNNN from disjoint ranges while offline.

The daily sequence NNNN runs 1..9999. A batch splits it evenly by its busiest agency: with at most
*n* boxes in one agency, the partition size is ``9999 // (n + 1)`` (one spare partition, so that a
replacement box can start the same day the old one broke; ``--partitions N`` asks for at least N)
and box *i* of an agency draws from ``[i*size + 1, (i+1)*size]``. One size per
batch matches the hub, which records the size per import (``hub import-stations
--partition-size``). Agencies that already have boxes keep their size; a later batch takes the
free indices below ``9999 // size``.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from core.codes import MAX_NUMBER, is_ascii_digits, partition_fits

from ._errors import InventoryError, RowError
from ._inventory import InventoryRow

SEQUENCE_MAX = MAX_NUMBER  # the daily sequence NNNN runs 1..MAX_NUMBER (core.codes)


@dataclass(frozen=True, slots=True, kw_only=True)
class Existing:
    """A station already provisioned (from an earlier batch's stations.jsonl)."""

    station_id: str
    agency_code: str
    partition_index: int
    partition_size: int | None
    serial: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Assignment:
    index: int
    size: int


def read_existing(path: Path) -> list[Existing]:
    """Stations of earlier batches: JSON lines with agency_code, partition_index (and size)."""
    out: list[Existing] = []
    errors: list[RowError] = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise InventoryError([RowError(row=0, column="-", message="file does not exist")], source=str(path)) from None
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            out.append(Existing(
                station_id=str(data.get("station_id", "")),
                agency_code=str(data["agency_code"]),
                partition_index=_whole(data["partition_index"], "partition_index"),
                partition_size=_whole(data["partition_size"], "partition_size") if data.get("partition_size") else None,
                serial=str(data.get("serial", "")),
            ))
        except (ValueError, KeyError, TypeError) as exc:
            errors.append(RowError(row=n, column="-", message=f"not a station record with agency_code and partition_index ({exc})"))
    if errors:
        raise InventoryError(errors, source=str(path))
    return out


def _whole(value: object, name: str) -> int:
    """A JSON whole number (or a string of ASCII digits); ``int()`` alone would take '１' and 1.5."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_NUMBER:
        return value
    if isinstance(value, str) and is_ascii_digits(value) and int(value) <= MAX_NUMBER:
        return int(value)
    raise ValueError(f"{name} {value!r} is not a whole number 0..{MAX_NUMBER} in ASCII digits")


def _sizes_of(olds: Sequence[Existing]) -> set[int]:
    sizes = {e.partition_size for e in olds if e.partition_size}
    if not sizes and olds:  # older records without a size: the even split over what exists
        sizes = {SEQUENCE_MAX // (max(e.partition_index for e in olds) + 1)}
    return sizes


def batch_size(by_agency: dict[str, list[InventoryRow]], before: dict[str, list[Existing]],
               partitions: int | None, rows: Sequence[InventoryRow]) -> int:
    """One partition size for the whole batch (see the module docstring)."""
    sizes: set[int] = set()
    for agency in by_agency:
        sizes |= _sizes_of(before.get(agency, []))
    if len(sizes) > 1:
        raise InventoryError([RowError(row=rows[0].row, column="agency_code", message=(
            f"the agencies of this sheet already use different partition sizes {sorted(sizes)}; "
            "split the sheet so that each batch holds agencies of one size"))], source="partitions")
    if sizes:
        return sizes.pop()
    # One spare partition per agency: a replacement box never shares the old box's range.
    return SEQUENCE_MAX // max(max(len(m) for m in by_agency.values()) + 1, partitions or 0)


def assign_partitions(rows: Sequence[InventoryRow], existing: Iterable[Existing] = (), *,
                      partitions: int | None = None) -> dict[str, Assignment]:
    """Give every row (by serial) a partition index distinct within its agency.

    ``partitions`` reserves room for more boxes than this batch holds (new agencies only).
    Raises :class:`InventoryError` naming the rows that cannot be placed.
    """
    by_agency: dict[str, list[InventoryRow]] = defaultdict(list)
    for row in rows:
        by_agency[row.agency_code].append(row)
    before: dict[str, list[Existing]] = defaultdict(list)
    for ex in existing:
        before[ex.agency_code].append(ex)
    size = batch_size(by_agency, before, partitions, rows)
    errors: list[RowError] = []
    out: dict[str, Assignment] = {}
    for agency, members in by_agency.items():
        olds = before.get(agency, [])
        capacity = SEQUENCE_MAX // size
        used = {e.partition_index for e in olds}
        for row in members:
            if row.partition_index is None:
                continue
            if row.partition_index >= capacity:
                errors.append(RowError(row=row.row, column="partition_index",
                                       message=f"{row.partition_index} is out of range: {agency} has {capacity} partitions (0..{capacity - 1}) of {size} numbers"))
            elif row.partition_index in used:
                errors.append(RowError(row=row.row, column="partition_index",
                                       message=f"partition {row.partition_index} of {agency} already belongs to an existing station"))
            else:
                out[row.serial] = Assignment(index=row.partition_index, size=size)
        taken = used | {a.index for s, a in out.items() if any(m.serial == s for m in members)}
        free = (i for i in range(capacity) if i not in taken)
        for row in members:
            if row.partition_index is not None:
                continue
            index = next(free, None)
            if index is None:
                errors.append(RowError(row=row.row, column="agency_code",
                                       message=f"no free dossier-number partition left for {agency} ({capacity} partitions of {size} numbers are all taken)"))
                continue
            out[row.serial] = Assignment(index=index, size=size)
    if errors:
        raise InventoryError(sorted(errors, key=lambda e: e.row), source="partitions")
    return out


def number_range(assignment: Assignment) -> tuple[int, int]:
    """The first and last NNNN a station with this assignment may issue."""
    return assignment.index * assignment.size + 1, (assignment.index + 1) * assignment.size


def replacement_partition(agency: str, size: int, held: Iterable[tuple[int, int]], *,
                          index: int | None = None) -> Assignment:
    """A partition for a replacement box: one that no box of ``agency`` in ``held`` ever had.

    Dossier numbers restart daily, so a replacement must not share the old box's range: the old box
    may have issued numbers today that have not reached the hub yet (docs/architecture.md,
    "Dossier codes"). ``held`` lists (index, size) of every station of the agency in the batch
    manifests; the hub checks the choice again against what it knows when it imports the line.
    """
    from ._errors import ProvisioningError

    taken = list(held)

    def clash(i: int) -> tuple[int, int] | None:
        first, last = i * size + 1, (i + 1) * size
        for j, s in taken:
            if j == i or (first <= (j + 1) * s and j * s + 1 <= last):
                return j, s
        return None

    if index is not None:
        if not partition_fits(index, size):
            raise ProvisioningError(f"--partition-index {index} with {size} numbers runs past {SEQUENCE_MAX} "
                                    f"({agency} has partitions 0..{SEQUENCE_MAX // size - 1} of that size)")
        other = clash(index)
        if other:
            raise ProvisioningError(f"partition {index} of {agency} overlaps partition {other[0]} × {other[1]} of a box "
                                    "in the given manifests; a replacement box needs a range no box of the agency used")
        return Assignment(index=index, size=size)
    for i in range(SEQUENCE_MAX // size):
        if clash(i) is None:
            return Assignment(index=i, size=size)
    raise ProvisioningError(f"agency {agency} has no free dossier-number partition of {size} numbers for a replacement "
                            f"box: {len(taken)} partitions in use in the given manifests. Free one on the hub "
                            "(motcua hub release-partition, once the old box is gone) and pass --partition-index")
