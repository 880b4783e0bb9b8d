"""PAdES signatures of a PDF (pyHanko): B-B with the box's corrected time, B-T with a TSA.

pyHanko claims the signing time (the signature dictionary's ``/M``; a PAdES signature carries
no CMS signing-time attribute) from its session's clock, which is the host's; the box's time is
its corrected clock (``store.now()``), so :class:`_BoxClockSigner` hands that to the session.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
from dataclasses import dataclass
from typing import Any

from ._errors import signing_error

log = logging.getLogger(__name__)

FIELD_PREFIX = "MotcuaKySo"


@dataclass(frozen=True, kw_only=True)
class SignedPdf:
    """A signed PDF and what the manifest records of it (non-personal)."""

    data: bytes
    cert_sha256: str
    signed_at: str  # RFC 3339, the claimed signing time
    level: str  # "B-B" or "B-T"
    field_name: str


def _signer_class():
    from pyhanko.sign.signers.pdf_signer import PdfSigner

    class _BoxClockSigner(PdfSigner):
        def __init__(self, *args: Any, system_time: dt.datetime, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._box_time = system_time

        def init_signing_session(self, pdf_out, existing_fields_only=False):
            session = super().init_signing_session(pdf_out, existing_fields_only=existing_fields_only)
            session.system_time = self._box_time
            return session

    return _BoxClockSigner


def _field_name(reader) -> str:
    from pyhanko.sign.fields import enumerate_sig_fields

    taken = {name for name, _value, _ref in enumerate_sig_fields(reader)}
    n = 1
    while f"{FIELD_PREFIX}{n}" in taken:
        n += 1
    return f"{FIELD_PREFIX}{n}"


def sign_pdf(data: bytes, signer: Any, *, signing_time: dt.datetime, cert_sha256: str,
             timestamper: Any = None, reason: str = "Sao y bản chính / số hóa hồ sơ",
             location: str = "") -> SignedPdf:
    """Sign ``data`` (a whole PDF) as an incremental update with one PAdES signature."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.pdf_utils.misc import PdfError
    from pyhanko.sign import signers
    from pyhanko.sign.fields import SigSeedSubFilter

    from sync.protocol import complete_oid_maps

    complete_oid_maps()
    if not data.startswith(b"%PDF-"):
        raise signing_error("not_pdf", "only a PDF can be signed")
    if signing_time.tzinfo is None:
        raise ValueError("signing_time must be aware")
    try:
        writer = IncrementalPdfFileWriter(io.BytesIO(data), strict=False)
        field = _field_name(writer.prev)
        meta = signers.PdfSignatureMetadata(field_name=field, subfilter=SigSeedSubFilter.PADES, md_algorithm="sha256",
                                            reason=reason, location=location or None,
                                            use_pades_lta=False)
        pdf_signer = _signer_class()(meta, signer=signer, timestamper=timestamper, system_time=signing_time)
        out = pdf_signer.sign_pdf(writer)
    except PdfError as exc:
        raise signing_error("not_pdf", f"the PDF cannot be read for signing: {exc}") from None
    except Exception as exc:
        if exc.__class__.__module__.startswith("pkcs11"):
            raise signing_error("absent", f"the token failed while signing: {type(exc).__name__}") from None
        raise
    return SignedPdf(data=out.getvalue(), cert_sha256=cert_sha256, level="B-T" if timestamper else "B-B",
                     signed_at=signing_time.astimezone(dt.UTC).isoformat(timespec="seconds"), field_name=field)


def http_timestamper(url: str, timeout: float):
    """pyHanko's RFC 3161 client for ``url``."""
    from pyhanko.sign.timestamps import HTTPTimeStamper

    return HTTPTimeStamper(url, timeout=timeout)


__all__ = ["SignedPdf", "http_timestamper", "sign_pdf"]
