"""The configuration's own sections (``station``, ``store``, ``log``) and the ``Secret`` type.

Each section is a frozen dataclass; a field's type is its schema (``str``, ``int``, ``float``,
``bool``, ``Secret``, a ``Literal`` of choices) and every field has a default. ``Secret`` marks a
value that is masked when the configuration is printed. The sections of the layers above
(``web``, ``reception``, ``sync``, ``devices``) live in their packages and are registered with
``registry.add_config_section`` from the package's ``_extension.py``; :mod:`edge.config` loads
them in the same way without importing them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Literal


class Secret(str):
    """A string that is masked when the configuration is shown."""

    def masked(self) -> str:
        return "********" if self else ""


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


@dataclass(frozen=True, kw_only=True)
class StoreConfig:
    """The local encrypted store."""

    state_dir: str = "/var/lib/motcua"
    cipher: Literal["auto", "chacha20-poly1305", "aes-256-gcm"] = "auto"
    key_provider: Literal["keyfile", "passphrase"] = "keyfile"
    hpke_kem: Literal["MLKEM768_X25519", "X25519"] = "MLKEM768_X25519"
    disk_alarm_free_mb: int = 512
    max_page_mb: int = 50


@dataclass(frozen=True, kw_only=True)
class LogConfig:
    """Logging."""

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"


# The configuration's own sections; shown first (station, store) and last (log), the registered
# sections in between in the composition root's order.
HEAD_SECTIONS: dict[str, type] = {"station": StationConfig, "store": StoreConfig}
TAIL_SECTIONS: dict[str, type] = {"log": LogConfig}


def fields_of(cls: type) -> dict[str, dataclasses.Field]:
    return {f.name: f for f in dataclasses.fields(cls)}


__all__ = ["HEAD_SECTIONS", "TAIL_SECTIONS", "LogConfig", "Secret", "StationConfig", "StoreConfig", "field",
           "fields_of"]
