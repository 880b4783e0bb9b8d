"""The signing package's errors: one base, each with a Vietnamese message for the clerk."""

from __future__ import annotations

from edge.errors import DeviceError


class SigningError(DeviceError):
    """The token, its certificate or the signature itself failed; ``status`` names the state."""

    def __init__(self, message: str, *, status: str, message_vi: str) -> None:
        super().__init__(message, message_vi=message_vi)
        self.status = status


MESSAGES_VI = {
    "not_configured": "Chưa cấu hình chữ ký số (mục [signing]).",
    "absent": "Không tìm thấy thiết bị ký số (USB token). Hãy cắm token rồi thử lại.",
    "module": "Không nạp được thư viện PKCS#11 của token. Báo bộ phận CNTT kiểm tra cấu hình.",
    "no_certificate": "Token không có chứng thư số / khóa ký với nhãn đã cấu hình.",
    "expired": "Chứng thư số trên token đã hết hạn. Không thể ký; hãy gia hạn chứng thư.",
    "not_yet_valid": "Chứng thư số trên token chưa đến ngày hiệu lực.",
    "untrusted": "Chứng thư số trên token không do tổ chức chứng thực được tin cậy cấp.",
    "wrong_pin": "Mã PIN không đúng. Lưu ý: nhập sai nhiều lần sẽ khóa token.",
    "pin_locked": "Token đã bị khóa do nhập sai PIN quá số lần cho phép. Liên hệ quản trị để mở khóa.",
    "pin_required": "Hãy nhập mã PIN của token để ký số.",
    "not_pdf": "Chỉ ký số được tài liệu PDF.",
    "failed": "Ký số không thành công. Tài liệu chưa thay đổi; hãy thử lại.",
}


def signing_error(status: str, message: str) -> SigningError:
    return SigningError(message, status=status, message_vi=MESSAGES_VI[status])


__all__ = ["MESSAGES_VI", "SigningError", "signing_error"]
