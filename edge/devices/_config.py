"""The ``[devices]`` configuration section, registered by this package (``_extension.py``).

Imports nothing but the standard library: the composition root loads it with the registrations.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True, kw_only=True)
class DevicesConfig:
    """Peripherals: scanners, QR scanners and card readers."""

    enabled: bool = True
    scanner: str = ""
    scan_resolution: int = 200
    scan_mode: Literal["Color", "Gray", "Lineart"] = "Gray"
    qr_input_device: str = ""
    card_reader: str = ""
    csca_dir: str = ""
    dg13_old_id_field: int = 15  # DG13 field number of the old CMND (some cards use 16)
    rescan_debounce_seconds: float = 0.5
    qr_key_timeout_ms: int = 300


__all__ = ["DevicesConfig"]
