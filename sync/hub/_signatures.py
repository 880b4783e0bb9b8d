"""Verifying the digital signatures (ký số) of a dossier's pages at the city (pyHanko).

``motcua hub open`` decrypts each page; every PDF page is checked here against the city's trust
roots (``DATA_DIR/signing-roots.pem``, or ``--trust-roots``): the signature is intact and covers
the whole file (nothing was changed after signing), the signer's certificate chains to a trusted
root and was valid at the signing time, and the certificate is the one the box's manifest names.
The signing time is the timestamp's (PAdES B-T) or, for B-B, the time the box claimed with its
city-corrected clock. The report is written beside the opened files and kept in
``DATA_DIR/signature-reports/`` for ``motcua hub dossiers``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from core.fsutil import write_file_atomic
from sync.errors import HubError
from sync.protocol import complete_oid_maps

ROOTS_FILE = "signing-roots.pem"
REPORTS_DIR = "signature-reports"


def load_roots(path: Path | None) -> list[Any]:
    """The trusted CA certificates (asn1crypto) of a PEM file; none when the file is absent."""
    from asn1crypto import pem
    from asn1crypto import x509 as asn1_x509

    if path is None or not path.exists():
        return []
    data = path.read_bytes()
    try:
        return [asn1_x509.Certificate.load(der) for _type, _headers, der in pem.unarmor(data, multiple=True)]
    except ValueError as exc:
        raise HubError(f"trust roots {path} are not PEM certificates: {exc}") from None


def roots_path(data_dir: Path, override: Path | None) -> Path:
    return override if override is not None else Path(data_dir) / ROOTS_FILE


def _check(data: bytes, roots: Sequence[Any], expected: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko.sign.validation.errors import SignatureValidationError
    from pyhanko.sign.validation.status import SignatureCoverageLevel
    from pyhanko_certvalidator import ValidationContext

    complete_oid_maps()
    try:
        reader = PdfFileReader(io.BytesIO(data), strict=False)
        embedded = list(reader.embedded_regular_signatures)
    except Exception as exc:
        return [{"valid": False, "failed": [f"the PDF cannot be read: {type(exc).__name__}"]}]
    if not embedded:
        return [{"valid": False, "failed": ["no signature"]}]
    results = []
    for sig in embedded:
        failed: list[str] = []
        entry: dict[str, Any] = {"field": sig.field_name}
        try:
            cert = sig.signer_cert
            entry["signer"] = cert.subject.human_friendly
            entry["cert_sha256"] = hashlib.sha256(cert.dump()).hexdigest()
            claimed = sig.self_reported_timestamp or dt.datetime.now(dt.UTC)
            vc = ValidationContext(trust_roots=list(roots), allow_fetching=False, revocation_mode="soft-fail",
                                   moment=claimed)
            status = validate_pdf_signature(sig, vc)
            tst = status.timestamp_validity
            when = tst.timestamp if tst is not None else claimed
            entry["signed_at"] = when.astimezone(dt.UTC).isoformat(timespec="seconds")
            entry["level"] = "B-T" if tst is not None else "B-B"
            if not status.intact:
                failed.append("the signed bytes were altered (digest mismatch)")
            if not status.valid:
                failed.append("the signature value does not verify")
            if status.coverage != SignatureCoverageLevel.ENTIRE_FILE:
                failed.append("the file was changed after signing (the signature does not cover it all)")
            if not status.trusted:
                failed.append("the signer's certificate does not chain to a trusted root"
                              + ("" if roots else " (no trust roots configured)"))
            if status.trusted and not status.bottom_line:
                failed.append("the certificate was not valid at the signing time")
        except SignatureValidationError as exc:
            failed.append(f"validation error: {exc.failure_message}")
        except Exception as exc:
            failed.append(f"validation error: {type(exc).__name__}")
        if expected is not None and entry.get("cert_sha256") and entry["cert_sha256"] != expected.get("cert_sha256"):
            failed.append("the signer is not the certificate the box's manifest names")
        entry["valid"] = not failed
        entry["failed"] = failed
        results.append(entry)
    return results


def verify_pages(manifest: Mapping[str, Any], pages: Sequence[Mapping[str, Any]], read, *,
                 roots: Sequence[Any]) -> dict[str, Any]:
    """The signature report of an opened dossier. ``pages`` are the opened pages (index, file,
    media_type, component); ``read(page)`` returns a page's decrypted bytes."""
    declared = {int(s["index"]): s for s in manifest.get("signatures", []) if isinstance(s, Mapping)}
    report_pages = []
    for page in pages:
        if page["media_type"] != "application/pdf":
            continue
        index = int(page["index"])
        expected = declared.get(index)
        checks = _check(read(page), roots, expected)
        valid = bool(checks) and all(c["valid"] for c in checks)
        if expected is None and valid:
            checks[0]["failed"].append("the manifest records no signature for this page")
            checks[0]["valid"] = valid = False
        report_pages.append({"index": index, "component": page.get("component", ""), "file": page.get("file", ""),
                             "valid": valid, "signatures": checks})
    missing = [i for i in declared if i not in {p["index"] for p in report_pages}]
    if not report_pages:
        state = "missing"
    elif all(p["valid"] for p in report_pages) and not missing:
        state = "valid"
    elif all(c.get("failed") == ["no signature"] for p in report_pages for c in p["signatures"]):
        state = "missing"
    else:
        state = "invalid"
    return {"dossier_id": manifest.get("dossier_id"), "state": state, "trust_roots": len(roots),
            "checked_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "pages": report_pages,
            "declared_but_absent": missing}


def save_report(data_dir: Path, report: Mapping[str, Any]) -> None:
    """Keep the report (non-personal: states, signers' certificate subjects, times) for listings."""
    folder = Path(data_dir) / REPORTS_DIR
    folder.mkdir(mode=0o700, exist_ok=True)
    write_file_atomic(folder / f"{report['dossier_id']}.json",
                      json.dumps(report, ensure_ascii=False, indent=1).encode(), mode=0o600)


def signature_state(data_dir: Path, manifest: Mapping[str, Any]) -> str:
    """For listings: the last report's state (valid / invalid / missing), else ``missing`` when
    the manifest declares no signature, else ``unverified`` (not opened yet)."""
    path = Path(data_dir) / REPORTS_DIR / f"{manifest.get('dossier_id')}.json"
    try:
        return json.loads(path.read_text())["state"]
    except (OSError, ValueError, KeyError):
        pass
    return "unverified" if manifest.get("signatures") else "missing"


__all__ = ["ROOTS_FILE", "load_roots", "roots_path", "save_report", "signature_state", "verify_pages"]
