"""What provisioning contributes: the ``provision`` group and the ``firstboot`` command."""

from __future__ import annotations


def _cmd(attr: str):
    def load():
        from . import cli

        return getattr(cli, attr)

    return load


def register(registry) -> None:
    registry.add_command("provision", _cmd("provision"),
                         help="Provision boxes in bulk: keys, bundles, labels, replacement and key rotation.")
    registry.add_command("firstboot", _cmd("firstboot_command"),
                         help="Set this box up from its provisioning bundle and enroll it with the hub (safe to rerun).")
