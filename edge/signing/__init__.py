"""Digital signatures (ký số) of digitized copies with the unit's PKCS#11 token (pyHanko, PAdES).

The token's status is read without a PIN (:func:`token_status`, for the devices panel); a batch
of PDFs is signed in one logged-in session (:func:`sign_batch`), B-B with the box's corrected
time or B-T through a configured timestamping service. The PIN is typed by the clerk and kept in
memory only (:class:`PinVault`). Independent of the devices and reception packages.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.lazy import lazy_exports

if TYPE_CHECKING:
    from ._batch import sign_batch
    from ._config import SigningConfig
    from ._errors import MESSAGES_VI, SigningError
    from ._pins import PinVault
    from ._sign import SignedPdf
    from ._token import TokenStatus, token_status

_LAZY: dict[str, tuple[str, str | None]] = {
    "sign_batch": ("._batch", "sign_batch"),
    "SigningConfig": ("._config", "SigningConfig"),
    "MESSAGES_VI": ("._errors", "MESSAGES_VI"),
    "SigningError": ("._errors", "SigningError"),
    "PinVault": ("._pins", "PinVault"),
    "SignedPdf": ("._sign", "SignedPdf"),
    "TokenStatus": ("._token", "TokenStatus"),
    "token_status": ("._token", "token_status"),
}

__getattr__, __dir__ = lazy_exports(__name__, _LAZY)

__all__ = ["MESSAGES_VI", "PinVault", "SignedPdf", "SigningConfig", "SigningError", "TokenStatus", "sign_batch",
           "token_status"]
