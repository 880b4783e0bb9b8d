"""SANE through the ``scanimage`` program: device listing, options, and error messages.

``scanimage`` is run as a subprocess, so a crashing backend never takes the daemon with it.
Errors are recognised by SANE's status texts (``sane_strstatus``) on stderr and by the exit code,
which ``scanimage`` sets to the SANE status number.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
from dataclasses import dataclass

from edge.errors import ValidationError

from ._errors import ScannerError

logger = logging.getLogger(__name__)

SCANIMAGE = "scanimage"

# SANE status number → (short status, English, Vietnamese). The texts are sane_strstatus().
SANE_STATUS: dict[int, tuple[str, str, str]] = {
    1: ("unsupported", "Operation not supported",
        "Máy quét không hỗ trợ thao tác này."),
    2: ("cancelled", "Operation was cancelled",
        "Lượt quét đã bị hủy."),
    3: ("busy", "Device busy",
        "Máy quét đang bận. Vui lòng chờ lượt quét trước xong rồi thử lại."),
    4: ("invalid", "Invalid argument",
        "Không mở được máy quét (tên thiết bị hoặc tùy chọn không hợp lệ)."),
    5: ("eof", "End of file reached",
        "Máy quét kết thúc trang sớm hơn dự kiến."),
    6: ("jammed", "Document feeder jammed",
        "Kẹt giấy trong khay nạp. Vui lòng gỡ giấy kẹt rồi quét lại trang này."),
    7: ("no_docs", "Document feeder out of documents",
        "Khay nạp giấy trống. Vui lòng đặt tài liệu vào khay rồi quét lại."),
    8: ("cover_open", "Scanner cover is open",
        "Nắp máy quét đang mở. Vui lòng đóng nắp rồi quét lại."),
    9: ("io_error", "Error during device I/O",
        "Lỗi kết nối với máy quét. Vui lòng kiểm tra cáp và nguồn điện của máy quét."),
    10: ("no_mem", "Out of memory",
         "Máy quét hoặc thiết bị hết bộ nhớ. Vui lòng quét với độ phân giải thấp hơn."),
    11: ("access_denied", "Access to resource has been denied",
         "Không có quyền sử dụng máy quét. Vui lòng báo bộ phận kỹ thuật."),
}
_BY_TEXT = {text.lower(): code for code, (_, text, _) in SANE_STATUS.items()}
GONE_VI = "Máy quét đã bị ngắt kết nối giữa chừng. Vui lòng kiểm tra cáp rồi quét lại."
MISSING_VI = "Chưa cài phần mềm điều khiển máy quét (SANE). Vui lòng báo bộ phận kỹ thuật."
NOT_FOUND_VI = "Không tìm thấy máy quét. Vui lòng kiểm tra máy quét đã bật và đã cắm cáp."


def scanimage_path(program: str = SCANIMAGE) -> str:
    found = shutil.which(program)
    if not found:
        raise ScannerError(f"{program} is not installed (Debian package sane-utils)",
                           message_vi=MISSING_VI, status="missing")
    return found


def error_from_output(stderr: str, returncode: int | None, *, pages_done: int = 0) -> ScannerError:
    """Turn scanimage's stderr and exit status into a ScannerError with a clerk message."""
    code = None
    for line in reversed(stderr.splitlines()):
        low = line.lower()
        for text, number in _BY_TEXT.items():
            if text in low:
                code = number
                break
        if code is not None:
            break
        if "open of device" in low and "failed" in low:
            return ScannerError(f"scanner not found: {line.strip()}", message_vi=NOT_FOUND_VI,
                                status="not_found", pages_done=pages_done)
    if code is None and returncode is not None and returncode in SANE_STATUS:
        code = returncode
    if code is not None:
        status, text, vi = SANE_STATUS[code]
        if code == 4 and "open of device" in stderr:
            return ScannerError(f"scanner not found: {text}", message_vi=NOT_FOUND_VI,
                                status="not_found", pages_done=pages_done)
        return ScannerError(f"scanner reported: {text}", message_vi=vi, status=status,
                            pages_done=pages_done)
    if returncode is not None and returncode < 0:
        return ScannerError(f"scanimage was stopped by signal {-returncode}: the device went away",
                            message_vi=GONE_VI, status="gone", pages_done=pages_done)
    last = stderr.strip().splitlines()[-1] if stderr.strip() else f"exit status {returncode}"
    return ScannerError(f"scanimage failed: {last}", message_vi=GONE_VI, status="error",
                        pages_done=pages_done)


