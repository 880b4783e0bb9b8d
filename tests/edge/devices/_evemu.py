"""Test helpers: a keyboard-wedge QR scanner for umockdev (device, ioctls, typed payloads)."""

from __future__ import annotations

from pathlib import Path

from edge.devices._keymap import (
    KEY_ENTER,
    KEY_LEFTCTRL,
    KEY_LEFTSHIFT,
    KEY_SPACE,
    KEY_U,
    US_KEYS,
)

EVENT_NODE = "/dev/input/event7"

DEVICE_FILE = """\
P: /devices/pci0000:00/0000:00:14.0/usb1/1-2/1-2:1.0/0003:1EAB:1A03.0001/input/input7/event7
N: input/event7
E: DEVNAME=/dev/input/event7
E: SUBSYSTEM=input
E: ID_INPUT=1
E: ID_INPUT_KEYBOARD=1
E: ID_VENDOR_ID=1eab
E: ID_MODEL_ID=1a03
E: ID_VENDOR=Newland
E: ID_MODEL=NLS-FR40
E: ID_SERIAL_SHORT=QR0001
E: ID_BUS=usb
A: dev=13:71

P: /devices/pci0000:00/0000:00:14.0/usb1/1-2/1-2:1.0/0003:1EAB:1A03.0001/input/input7
E: SUBSYSTEM=input
E: NAME="Newland NLS-FR40"
E: ID_INPUT=1
E: ID_INPUT_KEYBOARD=1
A: name=Newland NLS-FR40

P: /devices/pci0000:00/0000:00:14.0/usb1/1-3
N: bus/usb/001/005
E: DEVNAME=/dev/bus/usb/001/005
E: SUBSYSTEM=usb
E: DEVTYPE=usb_device
E: ID_VENDOR_ID=04a9
E: ID_MODEL_ID=1909
E: ID_VENDOR=Canon
E: ID_MODEL=CanoScan_LiDE_120
E: ID_SERIAL_SHORT=SCN001
E: BUSNUM=001
E: DEVNUM=005
E: libsane_matched=yes
A: idVendor=04a9
A: idProduct=1909

P: /devices/pci0000:00/0000:00:14.0/usb1/1-4
N: bus/usb/001/006
E: DEVNAME=/dev/bus/usb/001/006
E: SUBSYSTEM=usb
E: DEVTYPE=usb_device
E: ID_VENDOR_ID=072f
E: ID_MODEL_ID=2200
E: ID_VENDOR=ACS
E: ID_MODEL=ACR122U
E: ID_USB_INTERFACES=:0b0000:
E: BUSNUM=001
E: DEVNUM=006

P: /devices/platform/i8042/serio0/input/input3/event3
N: input/event3
E: DEVNAME=/dev/input/event3
E: SUBSYSTEM=input
E: ID_INPUT=1
E: ID_INPUT_KEYBOARD=1
E: ID_BUS=i8042

P: /devices/platform/i8042/serio0/input/input3
E: SUBSYSTEM=input
E: NAME="AT Translated Set 2 keyboard"
A: name=AT Translated Set 2 keyboard
"""


def _pad(data: bytes, n: int = 256) -> str:
    return (data + b"\0" * n)[:n].hex().upper()


def ioctl_file() -> str:
    """The evdev ioctls python-evdev issues when it opens and grabs the device."""
    keys = bytearray(96)
    for code in range(1, 128):
        keys[code // 8] |= 1 << (code % 8)
    types = bytearray(96)
    for t in (0, 1, 4, 0x14):
        types[t // 8] |= 1 << (t % 8)
    msc = bytearray(96)
    msc[0] = 0x10
    rep = bytearray(96)
    rep[0] = 0x03
    return "\n".join([
        f"@DEV {EVENT_NODE}",
        "EVIOCGVERSION 0 01000100",
        "EVIOCGID 0 0300AB1E031A1101",
        f"EVIOCGNAME 0 {_pad(b'Newland NLS-FR40')}",
        f"EVIOCGPHYS 0 {_pad(b'usb-0000:00:14.0-2/input0')}",
        f"EVIOCGUNIQ 0 {_pad(b'')}",
        f"EVIOCGBIT(0) 0 {bytes(types[:4]).hex().upper()}",
        f"EVIOCGBIT(0) 0 {bytes(types).hex().upper()}",
        f"EVIOCGBIT(1) 0 {bytes(keys).hex().upper()}",
        f"EVIOCGBIT(4) 0 {bytes(msc).hex().upper()}",
        f"EVIOCGBIT(20) 0 {bytes(rep).hex().upper()}",
        "EVIOCGEFFECTS 0 00000000",
    ]) + "\n"


_CHAR_TO_KEY: dict[str, tuple[int, bool]] = {}
for _code, (_plain, _shifted) in sorted(US_KEYS.items(), reverse=True):
    if _code >= 55 and _code not in (57,):
        continue  # type with the main block, as a scanner does
    _CHAR_TO_KEY[_plain] = (_code, False)
    _CHAR_TO_KEY.setdefault(_shifted, (_code, True))


def keystrokes(payload: str) -> list[tuple[int, int]]:
    """(code, value) key events a wedge scanner sends for payload + Enter (non-ASCII as
    Ctrl+Shift+U, hex, space)."""
    out: list[tuple[int, int]] = []

    def tap(code: int, shift: bool = False, ctrl: bool = False) -> None:
        if ctrl:
            out.append((KEY_LEFTCTRL, 1))
        if shift:
            out.append((KEY_LEFTSHIFT, 1))
        out.extend([(code, 1), (code, 0)])
        if shift:
            out.append((KEY_LEFTSHIFT, 0))
        if ctrl:
            out.append((KEY_LEFTCTRL, 0))

    for ch in payload:
        if ch in _CHAR_TO_KEY:
            code, shift = _CHAR_TO_KEY[ch]
            tap(code, shift)
        else:
            tap(KEY_U, shift=True, ctrl=True)
            for digit in f"{ord(ch):x}":
                tap(_CHAR_TO_KEY[digit][0])
            tap(KEY_SPACE)
    tap(KEY_ENTER)
    return out


def evemu_events(payload: str, *, start: float = 0.2, step: float = 0.001) -> str:
    lines = []
    t = start
    for code, value in keystrokes(payload):
        sec, usec = int(t), int(round((t - int(t)) * 1_000_000))
        lines.append(f"E: {sec}.{usec:06d} 0001 {code:04x} {value}")
        lines.append(f"E: {sec}.{usec:06d} 0000 0000 0")
        t += step
    return "\n".join(lines) + "\n"


def write_testbed(directory: Path, payloads: list[str]) -> dict[str, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    files = {"device": directory / "devices.umockdev", "ioctl": directory / "qr.ioctl",
             "events": directory / "qr.events"}
    files["device"].write_text(DEVICE_FILE)
    files["ioctl"].write_text(ioctl_file())
    files["events"].write_text("".join(evemu_events(p, start=0.2 + i * 2.0)
                                       for i, p in enumerate(payloads)))
    return files
