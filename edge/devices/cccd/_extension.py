"""What the CCCD package contributes: the ``cccd`` command group."""

from __future__ import annotations


def _cccd():
    from .cli import cccd

    return cccd


def register(registry) -> None:
    registry.add_command("cccd", _cccd,
                         help="CCCD card: parse its QR, read its chip (for IT testing; output goes to stdout only).")
