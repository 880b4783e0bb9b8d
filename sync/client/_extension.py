"""What the sync client contributes: the box's ``sync`` command group, its tables (set
``sync``) and ``[sync]``."""

from __future__ import annotations


def _sync_group():
    from .cli import sync_group

    return sync_group


def _migrations():
    from ._migrations import migrations

    return migrations


def register(registry) -> None:
    from ._config import SyncConfig
    from ._guardrails_config import GuardrailsConfig

    registry.add_config_section("sync", SyncConfig)
    registry.add_config_section("guardrails", GuardrailsConfig)
    registry.add_command("sync", _sync_group, help="Reconciliation with the city hub.")
    registry.add_migrations("sync", _migrations)
