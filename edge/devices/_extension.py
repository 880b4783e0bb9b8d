"""What the devices package contributes: the ``devices`` and ``scan`` commands, ``[devices]``."""

from __future__ import annotations


def _cmd(attr: str):
    def load():
        from . import cli

        return getattr(cli, attr)

    return load


def register(registry) -> None:
    from ._config import DevicesConfig

    registry.add_config_section("devices", DevicesConfig)
    registry.add_command("devices", _cmd("devices_command"),
                         help="List scanners, QR scanners and card readers (one enumeration, no monitoring).")
    registry.add_command("scan", _cmd("scan_command"),
                         help="Scan PAGES pages into a draft dossier (encrypted; one PDF per component).")
