"""The ``[reception]`` configuration section, registered by this package (``_extension.py``).

Imports nothing but the standard library: the composition root loads it with the registrations.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class ReceptionConfig:
    """Office hours and the rules for computing appointment dates."""

    morning_open: str = "07:30"
    morning_close: str = "11:30"
    afternoon_open: str = "13:30"
    afternoon_close: str = "17:00"
    hours_per_day: float = 8.0
    result_place: str = "Bộ phận Tiếp nhận và Trả kết quả"
    agency_name: str = ""  # printed at the top of the receipt; the station name when empty
    place_name: str = ""  # place on the receipt's date line, e.g. "Hà Nội"
    printer: str = ""
    vietqr_bin: str = ""
    vietqr_account: str = ""


__all__ = ["ReceptionConfig"]
