"""What the updater contributes: the ``update`` command group."""

from __future__ import annotations


def _update_group():
    from .cli import update_group

    return update_group


def register(registry) -> None:
    registry.add_command("update", _update_group,
                         help="Install a release the hub rolled out, check the box, roll back when unhealthy (docs/deploy.md).")
