"""The sealed formats both the box and the city use, composed from ``cryptography``'s primitives.

- Pages: chunked AEAD in the STREAM construction (Hoang, Reyhanitabar, Rogaway, Vizár 2015):
  64 KiB segments, nonce = 7-byte zero prefix || 4-byte big-endian counter || 1-byte last flag,
  the file header authenticated as associated data of every segment; a per-file key derived with
  HKDF from the dossier key, a random salt in the header and the dossier id. Truncation (no
  last-flagged segment), reordering (counter) and splicing between files or dossiers (key and
  header) all fail authentication.
- Values: one AEAD message per value (1-byte cipher id || 12-byte nonce || ciphertext+tag); the
  associated data names the dossier and the purpose (:func:`personal_aad`).
- Dossier keys: sealed to the city with HPKE (RFC 9180), bound to the dossier id
  (:func:`seal_to_city` / :func:`open_from_city`); the city's keys in their JSON form.

Errors are :class:`core.errors.IntegrityError` (does not open), :class:`core.errors.KeyFormatError`
(a malformed key) and :class:`core.errors.SealedError`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, hpke
from cryptography.hazmat.primitives.asymmetric import mlkem, x25519
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from .errors import IntegrityError, KeyFormatError, SealedError

SEGMENT_SIZE = 64 * 1024
TAG_SIZE = 16
PAGE_MAGIC = b"MCPG"
PAGE_VERSION = 1
HEADER_SIZE = 24  # magic 4 | version 1 | alg 1 | segment log2 1 | reserved 1 | salt 16

CIPHERS = {"chacha20-poly1305": 1, "aes-256-gcm": 2}
_CIPHER_BY_ID = {v: k for k, v in CIPHERS.items()}

#: The KEMs a city key may use (the first is the default).
KEMS = ("MLKEM768_X25519", "X25519")

#: The purposes of the personal data sealed with a dossier's key (the manifest's ``personal``).
PERSONAL_PURPOSES = ("applicant", "form")


# --- associated data --------------------------------------------------------------------------


def personal_aad(purpose: str, dossier_id: str) -> bytes:
    """Associated data of a dossier's sealed personal value (``applicant|<id>``, ``form|<id>``)."""
    return f"{purpose}|{dossier_id}".encode()


def _page_info(context: str) -> bytes:
    return b"motcua/page/v1|" + context.encode()


def _hpke_info(dossier_id: str) -> bytes:
    return b"motcua/dek/v1|" + dossier_id.encode()


def _aead(cipher: str, key: bytes):
    return AESGCM(key) if cipher == "aes-256-gcm" else ChaCha20Poly1305(key)


def hkdf(key: bytes, *, info: bytes, salt: bytes | None = None, length: int = 32) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(key)


# --- pages: STREAM ----------------------------------------------------------------------------


def _nonce(counter: int, last: bool) -> bytes:
    if counter >= 2**32:
        raise SealedError("page too large: segment counter overflow")
    return b"\x00" * 7 + struct.pack(">I", counter) + (b"\x01" if last else b"\x00")


def _file_key(dek: bytes, salt: bytes, context: str) -> bytes:
    return hkdf(dek, salt=salt, info=_page_info(context))


def rechunk(source: bytes | BinaryIO | Iterable[bytes], size: int) -> Iterator[bytes]:
    """Yield exactly ``size``-byte pieces (the last may be shorter or empty)."""
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
        for i in range(0, len(data), size):
            yield data[i:i + size]
        return
    if hasattr(source, "read"):
        reader = source

        def pieces() -> Iterator[bytes]:
            while True:
                block = reader.read(size)
                if not block:
                    return
                yield block

        iterable: Iterable[bytes] = pieces()
    else:
        iterable = source
    buf = bytearray()
    for block in iterable:
        if not buf and len(block) == size:  # already a whole piece: pass it on, uncopied
            yield block if isinstance(block, bytes) else bytes(block)
            continue
        buf += block
        while len(buf) >= size:
            yield bytes(buf[:size])
            del buf[:size]
    if buf:
        yield bytes(buf)


def encrypt_stream(dek: bytes, context: str, source: bytes | BinaryIO | Iterable[bytes], *, cipher: str) -> Iterator[bytes]:
    """Encrypt a byte stream; yields the header then each sealed segment. Holds one segment."""
    salt = os.urandom(16)
    header = PAGE_MAGIC + bytes([PAGE_VERSION, CIPHERS[cipher], SEGMENT_SIZE.bit_length() - 1, 0]) + salt
    aead = _aead(cipher, _file_key(dek, salt, context))
    yield header
    counter = 0
    pending: bytes | None = None
    for piece in rechunk(source, SEGMENT_SIZE):
        if pending is not None:
            yield aead.encrypt(_nonce(counter, False), pending, header)
            counter += 1
        pending = piece
    yield aead.encrypt(_nonce(counter, True), pending or b"", header)


