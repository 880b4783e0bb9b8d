"""What the transfer package contributes: ``motcua transfer``, its tables and ``[transfer]``."""

from __future__ import annotations


def _group():
    from .cli import transfer_group

    return transfer_group


def _migrations():
    from ._migrations import migrations

    return migrations


def register(registry) -> None:
    from ._config import TransferConfig

    registry.add_config_section("transfer", TransferConfig)
    registry.add_command("transfer", _group, help="Sealed transfers by USB stick (no network).")
    registry.add_migrations("transfer", _migrations)
