"""ICAO 9303 symmetric building blocks, composed from cryptography's primitives.

3DES here is cryptography's TripleDES in CBC/ECB with 24-byte keys (single DES = K||K||K,
two-key 3DES = Ka||Kb||Ka). The retail MAC (ISO/IEC 9797-1 MAC algorithm 3, padding method 2)
is DES-CBC under Ka over all blocks but the last, then one two-key 3DES block.
"""

from __future__ import annotations

import hashlib

from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives.ciphers import Cipher, modes

BLOCK = 8


def _key24(key: bytes) -> bytes:
    if len(key) == 8:
        return key * 3
    if len(key) == 16:
        return key + key[:8]
    if len(key) == 24:
        return key
    raise ValueError("3DES key must be 8, 16 or 24 bytes")


def pad(data: bytes, block: int = BLOCK) -> bytes:
    """ISO/IEC 9797-1 padding method 2: 0x80 then zeros up to the block size."""
    data = data + b"\x80"
    return data + b"\x00" * (-len(data) % block)


def unpad(data: bytes) -> bytes:
    stripped = data.rstrip(b"\x00")
    if not stripped or stripped[-1] != 0x80 or len(data) - len(stripped) >= BLOCK:
        raise ValueError("bad ISO 9797-1 padding")
    return stripped[:-1]


def tdes_cbc_encrypt(key: bytes, data: bytes, iv: bytes = bytes(BLOCK)) -> bytes:
    enc = Cipher(TripleDES(_key24(key)), modes.CBC(iv)).encryptor()
    return enc.update(data) + enc.finalize()


def tdes_cbc_decrypt(key: bytes, data: bytes, iv: bytes = bytes(BLOCK)) -> bytes:
    if len(data) % BLOCK:
        raise ValueError("ciphertext is not a whole number of blocks")
    dec = Cipher(TripleDES(_key24(key)), modes.CBC(iv)).decryptor()
    return dec.update(data) + dec.finalize()


def retail_mac(key: bytes, data: bytes) -> bytes:
    """ISO 9797-1 MAC algorithm 3 over already padded ``data`` (a multiple of 8 bytes)."""
    if len(key) != 16 or not data or len(data) % BLOCK:
        raise ValueError("retail MAC needs a 16-byte key and padded data")
    ka = key[:8]
    head, last = data[:-BLOCK], data[-BLOCK:]
    chain = tdes_cbc_encrypt(ka, head)[-BLOCK:] if head else bytes(BLOCK)
    return tdes_cbc_encrypt(key, bytes(a ^ b for a, b in zip(chain, last, strict=True)))


def _adjust_parity(key: bytes) -> bytes:
    out = bytearray(key)
    for i, b in enumerate(out):
        ones = bin(b & 0xFE).count("1")
        out[i] = (b & 0xFE) | (0 if ones % 2 else 1)
    return bytes(out)


def kdf_3des(seed: bytes, counter: int) -> bytes:
    """ICAO 9303-11 §9.7.1: SHA-1(seed || counter) → a 16-byte two-key 3DES key with parity."""
    digest = hashlib.sha1(seed + counter.to_bytes(4, "big")).digest()
    return _adjust_parity(digest[:16])


def session_keys(seed: bytes) -> tuple[bytes, bytes]:
    """(K_enc, K_mac) from a 16-byte key seed."""
    return kdf_3des(seed, 1), kdf_3des(seed, 2)
