"""The inventory sheet IT fills in: one row per box. Every row is checked before anything is made."""

from __future__ import annotations

import csv
import difflib
import io
import ipaddress
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from core.codes import MAX_NUMBER, is_agency_code, is_ascii_digits

from ._errors import InventoryError, RowError

REQUIRED_COLUMNS = ("serial", "station_name", "agency_code", "kind", "address", "hub_url")
OPTIONAL_COLUMNS = ("partition_index",)
KINDS = ("branch", "commune", "mobile", "popup")
# QCVN 102:2016 agency code DDD.CC.BB.Xnn, e.g. 000.00.06.H56: core.codes.is_agency_code (ASCII only).
SERIAL_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", re.ASCII)
MAX_TEXT = 200


@dataclass(frozen=True, slots=True, kw_only=True)
class InventoryRow:
    """One validated inventory row (``row`` is the line in the sheet, the header being 1)."""

    row: int
    serial: str
    station_name: str
    agency_code: str
    kind: str
    address: str
    hub_url: str
    partition_index: int | None = None


def is_loopback_host(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_hub_url(url: str) -> str | None:
    """Why ``url`` cannot be a hub address, or None when it can (https; http only on loopback)."""
    try:
        parts = urlsplit(url)
        port = parts.port  # raises on a bad port
    except ValueError as exc:
        return f"not a valid URL ({exc})"
    del port
    if parts.scheme not in ("https", "http"):
        return f"must start with https:// (got {parts.scheme + '://' if parts.scheme else 'no scheme'})"
    if not parts.hostname:
        return "has no host name"
    if parts.username or parts.password:
        return "must not carry a user name or password"
    if parts.query or parts.fragment:
        return "must not carry a query string or fragment"
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        return "must use https:// (plain http is accepted only for a loopback hub such as 127.0.0.1)"
    return None


def _clean_text(value: str) -> str:
    return unicodedata.normalize("NFC", value).strip()


def _has_control(value: str) -> bool:
    return any(unicodedata.category(ch) == "Cc" for ch in value)


def _check_row(lineno: int, raw: dict[str, str], errors: list[RowError]) -> InventoryRow | None:
    values = {key: _clean_text(raw.get(key) or "") for key in (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS)}
    before = len(errors)

    def bad(column: str, message: str) -> None:
        errors.append(RowError(row=lineno, column=column, message=message))

    for column, value in values.items():
        if _has_control(value):
            bad(column, "contains control characters (line breaks, tabs)")
        elif len(value) > MAX_TEXT:
            bad(column, f"is longer than {MAX_TEXT} characters")
    serial = values["serial"]
    if not serial:
        bad("serial", "is empty")
    elif not SERIAL_RE.fullmatch(serial):
        bad("serial", f"{serial!r} may hold only letters, digits, '.', '_' and '-' (at most 64)")
    if not values["station_name"]:
        bad("station_name", "is empty")
    code = values["agency_code"]
    if not code:
        bad("agency_code", "is empty")
    elif not is_agency_code(code):
        bad("agency_code", f"{code!r} is not an agency code of the form DDD.CC.BB.Xnn (QCVN 102) in ASCII digits, "
                           "e.g. 000.00.06.H56")
    kind = values["kind"].lower()
    if kind not in KINDS:
        hint = difflib.get_close_matches(kind, KINDS, n=1)
        bad("kind", f"{values['kind']!r} must be one of {', '.join(KINDS)}" + (f" (did you mean {hint[0]!r}?)" if hint else ""))
    url = values["hub_url"]
    if not url:
        bad("hub_url", "is empty")
    else:
        why = check_hub_url(url)
        if why:
            bad("hub_url", f"{url!r} {why}")
    index: int | None = None
    if values["partition_index"]:
        if not is_ascii_digits(values["partition_index"]):
            bad("partition_index", f"{values['partition_index']!r} is not a whole number 0 or more in ASCII digits")
        elif (index := int(values["partition_index"])) >= MAX_NUMBER:
            bad("partition_index", f"{index} is out of range: at most {MAX_NUMBER - 1} (one number per partition)")
            index = None
    if len(errors) > before:
        return None
    return InventoryRow(row=lineno, serial=serial, station_name=values["station_name"], agency_code=code, kind=kind,
                        address=values["address"], hub_url=url.rstrip("/"), partition_index=index)


def parse_inventory(text: str, *, source: str = "inventory") -> list[InventoryRow]:
    """Validate a whole inventory (CSV text); raise :class:`InventoryError` listing every problem."""
    text = text.removeprefix("\ufeff")  # spreadsheets often save UTF-8 with a byte-order mark
    first = text.split("\n", 1)[0]
    delimiter = max((",", ";", "\t"), key=first.count)
    reader = csv.reader(io.StringIO(text), delimiter=delimiter, strict=True)
    errors: list[RowError] = []
    try:
        header = next(reader)
    except StopIteration:
        raise InventoryError([RowError(row=1, column="-", message="the file is empty (expected a header row)")], source=source) from None
    except csv.Error as exc:
        raise InventoryError([RowError(row=1, column="-", message=f"not readable as CSV: {exc}")], source=source) from None
    names = [_clean_text(h).lower().replace(" ", "_") for h in header]
    known = (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS)
    for name in names:
        if name and name not in known:
            hint = difflib.get_close_matches(name, known, n=1)
            errors.append(RowError(row=1, column=name, message="unknown column" + (f" (did you mean {hint[0]!r}?)" if hint else "")))
    seen_cols = {n for n in names if n}
    for dup in sorted({n for n in names if n and names.count(n) > 1}):
        errors.append(RowError(row=1, column=dup, message="column appears more than once"))
    for missing in REQUIRED_COLUMNS:
        if missing not in seen_cols:
            errors.append(RowError(row=1, column=missing, message="required column is missing"))
    if errors:
        raise InventoryError(errors, source=source)

    rows: list[InventoryRow] = []
    first_seen: dict[str, int] = {}
    explicit: dict[tuple[str, int], int] = {}
    try:
        for cells in reader:
            lineno = reader.line_num
            if not any(c.strip() for c in cells):
                continue
            if len(cells) != len(names):
                errors.append(RowError(row=lineno, column="-", message=f"has {len(cells)} cells, the header has {len(names)}"))
                continue
            raw = dict(zip(names, cells, strict=True))
            serial = _clean_text(raw.get("serial") or "")
            key = serial.lower()
            if key and key in first_seen:
                errors.append(RowError(row=lineno, column="serial", message=f"duplicate serial {serial!r} (first on row {first_seen[key]})"))
            elif key:
                first_seen[key] = lineno
            row = _check_row(lineno, raw, errors)
            if row is None or first_seen.get(key) != lineno:
                continue
            if row.partition_index is not None:
                pkey = (row.agency_code, row.partition_index)
                if pkey in explicit:
                    errors.append(RowError(row=lineno, column="partition_index",
                                           message=f"partition {row.partition_index} of {row.agency_code} is already given to row {explicit[pkey]}"))
                    continue
                explicit[pkey] = lineno
            rows.append(row)
    except csv.Error as exc:
        errors.append(RowError(row=reader.line_num, column="-", message=f"not readable as CSV: {exc}"))
    if not rows and not errors:
        errors.append(RowError(row=2, column="-", message="the sheet has a header but no stations"))
    if errors:
        raise InventoryError(errors, source=source)
    return rows


def read_inventory(path: Path) -> list[InventoryRow]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InventoryError([RowError(row=0, column="-", message="file does not exist")], source=str(path)) from None
    except UnicodeDecodeError as exc:
        raise InventoryError([RowError(row=0, column="-", message=f"is not UTF-8 text ({exc.reason} at byte {exc.start}); save the sheet as CSV UTF-8")], source=str(path)) from None
    return parse_inventory(text, source=str(path))


def serials(rows: Iterable[InventoryRow]) -> list[str]:
    return [r.serial for r in rows]
