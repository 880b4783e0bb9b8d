"""PC/SC readers through pyscard (pcscd): listed as card readers."""

from __future__ import annotations

import logging

from edge.errors import DeviceError

from ._model import DeviceKind, DeviceRecord, DeviceStatus, utcnow

logger = logging.getLogger(__name__)


def list_pcsc_readers() -> list[DeviceRecord]:
    """Readers pcscd knows; raises DeviceError when pcscd or pyscard is unavailable."""
    try:
        from smartcard.System import readers
    except ImportError as exc:
        raise DeviceError(f"pyscard is not installed: {exc}",
                          message_vi="Thiếu phần mềm đầu đọc thẻ (pyscard).") from exc
    try:
        names = [str(r) for r in readers()]
    except Exception as exc:  # pyscard raises its own non-SmartcardException types here
        raise DeviceError(f"pcscd is not reachable: {exc}",
                          message_vi="Dịch vụ đầu đọc thẻ (pcscd) chưa chạy.") from exc
    now = utcnow()
    transport = "usb"
    return [DeviceRecord(id=f"pcsc:{name}", kind=DeviceKind.CARD_READER, model=name, name=name,
                         source="pcsc", status=DeviceStatus.READY, last_seen=now,
                         transport="virtual" if name.startswith("Virtual PCD") else transport)
            for name in names]
