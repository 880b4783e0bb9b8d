"""CCCD and receipt QR codes from a USB QR scanner acting as a keyboard (evdev, grabbed).

The device is opened with python-evdev and grabbed (``EVIOCGRAB``) so that the payload, which is
personal data, never reaches a console or another program as keystrokes. Key events go through
:class:`LineAssembler`; each line is parsed by the CCCD package and published as a
``cccd_scanned`` or ``receipt_scanned`` event (or ``qr_error`` with a Vietnamese message).
Payloads are never logged.
"""

from __future__ import annotations

import asyncio
import logging
import unicodedata
from collections.abc import Callable
from typing import Any

from edge.errors import MotcuaError

from ._errors import QrReadError
from ._keymap import LineAssembler
from ._model import DeviceEvent, DeviceRecord

logger = logging.getLogger(__name__)

EV_KEY = 1


def classify_payload(payload: str, *, device: DeviceRecord | None = None) -> DeviceEvent:
    """Parse one scanned line into a ``cccd_scanned`` / ``receipt_scanned`` / ``qr_error`` event."""
    text = unicodedata.normalize("NFC", payload).strip("\r\n")
    try:
        from edge.devices.cccd import parse_cccd_qr, parse_receipt_qr
    except ImportError as exc:  # the CCCD package is part of the same appliance
        return DeviceEvent(type="qr_error", device=device, error=f"QR parser unavailable: {exc}",
                           error_vi="Chưa có bộ đọc mã QR CCCD.")
    try:
        if "|" in text:
            return DeviceEvent(type="cccd_scanned", device=device, data=parse_cccd_qr(text))
        return DeviceEvent(type="receipt_scanned", device=device, data=parse_receipt_qr(text))
    except MotcuaError as exc:
        return DeviceEvent(type="qr_error", device=device, error=str(exc),
                           error_vi=exc.message_vi or "Mã QR không hợp lệ.")
    except (ValueError, TypeError) as exc:
        logger.warning("QR parser rejected a payload: %s", type(exc).__name__)
        return DeviceEvent(type="qr_error", device=device, error="QR payload is not valid",
                           error_vi="Mã QR không hợp lệ.")


class QrWedgeReader:
    """Reads one evdev keyboard device until stopped or the device goes away."""

    def __init__(self, path: str, *, publish: Callable[[DeviceEvent], None],
                 device: DeviceRecord | None = None, grab: bool = True,
                 key_timeout: float = 0.3, max_length: int = 2048) -> None:
        self.path = path
        self.publish = publish
        self.device = device
        self.grab = grab
        self.assembler = LineAssembler(timeout=key_timeout, max_length=max_length)
        self._input: Any = None

    def open(self) -> None:
        try:
            import evdev
        except ImportError as exc:
            raise QrReadError(f"python-evdev is not installed: {exc}",
                              message_vi="Thiếu phần mềm đọc máy quét QR.") from exc
        try:
            self._input = evdev.InputDevice(self.path)
        except OSError as exc:
            raise QrReadError(f"cannot open {self.path}: {exc.strerror or exc}",
                              message_vi="Không mở được máy quét QR (kiểm tra quyền truy cập).") from exc
        if self.grab:
            try:
                self._input.grab()
            except OSError as exc:
                self.close()
                raise QrReadError(f"cannot grab {self.path}: {exc.strerror or exc}",
                                  message_vi="Máy quét QR đang bị chương trình khác sử dụng.") from exc

    def close(self) -> None:
        dev, self._input = self._input, None
        if dev is None:
            return
        if self.grab:
            try:
                dev.ungrab()
            except OSError:
                pass
        try:
            dev.close()
        except OSError:
            pass

    def handle_key(self, code: int, value: int, timestamp: float) -> DeviceEvent | None:
        try:
            line = self.assembler.feed(code, value, timestamp)
        except MotcuaError as exc:
            return DeviceEvent(type="qr_error", device=self.device, error=str(exc),
                               error_vi=exc.message_vi or "")
        if line is None:
            return None
        return classify_payload(line, device=self.device)

    async def run(self) -> None:
        """Open, grab and read until cancelled; raises QrReadError when the device fails."""
        if self._input is None:
            self.open()
        try:
            async for event in self._input.async_read_loop():
                if event.type != EV_KEY:
                    continue
                out = self.handle_key(event.code, event.value, event.timestamp())
                if out is not None:
                    self.publish(out)
        except OSError as exc:
            raise QrReadError(f"QR scanner {self.path} failed: {exc.strerror or exc}",
                              message_vi="Máy quét QR đã bị ngắt kết nối.") from exc
        finally:
            self.close()

    def read_available(self) -> list[DeviceEvent]:
        """Blocking one-shot read (CLI and tests): process events until the device runs dry."""
        if self._input is None:
            self.open()
        events: list[DeviceEvent] = []
        try:
            for event in self._input.read_loop():
                if event.type != EV_KEY:
                    continue
                out = self.handle_key(event.code, event.value, event.timestamp())
                if out is not None:
                    events.append(out)
                    self.publish(out)
        except OSError as exc:
            raise QrReadError(f"QR scanner {self.path} failed: {exc.strerror or exc}",
                              message_vi="Máy quét QR đã bị ngắt kết nối.") from exc
        return events


async def run_reader(reader: QrWedgeReader, *, on_failure: Callable[[QrReadError], None]) -> None:
    """Run a reader as a task; a failure is reported, never raised into the loop."""
    try:
        await reader.run()
    except asyncio.CancelledError:
        raise
    except QrReadError as exc:
        on_failure(exc)
    except Exception as exc:
        logger.exception("QR reader for %s crashed", reader.path)
        on_failure(QrReadError(f"QR reader crashed: {type(exc).__name__}",
                               message_vi="Lỗi khi đọc máy quét QR."))
