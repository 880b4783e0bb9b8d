"""The ``[signing]`` configuration section, registered by this package (``_extension.py``).

Imports nothing but the standard library: the composition root loads it with the registrations.
The token's PIN is never configured: the clerk types it, and it is held in memory only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True, kw_only=True)
class SigningConfig:
    """Digital signatures (ký số) of digitized copies with the unit's PKCS#11 token."""

    pkcs11_module: str = ""  # e.g. /usr/lib/x86_64-linux-gnu/libeToken.so; empty: signing is off
    token_label: str = ""
    key_label: str = ""  # the private key's label; the certificate on the token carries the same
    documents: Literal["components", "components_and_receipt"] = "components"
    trust_roots: str = ""  # PEM file of the trusted CA certificates (the token's chain is checked)
    tsa_url: str = ""  # RFC 3161 timestamping service: PAdES B-T when reachable, else B-B
    tsa_timeout_seconds: float = 5.0
    expiry_warning_days: int = 30

    @property
    def configured(self) -> bool:
        return bool(self.pkcs11_module and self.token_label and self.key_label)


__all__ = ["SigningConfig"]
