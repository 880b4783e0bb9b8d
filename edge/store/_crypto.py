"""The store's cryptography: the core's sealed formats (``core.sealed``) and the box's own pieces.

The page cipher (STREAM), sealed values and the city's HPKE seal are ``core.sealed``'s, shared
with the city; here their errors become the store's (:class:`edge.errors.IntegrityError`,
:class:`edge.errors.StoreError`). The box alone chooses a cipher for its CPU, makes dossier keys
and computes blind indexes for look-ups of personal values.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import os
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from typing import BinaryIO, TypeVar

from core import errors as core_errors
from core import sealed as _sealed
from core.sealed import (
    CIPHERS,
    HEADER_SIZE,
    KEMS,
    PAGE_MAGIC,
    PAGE_VERSION,
    SEGMENT_SIZE,
    TAG_SIZE,
    CityPrivateKey,
    CityPublicKey,
    hkdf,
    seal_bytes,
    seal_to_city,
)
from core.sealed import rechunk as _rechunk
from edge.errors import IntegrityError, StoreError

__all__ = [
    "CIPHERS", "HEADER_SIZE", "KEMS", "PAGE_MAGIC", "PAGE_VERSION", "SEGMENT_SIZE", "TAG_SIZE",
    "CityPrivateKey", "CityPublicKey", "_rechunk", "blind_index", "choose_cipher", "cpu_has_aes",
    "decrypt_stream", "encrypt_stream", "hkdf", "new_key", "open_bytes", "open_from_city", "seal_bytes",
    "seal_to_city", "store_error",
]

T = TypeVar("T")


def store_error(exc: core_errors.SealedError) -> StoreError:
    """The store's error for an error of the sealed formats (same message)."""
    cls = IntegrityError if isinstance(exc, core_errors.IntegrityError) else StoreError
    return cls(str(exc), message_vi=exc.message_vi)


def _translated(fn: Callable[..., T]) -> Callable[..., T]:
    @functools.wraps(fn)
    def call(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except core_errors.SealedError as exc:
            raise store_error(exc) from None

    return call


def _translated_stream(stream: Iterator[bytes]) -> Iterator[bytes]:
    try:
        yield from stream
    except core_errors.SealedError as exc:
        raise store_error(exc) from None


open_bytes = _translated(_sealed.open_bytes)
open_from_city = _translated(_sealed.open_from_city)


def encrypt_stream(dek: bytes, context: str, source: bytes | BinaryIO | Iterable[bytes], *, cipher: str) -> Iterator[bytes]:
    """Encrypt a byte stream; yields the header then each sealed segment. Holds one segment."""
    return _translated_stream(_sealed.encrypt_stream(dek, context, source, cipher=cipher))


def decrypt_stream(dek: bytes, context: str, source: BinaryIO) -> Iterator[bytes]:
    """Decrypt and authenticate a page stream segment by segment (IntegrityError if altered)."""
    return _translated_stream(_sealed.decrypt_stream(dek, context, source))


def cpu_has_aes() -> bool:
    """True where the CPU advertises AES instructions (x86 'aes' flag, ARM 'aes' feature)."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as fh:
            for line in fh:
                key, _, value = line.partition(":")
                if key.strip().lower() in {"flags", "features"} and "aes" in value.split():
                    return True
    except OSError:
        pass
    return False


def choose_cipher(setting: str) -> str:
    if setting != "auto":
        return setting
    return "aes-256-gcm" if cpu_has_aes() else "chacha20-poly1305"


def new_key() -> bytes:
    return os.urandom(32)


def blind_index(key: bytes, kind: str, value: str) -> str:
    """Keyed hash for equality look-ups of personal values (NFC, case-folded, trimmed)."""
    norm = unicodedata.normalize("NFC", value).strip().casefold()
    return hmac.new(key, kind.encode() + b"\x00" + norm.encode(), hashlib.sha256).hexdigest()
