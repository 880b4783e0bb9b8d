"""Key providers for the station key-encryption key (KEK) and the keys derived from it.

The KEK never encrypts data directly: HKDF derives a wrap key (dossier data keys, station
secrets), an index key (blind indexes) and a check value that tells a wrong passphrase from a
damaged store.
"""

from __future__ import annotations

import base64
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from edge.errors import IntegrityError, StoreError, StoreLockedError

from ._crypto import hkdf, new_key, open_bytes, seal_bytes
from ._fsutil import write_file_atomic

logger = logging.getLogger(__name__)

KEYFILE = "station.kek"
PASSFILE = "passphrase.json"
_CHECK = b"motcua-kek-check-v1"
SCRYPT_N = 2**15
SCRYPT_R = 8
SCRYPT_P = 1


@dataclass(frozen=True, slots=True)
class KeyRing:
    """Keys derived from the station KEK."""

    wrap: bytes
    index: bytes

    @classmethod
    def from_kek(cls, kek: bytes) -> KeyRing:
        return cls(wrap=hkdf(kek, info=b"motcua/wrap/v1"), index=hkdf(kek, info=b"motcua/index/v1"))

    def check_value(self) -> bytes:
        return seal_bytes(self.wrap, _CHECK, b"kek-check")

    def verify(self, check: bytes) -> bool:
        try:
            return open_bytes(self.wrap, check, b"kek-check") == _CHECK
        except IntegrityError:
            return False


# Bounds on the parameters read back from passphrase.json: a tampered file must not make the box
# spend minutes or gigabytes on one unlock attempt (scrypt memory is 128·n·r bytes), nor weaken it.
SCRYPT_N_RANGE = (2**14, 2**20)
SCRYPT_MAX_MEMORY = 256 * 1024 * 1024
SCRYPT_MAX_P = 16


def _kdf_problem(kdf: object, n: object, r: object, p: object, salt: bytes) -> str | None:
    """Why the stored KDF parameters are refused, or None when they are sane."""
    if kdf != "scrypt":
        return f"unsupported kdf {kdf!r}"
    if not all(type(v) is int for v in (n, r, p)):
        return "n, r and p must be integers"
    lo, hi = SCRYPT_N_RANGE
    if not lo <= n <= hi or n & (n - 1):
        return f"scrypt n={n} is not a power of two in [{lo}, {hi}]"
    if not 1 <= r <= 32 or 128 * n * r > SCRYPT_MAX_MEMORY:
        return f"scrypt r={r} with n={n} is out of bounds (at most {SCRYPT_MAX_MEMORY // 2**20} MiB)"
    if not 1 <= p <= SCRYPT_MAX_P:
        return f"scrypt p={p} is not in [1, {SCRYPT_MAX_P}]"
    if len(salt) < 16:
        return "salt shorter than 16 bytes"
    return None


def _scrypt(passphrase: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(passphrase.encode("utf-8"))


def create_kek(keys_dir: Path, provider: str, passphrase: str | None) -> bytes:
    """Make a new KEK and persist it the way the provider says."""
    kek = new_key()
    keys_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    if provider == "keyfile":
        write_file_atomic(keys_dir / KEYFILE, kek, mode=0o600)
    elif provider == "passphrase":
        if not passphrase or len(passphrase) < 10:
            raise StoreError("the passphrase key provider needs a passphrase of at least 10 characters",
                             message_vi="Cần mật khẩu mở khóa dài ít nhất 10 ký tự.")
        salt = os.urandom(16)
        wrapped = seal_bytes(_scrypt(passphrase, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P), kek, b"kek")
        doc = {"kdf": "scrypt", "n": SCRYPT_N, "r": SCRYPT_R, "p": SCRYPT_P,
               "salt": base64.b64encode(salt).decode(), "wrapped_kek": base64.b64encode(wrapped).decode()}
        write_file_atomic(keys_dir / PASSFILE, json.dumps(doc).encode(), mode=0o600)
    else:
        raise StoreError(f"unknown key provider {provider!r}")
    return kek


def load_kek(keys_dir: Path, provider: str, passphrase: str | None) -> bytes:
    """Read the KEK; raises StoreLockedError when a passphrase is needed and missing or wrong."""
    if provider == "keyfile":
        path = keys_dir / KEYFILE
        try:
            kek = path.read_bytes()
        except FileNotFoundError:
            raise StoreError(f"station key file {path} is missing: the store cannot be opened") from None
        if len(kek) != 32:
            raise IntegrityError(f"station key file {path} is damaged (expected 32 bytes, found {len(kek)})")
        return kek
    if provider == "passphrase":
        path = keys_dir / PASSFILE
        try:
            doc = json.loads(path.read_text())
            salt = base64.b64decode(doc["salt"], validate=True)
            wrapped = base64.b64decode(doc["wrapped_kek"], validate=True)
            kdf, n, r, p = doc["kdf"], doc["n"], doc["r"], doc["p"]
        except FileNotFoundError:
            raise StoreError(f"passphrase key file {path} is missing") from None
        except (ValueError, KeyError, TypeError) as exc:
            raise IntegrityError(f"passphrase key file {path} is damaged: {exc}") from None
        problem = _kdf_problem(kdf, n, r, p, salt)
        if problem:
            raise IntegrityError(f"passphrase key file {path} is damaged or tampered with: {problem}")
        if not passphrase:
            raise StoreLockedError("the store is locked: a supervisor must unlock it with the passphrase (motcua unlock)",
                                   message_vi="Thiết bị đang khóa: giám sát viên cần nhập mật khẩu mở khóa.")
        try:
            return open_bytes(_scrypt(passphrase, salt, n, r, p), wrapped, b"kek")
        except IntegrityError:
            raise StoreLockedError("wrong passphrase", message_vi="Mật khẩu mở khóa không đúng.") from None
    raise StoreError(f"unknown key provider {provider!r}")
