"""Sign several PDFs in one token session: the PIN is typed once, the certificate checked once.

With a timestamping service configured the batch asks it for each signature (PAdES B-T); when
the service cannot be reached (the box is offline) the batch signs B-B with the box's time.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence

from ._config import SigningConfig
from ._errors import SigningError, signing_error
from ._sign import SignedPdf, http_timestamper, sign_pdf
from ._token import cert_sha256, load_trust_roots, open_session

log = logging.getLogger(__name__)


def _chain(cfg: SigningConfig):
    from asn1crypto import x509 as asn1_x509
    from cryptography.hazmat.primitives.serialization import Encoding

    return [asn1_x509.Certificate.load(c.public_bytes(Encoding.DER)) for c in load_trust_roots(cfg.trust_roots)]


def sign_batch(cfg: SigningConfig, pin: str, documents: Sequence[bytes], *, now: dt.datetime,
               location: str = "") -> list[SignedPdf]:
    """Sign every PDF of ``documents`` (all or none); ``now`` is the box's corrected time."""
    from pyhanko.sign.pkcs11 import PKCS11Signer

    with open_session(cfg, pin, now=now) as ts:
        signer = PKCS11Signer(ts.session, cert_label=cfg.key_label, key_label=cfg.key_label, ca_chain=_chain(cfg))
        fingerprint = cert_sha256(ts.cert)
        timestamper = http_timestamper(cfg.tsa_url, cfg.tsa_timeout_seconds) if cfg.tsa_url else None
        out = []
        for data in documents:
            try:
                out.append(sign_pdf(data, signer, signing_time=now, cert_sha256=fingerprint, timestamper=timestamper,
                                    location=location))
            except SigningError:
                raise
            except Exception as exc:
                if timestamper is None:
                    log.warning("signing failed: %s", type(exc).__name__)
                    raise signing_error("failed", f"signing failed: {type(exc).__name__}") from exc
                log.warning("timestamping service unreachable (%s): signing PAdES B-B", type(exc).__name__)
                timestamper = None
                out.append(sign_pdf(data, signer, signing_time=now, cert_sha256=fingerprint, location=location))
        return out


__all__ = ["sign_batch"]