def decrypt_stream(dek: bytes, context: str, source: BinaryIO) -> Iterator[bytes]:
    """Decrypt and authenticate a page stream segment by segment.

    Raises IntegrityError on a bad header, a failed tag, a missing final segment (truncation) or
    trailing data after it.
    """
    header = source.read(HEADER_SIZE)
    if len(header) != HEADER_SIZE or header[:4] != PAGE_MAGIC:
        raise IntegrityError("page blob has no valid header (not a motcua page, or truncated)")
    version, alg, seg_log2 = header[4], header[5], header[6]
    if version != PAGE_VERSION or alg not in _CIPHER_BY_ID or not 10 <= seg_log2 <= 24:
        raise IntegrityError(f"page blob header not supported (version {version}, cipher {alg})")
    seg = 1 << seg_log2
    aead = _aead(_CIPHER_BY_ID[alg], _file_key(dek, header[8:24], context))
    counter = 0
    block = source.read(seg + TAG_SIZE)
    while True:
        nxt = source.read(seg + TAG_SIZE) if len(block) == seg + TAG_SIZE else b""
        last = not nxt
        if len(block) < TAG_SIZE:
            raise IntegrityError("page blob truncated: final segment missing")
        try:
            plain = aead.decrypt(_nonce(counter, last), block, header)
        except InvalidTag:
            if last:
                raise IntegrityError("page blob truncated or altered: final segment does not authenticate") from None
            raise IntegrityError(f"page blob altered: segment {counter} does not authenticate") from None
        yield plain
        if last:
            return
        counter += 1
        block = nxt


def decrypt_page(dek: bytes, dossier_id: str, blob: BinaryIO) -> Iterator[bytes]:
    """Decrypt a page blob of a dossier (the STREAM format, the dossier id as context)."""
    return decrypt_stream(dek, dossier_id, blob)


# --- values -----------------------------------------------------------------------------------


def seal_bytes(key: bytes, plaintext: bytes, aad: bytes, *, cipher: str = "chacha20-poly1305") -> bytes:
    """AEAD-seal a small value: 1-byte cipher id || 12-byte nonce || ciphertext+tag."""
    nonce = os.urandom(12)
    return bytes([CIPHERS[cipher]]) + nonce + _aead(cipher, key).encrypt(nonce, plaintext, aad)


def open_bytes(key: bytes, sealed: bytes, aad: bytes) -> bytes:
    if len(sealed) < 1 + 12 + TAG_SIZE or sealed[0] not in _CIPHER_BY_ID:
        raise IntegrityError("sealed value is malformed")
    try:
        return _aead(_CIPHER_BY_ID[sealed[0]], key).decrypt(sealed[1:13], sealed[13:], aad)
    except InvalidTag:
        raise IntegrityError("sealed value does not authenticate (wrong key or altered)") from None


# --- city key: HPKE ---------------------------------------------------------------------------


def _suite(kem: str) -> hpke.Suite:
    kem_id = {"MLKEM768_X25519": hpke.KEM.MLKEM768_X25519, "X25519": hpke.KEM.X25519}[kem]
    return hpke.Suite(kem_id, hpke.KDF.HKDF_SHA256, hpke.AEAD.CHACHA20_POLY1305)


def _key_object(data: Any, what: str) -> dict:
    if not isinstance(data, dict):
        raise KeyFormatError(f"{what} file is malformed: a JSON object is expected")
    return data


