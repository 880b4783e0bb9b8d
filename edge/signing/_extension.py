"""What the signing package contributes: the ``[signing]`` section and the ``token`` command."""

from __future__ import annotations


def _token():
    from .cli import token_command

    return token_command


def register(registry) -> None:
    from ._config import SigningConfig

    registry.add_config_section("signing", SigningConfig)
    registry.add_command("token", _token,
                         help="Show the signing token (ký số): present, label, certificate subject and expiry, PIN state.")
