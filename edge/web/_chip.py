"""The intake form's chip reader: the clerk types the CAN or the MRZ data, the box reads the
CCCD through PC/SC (``edge.devices.cccd.read_card``) in a worker thread and fills the applicant.

Nothing read from the card is kept here: the applicant fields go back into the form (the clerk
checks them, then the draft seals them like typed data); the face (DG2) is never read. Nothing of
the card's content or of what the clerk typed is logged.
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass
from typing import Any

from core.codes import is_ascii_digits, normalize_digits
from edge.errors import ValidationError

CHIP_FIELDS = ("chip_can", "chip_doc", "chip_dob", "chip_expiry")
# read_card / MrzKey name their fields; the form's fields carry a prefix (the applicant has its
# own date_of_birth).
FIELD_OF = {"can": "chip_can", "document_number": "chip_doc", "date_of_birth": "chip_dob",
            "date_of_expiry": "chip_expiry"}
UNVERIFIED_VI = "Dữ liệu chip chưa được xác thực"
_ONE_READER = threading.Lock()  # one PC/SC read at a time on this box


@dataclass(frozen=True, slots=True, kw_only=True)
class ChipRead:
    """What the form needs from a chip read: applicant fields and the verification verdict."""

    applicant: dict[str, str]
    verified: bool
    reason_vi: str
    expired: bool = False  # the card's certificate chain has expired (the data is still offered)


def chip_values(form: Any) -> dict[str, str]:
    out = {}
    for key in CHIP_FIELDS:
        value = form.get(key, "") if hasattr(form, "get") else ""
        out[key] = value.strip()[:40] if isinstance(value, str) else ""
    return out


def _yymmdd(value: str, field: str) -> str:
    """A date typed as YYYY-MM-DD (date input), DD/MM/YYYY or YYMMDD, as the MRZ's YYMMDD.

    Unicode digits (full-width …) are read as ASCII; any other character is refused."""
    value = normalize_digits(value.strip())
    if value.isascii():
        for pattern in ("%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y"):
            try:
                return dt.datetime.strptime(value, pattern).strftime("%y%m%d")
            except ValueError:
                continue
        if is_ascii_digits(value, 6):
            return value
    label = "Ngày sinh" if field == "date_of_birth" else "Ngày hết hạn"
    raise ValidationError(field, "a date YYYY-MM-DD", message_vi=f"{label} (MRZ) phải là ngày hợp lệ, ví dụ 15/02/1990.")


def parse_access(chip: dict[str, str]) -> tuple[Any, str | None]:
    """(MrzKey or None, CAN or None) from the form; a precise error when neither is usable."""
    from edge.devices.cccd import MrzKey, validate_can

    can = validate_can(chip["chip_can"]) if chip["chip_can"] else None
    typed_mrz = [chip["chip_doc"], chip["chip_dob"], chip["chip_expiry"]]
    mrz = None
    if any(typed_mrz) or can is None:
        if not all(typed_mrz):
            if can is None and not any(typed_mrz):
                raise ValidationError("chip_can", "give the CAN or the MRZ data",
                                      message_vi="Nhập mã CAN (6 chữ số) hoặc đủ thông tin MRZ: số giấy tờ, "
                                                 "ngày sinh và ngày hết hạn của thẻ.")
            missing = next(f for f, v in zip(("document_number", "date_of_birth", "date_of_expiry"), typed_mrz,
                                             strict=True) if not v)
            raise ValidationError(missing, "incomplete MRZ data",
                                  message_vi="Cần đủ ba thông tin MRZ: số giấy tờ, ngày sinh và ngày hết hạn.")
        mrz = MrzKey.from_fields(chip["chip_doc"], _yymmdd(chip["chip_dob"], "date_of_birth"),
                                 _yymmdd(chip["chip_expiry"], "date_of_expiry"))
    return mrz, can


def read_chip(settings: Any, mrz: Any, can: str | None, now: dt.datetime | None = None) -> ChipRead:
    """Blocking (run it in a worker thread): connect, authenticate, read DG1 + DG13, verify.

    ``now`` is the box's corrected time (``Store.now()``), at which the card's certificates must
    be valid; without it, the system clock. Positional, so that ``blocking()`` can pass it."""
    from edge.devices.cccd import PcscTransport, read_card

    cfg = settings.devices
    with _ONE_READER, PcscTransport(cfg.card_reader or None) as transport:
        result = read_card(transport, mrz=mrz, can=can, csca_dir=cfg.csca_dir or None,
                           old_id_field=cfg.dg13_old_id_field, read_face=False, now=now)
    passive = result.passive
    return ChipRead(applicant=result.to_applicant(), verified=bool(passive.verified),
                    reason_vi="" if passive.verified else (passive.reason_vi or "không kiểm tra được chữ ký số"),
                    expired=bool(passive.expired))