@dataclass(frozen=True, slots=True, kw_only=True)
class CityPublicKey:
    """The city's HPKE public key (what a box holds)."""

    kem: str
    x25519: bytes
    mlkem: bytes = b""

    def to_json(self) -> dict[str, str]:
        out = {"kind": "motcua-city-public-key", "kem": self.kem, "x25519": base64.b64encode(self.x25519).decode()}
        if self.mlkem:
            out["mlkem768"] = base64.b64encode(self.mlkem).decode()
        return out

    @classmethod
    def from_json(cls, data: Any) -> CityPublicKey:
        data = _key_object(data, "city key")
        try:
            kem = data["kem"]
            if kem not in KEMS:
                raise KeyFormatError(f"city key: unsupported KEM {kem!r} (supported: {', '.join(KEMS)})")
            x = base64.b64decode(data["x25519"], validate=True)
            m = base64.b64decode(data["mlkem768"], validate=True) if kem == "MLKEM768_X25519" else b""
        except (KeyError, TypeError, ValueError) as exc:
            raise KeyFormatError(f"city key file is malformed: {exc}") from None
        if len(x) != 32 or (kem == "MLKEM768_X25519" and len(m) != 1184):
            raise KeyFormatError("city key file is malformed: wrong key length")
        return cls(kem=kem, x25519=x, mlkem=m)

    def fingerprint(self) -> str:
        return hashlib.sha256(self.x25519 + self.mlkem).hexdigest()[:16]

    def _hpke_key(self):
        xpub = x25519.X25519PublicKey.from_public_bytes(self.x25519)
        if self.kem == "X25519":
            return xpub
        return hpke.MLKEM768X25519PublicKey(mlkem.MLKEM768PublicKey.from_public_bytes(self.mlkem), xpub)


@dataclass(frozen=True, slots=True, kw_only=True)
class CityPrivateKey:
    """The city's HPKE private key: held by the city (and by the demo hub), never by a box."""

    kem: str
    x25519: bytes
    mlkem_seed: bytes = b""

    @classmethod
    def generate(cls, kem: str = "MLKEM768_X25519") -> CityPrivateKey:
        x = x25519.X25519PrivateKey.generate().private_bytes_raw()
        seed = mlkem.MLKEM768PrivateKey.generate().private_bytes_raw() if kem == "MLKEM768_X25519" else b""
        return cls(kem=kem, x25519=x, mlkem_seed=seed)

    def to_json(self) -> dict[str, str]:
        out = {"kind": "motcua-city-private-key", "kem": self.kem, "x25519": base64.b64encode(self.x25519).decode()}
        if self.mlkem_seed:
            out["mlkem768_seed"] = base64.b64encode(self.mlkem_seed).decode()
        return out

    @classmethod
    def from_json(cls, data: Any) -> CityPrivateKey:
        data = _key_object(data, "city private key")
        try:
            if data.get("kind") != "motcua-city-private-key":
                raise KeyFormatError("not a city private key file (kind must be motcua-city-private-key)")
            kem = data["kem"]
            if kem not in KEMS:
                raise KeyFormatError(f"city key: unsupported KEM {kem!r}")
            x = base64.b64decode(data["x25519"], validate=True)
            seed = base64.b64decode(data["mlkem768_seed"], validate=True) if kem == "MLKEM768_X25519" else b""
        except (KeyError, TypeError, ValueError) as exc:
            raise KeyFormatError(f"city private key file is malformed: {exc}") from None
        return cls(kem=kem, x25519=x, mlkem_seed=seed)

    def public(self) -> CityPublicKey:
        x = x25519.X25519PrivateKey.from_private_bytes(self.x25519).public_key().public_bytes_raw()
        m = mlkem.MLKEM768PrivateKey.from_seed_bytes(self.mlkem_seed).public_key().public_bytes_raw() if self.mlkem_seed else b""
        return CityPublicKey(kem=self.kem, x25519=x, mlkem=m)

    def _hpke_key(self):
        xpriv = x25519.X25519PrivateKey.from_private_bytes(self.x25519)
        if self.kem == "X25519":
            return xpriv
        return hpke.MLKEM768X25519PrivateKey(mlkem.MLKEM768PrivateKey.from_seed_bytes(self.mlkem_seed), xpriv)


def load_city_private_key(text: str | bytes) -> CityPrivateKey:
    """A city private key from the text of its JSON file."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise KeyFormatError(f"city private key file is not JSON: {exc}") from None
    return CityPrivateKey.from_json(data)


def seal_to_city(city: CityPublicKey, dek: bytes, dossier_id: str) -> bytes:
    """HPKE-seal a dossier key so only the city's private key opens it (bound to the dossier)."""
    return _suite(city.kem).encrypt(dek, city._hpke_key(), info=_hpke_info(dossier_id))


def open_from_city(city: CityPrivateKey, sealed: bytes, dossier_id: str) -> bytes:
    try:
        return _suite(city.kem).decrypt(sealed, city._hpke_key(), info=_hpke_info(dossier_id))
    except Exception as exc:  # cryptography raises InvalidTag or ValueError for malformed input
        raise IntegrityError(f"sealed data key does not open with this city key: {type(exc).__name__}") from None