@dataclass(frozen=True, slots=True, kw_only=True)
class SaneDevice:
    """A device in SANE's listing."""

    name: str
    vendor: str
    model: str
    type: str

    @property
    def transport(self) -> str:
        backend = self.name.split(":", 1)[0]
        if backend in ("airscan", "escl") or backend.startswith("net"):
            return "network"
        if backend == "test":
            return "virtual"
        if "libusb:" in self.name or "usb" in self.name:
            return "usb"
        return "usb" if backend not in ("v4l", "pnm") else "virtual"

    @property
    def usb_bus_dev(self) -> tuple[int, int] | None:
        """(bus, device number) when the name carries them (``backend:libusb:001:005``)."""
        m = re.search(r"libusb:(\d{3}):(\d{3})", self.name)
        return (int(m.group(1)), int(m.group(2))) if m else None


def list_devices(*, program: str = SCANIMAGE, timeout: float = 60.0,
                 extra_names: tuple[str, ...] = ()) -> list[SaneDevice]:
    """``scanimage -f`` listing, plus explicitly configured names (``test``) not listed there."""
    exe = scanimage_path(program)
    try:
        proc = subprocess.run([exe, "-f", "%d\t%v\t%m\t%t%n"], capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL, check=False)
    except subprocess.TimeoutExpired as exc:
        raise ScannerError("scanner discovery timed out",
                           message_vi="Tìm máy quét quá lâu, vui lòng thử lại.",
                           status="timeout") from exc
    if proc.returncode != 0:
        raise error_from_output(proc.stderr, proc.returncode)
    devices = parse_listing(proc.stdout)
    known = {d.name for d in devices}
    for name in extra_names:
        if name and name not in known:
            devices.append(SaneDevice(name=name, vendor="", model="", type="configured device"))
    return devices


def parse_listing(text: str) -> list[SaneDevice]:
    devices = []
    for line in text.splitlines():
        parts = line.split("\t")
        if len(parts) < 4 or not parts[0]:
            continue
        devices.append(SaneDevice(name=parts[0], vendor=parts[1], model=parts[2], type=parts[3]))
    return devices


@dataclass(frozen=True, slots=True, kw_only=True)
class ScannerOptions:
    """What a scanner offers (parsed from ``scanimage -d NAME -A``)."""

    resolutions: tuple[int, ...] = ()
    resolution_range: tuple[int, int] | None = None
    modes: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    duplex: bool = False
    duplex_option: str = ""  # e.g. "--duplex" or "--adf-mode" when duplex is a separate option
    defaults: tuple[tuple[str, str], ...] = ()

    def to_dict(self) -> dict:
        return {
            "resolutions": list(self.resolutions),
            "resolution_range": list(self.resolution_range) if self.resolution_range else None,
            "modes": list(self.modes),
            "sources": list(self.sources),
            "duplex": self.duplex,
            "defaults": dict(self.defaults),
        }


_OPT = re.compile(r"^\s{2,}(--?[A-Za-z0-9][\w-]*)(.*)$")


def parse_options(text: str) -> ScannerOptions:
    """Parse the option block ``scanimage -A`` prints (the part under "Options specific to")."""
    opts: dict[str, tuple[str, str]] = {}
    in_device = False
    for line in text.splitlines():
        if "options specific to device" in line.lower():
            in_device = True
            continue
        if not in_device:
            continue
        m = _OPT.match(line)
        if not m:
            continue
        name, rest = m.group(1).lstrip("-"), m.group(2).strip()
        default = ""
        if rest.endswith("]") and " [" in rest:
            cut = rest.rindex(" [")
            rest, default = rest[:cut].strip(), rest[cut + 2:-1]
        elif rest.startswith("[") and rest.endswith("]"):
            rest, default = "", rest[1:-1]
        opts[name] = (rest, default)

    def listed(name: str) -> tuple[str, ...]:
        if name not in opts:
            return ()
        constraint = opts[name][0]
        if constraint.startswith("[=(") and constraint.endswith(")]"):
            constraint = constraint[3:-2]
        return tuple(p for p in constraint.split("|") if p)

    resolutions: tuple[int, ...] = ()
    res_range = None
    if "resolution" in opts:
        constraint = opts["resolution"][0]
        m = re.match(r"(\d+)\.\.(\d+)", constraint)
        if m:
            res_range = (int(m.group(1)), int(m.group(2)))
        else:
            resolutions = tuple(int(x) for x in re.findall(r"\d+", constraint.replace("dpi", "")))
    sources = listed("source")
    duplex_option = ""
    if "duplex" in opts:
        duplex_option = "--duplex"
    elif any("duplex" in m.lower() for m in listed("adf-mode")):
        duplex_option = "--adf-mode"
    duplex = bool(duplex_option) or any("duplex" in s.lower() for s in sources)
    return ScannerOptions(
        resolutions=resolutions, resolution_range=res_range, modes=listed("mode"),
        sources=sources, duplex=duplex, duplex_option=duplex_option,
        defaults=tuple((k, v[1]) for k, v in opts.items() if v[1] and v[1] != "inactive"))


