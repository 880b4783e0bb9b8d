"""Errors of the CCCD readers: each carries a Vietnamese message a clerk can act on."""

from __future__ import annotations

from edge.errors import DeviceError, ValidationError


class CccdError(DeviceError):
    """Reading a CCCD card (QR or chip) failed."""

    message_vi = "Không đọc được thẻ CCCD."


class NoReaderError(CccdError):
    """No PC/SC reader is available (pcscd not running or nothing plugged in)."""

    message_vi = "Không tìm thấy đầu đọc thẻ. Hãy kiểm tra dây cắm đầu đọc thẻ."


class NoCardError(CccdError):
    """The reader holds no card."""

    message_vi = "Chưa có thẻ trên đầu đọc. Hãy đặt thẻ CCCD lên đầu đọc."


class CardRemovedError(CccdError):
    """The card left the reader (or the reader vanished) during a read."""

    message_vi = "Thẻ bị nhấc ra trong khi đang đọc. Hãy đặt lại thẻ và đọc lại."


class UnknownCardError(CccdError):
    """The card has no eMRTD application: it is not a chip CCCD (or a passport)."""

    message_vi = "Thẻ này không phải thẻ CCCD gắn chip (không có ứng dụng eMRTD)."


class AccessDeniedError(CccdError):
    """BAC/PACE mutual authentication failed: the MRZ data or CAN does not match the card."""

    message_vi = "Thông tin MRZ không khớp với thẻ (số giấy tờ, ngày sinh, ngày hết hạn). Hãy kiểm tra và nhập lại."


class CanRejectedError(AccessDeniedError):
    """PACE with the CAN failed."""

    message_vi = "Số CAN không đúng: mã CAN (6 số cuối của số CCCD) không khớp với thẻ. Hãy kiểm tra và nhập lại."


class NotSupportedError(CccdError):
    """The card asks for something this reader does not implement."""

    message_vi = "Thẻ yêu cầu phương thức truy cập chưa được hỗ trợ. Hãy dùng thông tin MRZ."


class CardProtocolError(CccdError):
    """The card answered something malformed: bad TLV, bad MAC, unexpected status word."""

    message_vi = "Thẻ trả lời không hợp lệ. Hãy đặt lại thẻ và đọc lại; nếu lỗi lặp lại, thẻ có thể bị hỏng."

    def __init__(self, message: str, *, sw: int | None = None, message_vi: str | None = None) -> None:
        super().__init__(message, message_vi=message_vi)
        self.sw = sw


class CccdQrError(ValidationError, CccdError):
    """A scanned QR payload is not a valid CCCD card QR (nor a receipt QR); names the field."""

    message_vi = "Mã QR không phải mã QR của thẻ CCCD."
