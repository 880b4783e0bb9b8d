"""Digits, agency codes, dossier codes and code partitions: one rule for every side.

Every boundary that takes an ID number, a date or a code uses these functions. Python's ``\\d`` and
``str.isdigit`` accept any Unicode digit (full-width ``１``, Arabic-Indic ``١`` …); the codes of
this system are ASCII only. Input typed by a person (a clerk's form, a card's QR text) may be
*normalized* with :func:`normalize_digits`; input from a machine (the wire protocol, a bundle, an
inventory sheet) is *refused* unless it is already ASCII.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass

#: The daily sequence NNNN of one agency runs 1..MAX_NUMBER.
MAX_NUMBER = 9999

# re.ASCII makes \d mean [0-9]; written out anyway so that nobody has to remember the flag.
AGENCY_CODE_RE = re.compile(r"[0-9]{3}\.[0-9]{2}\.[0-9]{2}\.[A-Z][0-9]{2}", re.ASCII)
DOSSIER_CODE_RE = re.compile(r"([0-9]{3}\.[0-9]{2}\.[0-9]{2}\.[A-Z][0-9]{2})-([0-9]{6})-([0-9]{4})", re.ASCII)


def is_ascii_digits(value: object, length: int | None = None) -> bool:
    """True when ``value`` is a non-empty string of ASCII digits (of exactly ``length`` if given)."""
    if not isinstance(value, str) or not value or not value.isascii() or not value.isdigit():
        return False
    return length is None or len(value) == length


def normalize_digits(value: str) -> str:
    """Replace every Unicode decimal digit (``Nd``: full-width, Arabic-Indic, …) by its ASCII digit.

    Other characters are left as they are, so the caller's own validation still sees them.
    """
    if value.isascii():
        return value
    out = []
    for ch in value:
        if not ch.isascii() and unicodedata.category(ch) == "Nd":
            out.append(str(unicodedata.digit(ch)))
        else:
            out.append(ch)
    return "".join(out)


def is_agency_code(value: object) -> bool:
    """QCVN 102:2016 agency code DDD.CC.BB.Xnn (e.g. ``000.00.06.H56``), ASCII only."""
    return isinstance(value, str) and AGENCY_CODE_RE.fullmatch(value) is not None


@dataclass(frozen=True, slots=True)
class DossierCode:
    """A parsed dossier code ``<agency>-<yyMMdd>-<NNNN>``."""

    agency: str
    day: dt.date
    number: int

    def __str__(self) -> str:
        return f"{self.agency}-{self.day.strftime('%y%m%d')}-{self.number:04d}"


class CodeError(ValueError):
    """A dossier code that is not well formed; ``reason`` is a short machine word."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def parse_dossier_code(value: object) -> DossierCode:
    """Parse and check a dossier code: ASCII digits, a real calendar date, NNNN in 1..MAX_NUMBER.

    Raises :class:`CodeError` with ``reason`` one of ``shape``, ``date``, ``number``.
    """
    if not isinstance(value, str) or (m := DOSSIER_CODE_RE.fullmatch(value)) is None:
        raise CodeError("shape", f"{value!r} is not a dossier code <agency>-<yyMMdd>-<NNNN> in ASCII digits")
    agency, stamp, number = m.group(1), m.group(2), int(m.group(3))
    try:
        day = dt.date(2000 + int(stamp[:2]), int(stamp[2:4]), int(stamp[4:6]))
    except ValueError:
        raise CodeError("date", f"{value!r}: {stamp} is not a calendar date (yyMMdd)") from None
    if not 1 <= number <= MAX_NUMBER:
        raise CodeError("number", f"{value!r}: the daily number must be 0001..{MAX_NUMBER:04d}")
    return DossierCode(agency, day, number)


def partition_fits(index: int, size: int) -> bool:
    """Whether partition ``index`` of ``size`` numbers lies inside 1..MAX_NUMBER."""
    return (
        isinstance(index, int) and isinstance(size, int) and not isinstance(index, bool)
        and not isinstance(size, bool) and index >= 0 and size >= 1 and (index + 1) * size <= MAX_NUMBER
    )


def partition_range(index: int, size: int) -> range:
    """The numbers NNNN that partition ``index`` of ``size`` issues: ``index*size+1 … (index+1)*size``."""
    return range(index * size + 1, (index + 1) * size + 1)


def in_partition(number: int, index: int, size: int) -> bool:
    return index * size < number <= (index + 1) * size