def device_options(name: str, *, program: str = SCANIMAGE, timeout: float = 60.0) -> ScannerOptions:
    exe = scanimage_path(program)
    try:
        proc = subprocess.run([exe, "-d", name, "-A"], capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL, check=False)
    except subprocess.TimeoutExpired as exc:
        raise ScannerError(f"reading the options of {name} timed out",
                           message_vi="Máy quét không trả lời, vui lòng thử lại.",
                           status="timeout") from exc
    if proc.returncode != 0:
        raise error_from_output(proc.stderr, proc.returncode)
    return parse_options(proc.stdout)


_MODE_ALIASES = {
    "color": ("color", "colour", "24bit color", "true color"),
    "gray": ("gray", "grayscale", "grey", "true gray", "8bit gray"),
    "lineart": ("lineart", "binary", "black & white", "halftone", "monochrome"),
}


def pick_mode(wanted: str, options: ScannerOptions) -> str | None:
    """The backend's spelling of a colour mode, or None when the scanner lists no modes."""
    if not options.modes:
        return None
    for offered in options.modes:
        if offered.lower() == wanted.lower():
            return offered
    for offered in options.modes:
        if offered.lower() in _MODE_ALIASES.get(wanted.lower(), ()):
            return offered
    raise ValidationError("mode", f"scanner offers {', '.join(options.modes)}, not {wanted}",
                          message_vi=f"Máy quét không có chế độ màu {wanted}.")


def pick_source(wanted: str, options: ScannerOptions, *, duplex: bool = False) -> str | None:
    """Map ``ADF`` / ``Flatbed`` / ``Duplex`` (or an exact name) to the backend's source name."""
    if not wanted:
        return None
    if not options.sources:
        if wanted.lower() in ("flatbed", ""):
            return None
        raise ValidationError("source", "scanner offers no source choice",
                              message_vi="Máy quét không có khay nạp giấy tự động.")
    for offered in options.sources:
        if offered.lower() == wanted.lower():
            return offered
    key = wanted.lower()
    want_duplex = duplex or key == "duplex"

    def is_feeder(s: str) -> bool:
        low = s.lower()
        return "adf" in low or "feeder" in low or "duplex" in low

    candidates: list[str]
    if key in ("adf", "feeder", "duplex"):
        candidates = [s for s in options.sources if is_feeder(s)]
        preferred = [s for s in candidates if ("duplex" in s.lower()) == want_duplex]
        candidates = preferred or ([] if want_duplex and not options.duplex_option else candidates)
    elif key == "flatbed":
        candidates = [s for s in options.sources if "flatbed" in s.lower()]
    else:
        candidates = []
    if not candidates:
        raise ValidationError("source", f"scanner offers {', '.join(options.sources)}, not {wanted}",
                              message_vi=f"Máy quét không có nguồn giấy {wanted}.")
    return candidates[0]


def pick_resolution(wanted: int, options: ScannerOptions) -> int:
    if options.resolutions:
        return min(options.resolutions, key=lambda r: (abs(r - wanted), r))
    if options.resolution_range:
        lo, hi = options.resolution_range
        return max(lo, min(hi, wanted))
    return wanted


def sane_env() -> dict[str, str]:
    """The environment scanimage runs in (SANE_CONFIG_DIR passes through)."""
    return dict(os.environ)
