"""Typed configuration sections with their defaults.

Each section is a frozen dataclass; a field's type is its schema. ``Secret`` marks a value that is
masked when the configuration is printed. Add a field to the section it belongs to; add a section
by decorating a dataclass with :func:`section`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Literal


class Secret(str):
    """A string that is masked when the configuration is shown."""

    def masked(self) -> str:
        return "********" if self else ""


SECTIONS: dict[str, type] = {}


def section(name: str):
    def register(cls: type) -> type:
        SECTIONS[name] = cls
        return cls

    return register


@section("station")
@dataclass(frozen=True, kw_only=True)
class StationConfig:
    """Who this box is: agency, name, kind and its share of dossier numbers."""

    agency_code: str = "000.00.00.H26"
    name: str = "Điểm tiếp nhận thử nghiệm"
    kind: Literal["branch", "commune", "mobile", "popup"] = "branch"
    address: str = ""
    station_id: str = ""
    # Dossier numbers: NNNN is drawn from [index*size+1, (index+1)*size] so that boxes of one
    # agency never collide while offline (docs/architecture.md, "Dossier codes").
    code_partition_index: int = 0
    code_partition_size: int = 9999
    tracking_url: str = "https://dichvucong.example.gov.vn/tra-cuu?ma="


@section("store")
@dataclass(frozen=True, kw_only=True)
class StoreConfig:
    """The local encrypted store."""

    state_dir: str = "/var/lib/motcua"
    cipher: Literal["auto", "chacha20-poly1305", "aes-256-gcm"] = "auto"
    key_provider: Literal["keyfile", "passphrase"] = "keyfile"
    hpke_kem: Literal["MLKEM768_X25519", "X25519"] = "MLKEM768_X25519"
    disk_alarm_free_mb: int = 512
    max_page_mb: int = 50


@section("web")
@dataclass(frozen=True, kw_only=True)
class WebConfig:
    """The clerk web app and JSON API."""

    host: str = "127.0.0.1"
    port: int = 8080
    session_idle_minutes: int = 15
    lockout_attempts: int = 5
    lockout_minutes: int = 15
    max_upload_mb: int = 20
    session_secret: Secret = Secret("")


@section("reception")
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


@section("sync")
@dataclass(frozen=True, kw_only=True)
class SyncConfig:
    """Reconciliation with the city hub."""

    enabled: bool = True
    hub_url: str = ""
    ca_file: str = ""
    push_interval_seconds: int = 60
    pull_interval_seconds: int = 300
    heartbeat_interval_seconds: int = 300
    retention_days: int = 30
    chunk_size_kb: int = 1024
    bandwidth_limit_kbps: int = 0
    metered: bool = False
    request_timeout_seconds: int = 60


@section("devices")
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


@section("log")
@dataclass(frozen=True, kw_only=True)
class LogConfig:
    """Logging."""

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"


def fields_of(cls: type) -> dict[str, dataclasses.Field]:
    return {f.name: f for f in dataclasses.fields(cls)}


__all__ = ["SECTIONS", "Secret", "field", "fields_of", "section"]
