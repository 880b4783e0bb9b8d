"""The core commands of ``motcua``: init, config, dossier, check, serve, unlock, status."""

from __future__ import annotations


def _cmd(attr: str):
    def load():
        from . import _core

        return getattr(_core, attr)

    return load


def register(registry) -> None:
    registry.add_command("init", _cmd("init_command"),
                         help="Create a new state directory: station key, database, city public key.")
    registry.add_command("config", _cmd("config_group"), help="Inspect the configuration.")
    registry.add_command("dossier", _cmd("dossier_group"),
                         help="Create, inspect and export dossiers of the local store.")
    registry.add_command("check", _cmd("check_command"),
                         help="Re-verify every blob, every sealed field and the audit chain.")
    registry.add_command("serve", _cmd("serve_command"),
                         help="Run the appliance: store, devices, sync client and the clerk web app.")
    registry.add_command("unlock", _cmd("unlock_command"),
                         help="Give the running appliance its passphrase (passphrase key provider).")
    registry.add_command("status", _cmd("status_command"),
                         help="Counts of dossiers by state, outbox and start-up findings.")
