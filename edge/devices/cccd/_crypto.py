"""ICAO 9303 symmetric building blocks, composed from cryptography's primitives.

3DES here is cryptography's TripleDES in CBC/ECB with 24-byte keys (single DES = K||K||K,
two-key 3DES = Ka||Kb||Ka). The retail MAC (ISO/IEC 9797-1 MAC algorithm 3, padding method 2)
is DES-CBC under Ka over all blocks but the last, then one two-key 3DES block.

A :class:`CipherSuite` bundles what secure messaging and PACE need from one block cipher
(ICAO 9303-11 §9.7-9.8): the key derivation function, CBC encryption, the 8-byte MAC and the
IV rule of secure messaging. :data:`TDES` serves BAC and PACE-3DES; :data:`AES_128`,
:data:`AES_192` and :data:`AES_256` serve PACE with AES (AES-CBC, AES-CMAC, SHA-1/SHA-256 KDF).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives import cmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

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


def unpad(data: bytes, block: int = BLOCK) -> bytes:
    stripped = data.rstrip(b"\x00")
    if not stripped or stripped[-1] != 0x80 or len(data) - len(stripped) >= block:
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


# --- cipher suites ---------------------------------------------------------------------------

MAC_LEN = 8


class CipherSuite:
    """One block cipher's KDF, CBC, MAC and secure-messaging IV rule (ICAO 9303-11 §9.7-9.8)."""

    name: str
    block: int      # cipher block size = padding unit = SSC length
    key_len: int    # session key length

    def kdf(self, seed: bytes, counter: int) -> bytes:
        """KDF(K, c): counter 1 = KS_Enc, 2 = KS_MAC, 3 = K_pi (the PACE password key)."""
        raise NotImplementedError

    def encrypt(self, key: bytes, data: bytes, iv: bytes | None = None) -> bytes:
        raise NotImplementedError

    def decrypt(self, key: bytes, data: bytes, iv: bytes | None = None) -> bytes:
        raise NotImplementedError

    def mac(self, key: bytes, padded: bytes) -> bytes:
        """The 8-byte secure-messaging MAC over already padded data."""
        raise NotImplementedError

    def token(self, key: bytes, data: bytes) -> bytes:
        """The 8-byte PACE authentication token over an unpadded public-key data object."""
        raise NotImplementedError

    def sm_iv(self, ks_enc: bytes, ssc: bytes) -> bytes:
        """IV of DO87 encryption for the message counted by ``ssc``."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<CipherSuite {self.name}>"


class _Tdes(CipherSuite):
    name, block, key_len = "3DES", 8, 16

    def kdf(self, seed: bytes, counter: int) -> bytes:
        return kdf_3des(seed, counter)

    def encrypt(self, key: bytes, data: bytes, iv: bytes | None = None) -> bytes:
        return tdes_cbc_encrypt(key, data, iv or bytes(BLOCK))

    def decrypt(self, key: bytes, data: bytes, iv: bytes | None = None) -> bytes:
        return tdes_cbc_decrypt(key, data, iv or bytes(BLOCK))

    def mac(self, key: bytes, padded: bytes) -> bytes:
        return retail_mac(key, padded)

    def token(self, key: bytes, data: bytes) -> bytes:
        return retail_mac(key, pad(data))

    def sm_iv(self, ks_enc: bytes, ssc: bytes) -> bytes:
        return bytes(BLOCK)  # 3DES secure messaging: IV = 0 (§9.8.6.1)


@dataclass(frozen=True, slots=True)
class _Aes(CipherSuite):
    key_len: int
    name: str = ""
    block: int = 16

    def kdf(self, seed: bytes, counter: int) -> bytes:
        # §9.7.1: SHA-1 for AES-128, SHA-256 for AES-192/256, truncated to the key length.
        digest = hashlib.sha1 if self.key_len == 16 else hashlib.sha256
        return digest(seed + counter.to_bytes(4, "big")).digest()[:self.key_len]

    def _check(self, key: bytes, data: bytes) -> None:
        if len(key) != self.key_len:
            raise ValueError(f"{self.name} needs a {self.key_len}-byte key")
        if len(data) % 16:
            raise ValueError("data is not a whole number of blocks")

    def encrypt(self, key: bytes, data: bytes, iv: bytes | None = None) -> bytes:
        self._check(key, data)
        enc = Cipher(algorithms.AES(key), modes.CBC(iv or bytes(16))).encryptor()
        return enc.update(data) + enc.finalize()

    def decrypt(self, key: bytes, data: bytes, iv: bytes | None = None) -> bytes:
        self._check(key, data)
        dec = Cipher(algorithms.AES(key), modes.CBC(iv or bytes(16))).decryptor()
        return dec.update(data) + dec.finalize()

    def mac(self, key: bytes, padded: bytes) -> bytes:
        self._check(key, padded)
        return self.token(key, padded)

    def token(self, key: bytes, data: bytes) -> bytes:
        signer = cmac.CMAC(algorithms.AES(key))
        signer.update(data)
        return signer.finalize()[:MAC_LEN]

    def sm_iv(self, ks_enc: bytes, ssc: bytes) -> bytes:
        # §9.8.6.2: IV = E(KS_Enc, SSC), the counter encrypted as one block.
        enc = Cipher(algorithms.AES(ks_enc), modes.ECB()).encryptor()
        return enc.update(ssc) + enc.finalize()


TDES: CipherSuite = _Tdes()
AES_128: CipherSuite = _Aes(16, "AES-128")
AES_192: CipherSuite = _Aes(24, "AES-192")
AES_256: CipherSuite = _Aes(32, "AES-256")
