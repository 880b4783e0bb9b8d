"""Basic Access Control (ICAO 9303-11 §4.3): mutual authentication from the MRZ key."""

from __future__ import annotations

import hmac
import logging
import os

from ._apdu import Transport, command, sw_text, transmit
from ._crypto import pad, retail_mac, session_keys, tdes_cbc_decrypt, tdes_cbc_encrypt
from ._errors import AccessDeniedError, CardProtocolError
from ._mrz import MrzKey
from ._sm import SecureMessaging

logger = logging.getLogger(__name__)

# Status words with which a card refuses EXTERNAL AUTHENTICATE when the cryptogram is wrong.
_REFUSED = {0x6300, 0x6982, 0x6A80, 0x6985, 0x6988}


def perform_bac(transport: Transport, key: MrzKey, *, rng=os.urandom) -> SecureMessaging:
    """Run GET CHALLENGE + EXTERNAL AUTHENTICATE; return the secure-messaging session."""
    k_enc, k_mac = session_keys(key.key_seed())
    challenge = transmit(transport, command(0x00, 0x84, 0x00, 0x00, le=8))
    if not challenge.ok or len(challenge.data) != 8:
        raise CardProtocolError(f"GET CHALLENGE answered {sw_text(challenge.sw)} with {len(challenge.data)} bytes",
                                sw=challenge.sw)
    rnd_ic = challenge.data
    rnd_ifd, k_ifd = rng(8), rng(16)
    e_ifd = tdes_cbc_encrypt(k_enc, rnd_ifd + rnd_ic + k_ifd)
    m_ifd = retail_mac(k_mac, pad(e_ifd))
    answer = transmit(transport, command(0x00, 0x82, 0x00, 0x00, e_ifd + m_ifd, le=0x28))
    if answer.sw in _REFUSED:
        logger.info("BAC refused by the card: SW=%04X", answer.sw)
        raise AccessDeniedError(f"BAC mutual authentication refused ({sw_text(answer.sw)}): MRZ data does not match")
    if not answer.ok or len(answer.data) != 40:
        raise CardProtocolError(f"EXTERNAL AUTHENTICATE answered {sw_text(answer.sw)} with {len(answer.data)} bytes",
                                sw=answer.sw)
    e_ic, m_ic = answer.data[:32], answer.data[32:]
    if not hmac.compare_digest(retail_mac(k_mac, pad(e_ic)), m_ic):
        raise AccessDeniedError("BAC: the card's cryptogram MAC does not verify (MRZ data does not match)")
    plain = tdes_cbc_decrypt(k_enc, e_ic)
    if not (hmac.compare_digest(plain[:8], rnd_ic) and hmac.compare_digest(plain[8:16], rnd_ifd)):
        raise AccessDeniedError("BAC: the card's cryptogram does not echo our challenges")
    k_ic = plain[16:32]
    seed = bytes(a ^ b for a, b in zip(k_ifd, k_ic, strict=True))
    ks_enc, ks_mac = session_keys(seed)
    logger.debug("BAC established")
    return SecureMessaging(ks_enc, ks_mac, rnd_ic[4:] + rnd_ifd[4:])
