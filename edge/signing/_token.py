"""The unit's PKCS#11 token: what it holds (status, without a PIN) and a logged-in session.

One process-wide lock serialises every use of the PKCS#11 module: the module is re-initialised
before each probe or signing batch (a token pulled or plugged since is then seen, the way
SoftHSM2 and most USB token modules report slots), which is safe only while no session is open.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from cryptography import x509

from ._config import SigningConfig
from ._errors import MESSAGES_VI, SigningError, signing_error

log = logging.getLogger(__name__)
_LOCK = threading.Lock()

# PKCS#11 token flags (CK_TOKEN_INFO.flags)
CKF_USER_PIN_COUNT_LOW = 0x00010000
CKF_USER_PIN_FINAL_TRY = 0x00020000
CKF_USER_PIN_LOCKED = 0x00040000


@dataclass(frozen=True, kw_only=True)
class TokenStatus:
    """What the devices panel shows of the token; ``state`` is one of ok, warning (the certificate
    expires soon or the PIN retry counter is low), absent, expired, not_yet_valid, untrusted,
    pin_locked, no_certificate, module, not_configured."""

    state: str
    present: bool
    label: str
    cert_subject: str = ""
    cert_not_after: str = ""
    cert_sha256: str = ""
    days_left: int | None = None
    pin_locked: bool = False
    pin_count_low: bool = False
    pin_final_try: bool = False
    message_vi: str = ""

    @property
    def can_sign(self) -> bool:
        return self.state in ("ok", "warning")

    def to_dict(self) -> dict[str, Any]:
        return {"state": self.state, "present": self.present, "label": self.label, "cert_subject": self.cert_subject,
                "cert_not_after": self.cert_not_after, "cert_sha256": self.cert_sha256, "days_left": self.days_left,
                "pin_locked": self.pin_locked, "pin_count_low": self.pin_count_low,
                "pin_final_try": self.pin_final_try, "message_vi": self.message_vi, "can_sign": self.can_sign}


def _lib(module: str):
    import pkcs11

    try:
        lib = pkcs11.lib(module)
        lib.reinitialize()
    except (OSError, RuntimeError, pkcs11.exceptions.PKCS11Error) as exc:
        raise signing_error("module", f"cannot load PKCS#11 module {module}: {type(exc).__name__} {exc}") from None
    return lib


def _token(lib, label: str):
    import pkcs11

    try:
        return lib.get_token(token_label=label)
    except (pkcs11.exceptions.NoSuchToken, pkcs11.exceptions.MultipleTokensReturned):
        raise signing_error("absent", f"no token labelled {label!r} is present") from None
    except pkcs11.exceptions.PKCS11Error as exc:
        raise signing_error("absent", f"token {label!r} cannot be read: {type(exc).__name__}") from None


def _certificate(session, key_label: str) -> x509.Certificate:
    import pkcs11
    from pkcs11 import Attribute, ObjectClass

    try:
        objs = list(session.get_objects({Attribute.CLASS: ObjectClass.CERTIFICATE, Attribute.LABEL: key_label}))
    except pkcs11.exceptions.PKCS11Error as exc:
        raise signing_error("absent", f"the token's objects cannot be read: {type(exc).__name__}") from None
    if len(objs) != 1:
        raise signing_error("no_certificate", f"{len(objs)} certificates labelled {key_label!r} on the token")
    return x509.load_der_x509_certificate(bytes(objs[0][Attribute.VALUE]))


def subject_text(cert: x509.Certificate) -> str:
    return cert.subject.rfc4514_string()


def cert_sha256(cert: x509.Certificate) -> str:
    from cryptography.hazmat.primitives.serialization import Encoding

    return hashlib.sha256(cert.public_bytes(Encoding.DER)).hexdigest()


def load_trust_roots(path: str) -> list[x509.Certificate]:
    if not path:
        return []
    try:
        with open(path, "rb") as fh:
            return x509.load_pem_x509_certificates(fh.read())
    except (OSError, ValueError) as exc:
        raise signing_error("untrusted", f"trust roots {path} cannot be read: {exc}") from None


def issued_by_trusted(cert: x509.Certificate, roots: list[x509.Certificate]) -> bool:
    """The certificate is signed by one of ``roots`` (a direct issuer: the unit's CA)."""
    for root in roots:
        if root.subject != cert.issuer:
            continue
        try:
            cert.verify_directly_issued_by(root)
            return True
        except (ValueError, TypeError, x509.InvalidSignature):
            continue
    return False


def certificate_state(cert: x509.Certificate, cfg: SigningConfig, now: dt.datetime) -> tuple[str, int]:
    """(state, days left) of a signing certificate at ``now``: ok, warning, expired, not_yet_valid, untrusted."""
    days_left = (cert.not_valid_after_utc - now).days
    if now >= cert.not_valid_after_utc:
        return "expired", days_left
    if now < cert.not_valid_before_utc:
        return "not_yet_valid", days_left
    roots = load_trust_roots(cfg.trust_roots)
    if roots and not issued_by_trusted(cert, roots):
        return "untrusted", days_left
    return ("warning" if days_left < cfg.expiry_warning_days else "ok"), days_left


def _status(cfg: SigningConfig, now: dt.datetime) -> TokenStatus:
    if not cfg.configured:
        return TokenStatus(state="not_configured", present=False, label="", message_vi=MESSAGES_VI["not_configured"])
    try:
        lib = _lib(cfg.pkcs11_module)
        token = _token(lib, cfg.token_label)
        flags = int(token.flags)
        pin = {"pin_locked": bool(flags & CKF_USER_PIN_LOCKED), "pin_count_low": bool(flags & CKF_USER_PIN_COUNT_LOW),
               "pin_final_try": bool(flags & CKF_USER_PIN_FINAL_TRY)}
        with token.open() as session:  # public objects: no PIN
            cert = _certificate(session, cfg.key_label)
    except SigningError as exc:
        return TokenStatus(state=exc.status, present=exc.status not in ("absent", "module"), label=cfg.token_label,
                           message_vi=exc.message_vi or "")
    state, days_left = certificate_state(cert, cfg, now)
    info = {"present": True, "label": cfg.token_label, "cert_subject": subject_text(cert),
            "cert_not_after": cert.not_valid_after_utc.isoformat(), "cert_sha256": cert_sha256(cert),
            "days_left": days_left, **pin}
    if pin["pin_locked"]:
        return TokenStatus(state="pin_locked", message_vi=MESSAGES_VI["pin_locked"], **info)
    if state == "ok" and (pin["pin_count_low"] or pin["pin_final_try"]):
        msg = ("Cảnh báo: chỉ còn MỘT lần nhập PIN trước khi token bị khóa." if pin["pin_final_try"]
               else "Cảnh báo: đã có lần nhập sai PIN; nhập sai thêm có thể khóa token.")
        return TokenStatus(state="warning", message_vi=msg, **info)
    if state == "warning":
        return TokenStatus(state="warning", message_vi=f"Chứng thư số sẽ hết hạn sau {max(days_left, 0)} ngày; hãy gia hạn.",
                           **info)
    return TokenStatus(state=state, message_vi="" if state == "ok" else MESSAGES_VI[state], **info)


def token_status(cfg: SigningConfig, *, now: dt.datetime | None = None) -> TokenStatus:
    """The token's state, read without a PIN; never raises (a failure is a state)."""
    now = now or dt.datetime.now(dt.UTC)
    with _LOCK:
        try:
            return _status(cfg, now)
        except Exception as exc:  # a misbehaving module is a status on the panel, never a crash
            log.warning("signing token probe failed: %s", type(exc).__name__)
            return TokenStatus(state="absent", present=False, label=cfg.token_label, message_vi=MESSAGES_VI["absent"])


@dataclass(frozen=True, kw_only=True)
class TokenSession:
    """A logged-in session on the token and its signing certificate."""

    session: Any
    cert: x509.Certificate


@contextlib.contextmanager
def open_session(cfg: SigningConfig, pin: str, *, now: dt.datetime) -> Iterator[TokenSession]:
    """Log in with ``pin`` and yield the session; refuses an expired, not yet valid or untrusted
    certificate before the PIN is tried. The PIN is passed to the module and not kept."""
    import pkcs11

    if not cfg.configured:
        raise signing_error("not_configured", "the [signing] section names no module, token and key")
    if not pin:
        raise signing_error("pin_required", "no PIN given")
    with _LOCK:
        lib = _lib(cfg.pkcs11_module)
        token = _token(lib, cfg.token_label)
        if int(token.flags) & CKF_USER_PIN_LOCKED:
            raise signing_error("pin_locked", f"token {cfg.token_label!r} is PIN-locked")
        with token.open() as public:
            cert = _certificate(public, cfg.key_label)
        state, _days = certificate_state(cert, cfg, now)
        if state not in ("ok", "warning"):
            raise signing_error(state, f"the token's certificate is {state.replace('_', ' ')}")
        try:
            session = token.open(user_pin=pin)
        except pkcs11.exceptions.PinIncorrect:
            raise signing_error("wrong_pin", f"wrong PIN for token {cfg.token_label!r}") from None
        except pkcs11.exceptions.PinLocked:
            raise signing_error("pin_locked", f"token {cfg.token_label!r} is PIN-locked") from None
        except (pkcs11.exceptions.PinLenRange, pkcs11.exceptions.PinInvalid):
            raise signing_error("wrong_pin", "the PIN has the wrong length or characters") from None
        except pkcs11.exceptions.PKCS11Error as exc:
            raise signing_error("absent", f"cannot log in to token: {type(exc).__name__}") from None
        try:
            yield TokenSession(session=session, cert=cert)
        finally:
            with contextlib.suppress(Exception):
                session.close()


__all__ = ["TokenSession", "TokenStatus", "cert_sha256", "certificate_state", "load_trust_roots", "open_session",
           "subject_text", "token_status"]
