"""What the reference city hub contributes: the ``hub`` command group (it imports nothing of the box)."""

from __future__ import annotations


def _hub():
    from .cli import hub

    return hub


def register(registry) -> None:
    registry.add_command("hub", _hub,
                         help="The reference city hub: serve the sync protocol and administer stations and dossiers.")
