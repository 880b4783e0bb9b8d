"""Command/response APDUs (ISO 7816-4) and the transport they travel over."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

from ._errors import CardProtocolError

logger = logging.getLogger(__name__)

SW_OK = 0x9000
SW_NAMES = {
    0x6282: "end of file reached before Le bytes",
    0x6700: "wrong length",
    0x6882: "secure messaging not supported",
    0x6982: "security status not satisfied",
    0x6983: "authentication method blocked",
    0x6985: "conditions of use not satisfied",
    0x6987: "expected secure messaging data objects missing",
    0x6988: "secure messaging data objects incorrect",
    0x6A80: "incorrect parameters in the data field",
    0x6A82: "file or application not found",
    0x6A86: "incorrect P1 P2",
    0x6B00: "wrong parameters (offset outside the file)",
    0x6D00: "instruction not supported",
    0x6E00: "class not supported",
    0x6F00: "no precise diagnosis",
}


class Transport(Protocol):
    """Sends one command APDU and returns the raw response (data + SW1 SW2)."""

    def transmit(self, apdu: bytes) -> bytes: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class Response:
    data: bytes
    sw: int

    @property
    def ok(self) -> bool:
        return self.sw == SW_OK


def sw_text(sw: int) -> str:
    return f"{sw:04X} ({SW_NAMES.get(sw, 'unknown status')})"


def command(cla: int, ins: int, p1: int, p2: int, data: bytes = b"", le: int | None = None) -> bytes:
    """Encode a short APDU (cases 1-4). ``le=0`` means 256 (all available)."""
    if len(data) > 255:
        raise ValueError("extended-length APDUs are not used here")
    out = bytes([cla, ins, p1, p2])
    if data:
        out += bytes([len(data)]) + data
    if le is not None:
        out += bytes([le & 0xFF])
    return out


def split_response(raw: bytes) -> Response:
    """Split a raw answer into data and status word; reject answers shorter than a SW."""
    if not isinstance(raw, bytes | bytearray) or len(raw) < 2:
        raise CardProtocolError(f"answer of {len(raw) if raw is not None else 0} bytes carries no status word")
    sw = (raw[-2] << 8) | raw[-1]
    if raw[-2] not in (0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6A, 0x6B, 0x6C, 0x6D, 0x6E, 0x6F, 0x90):
        raise CardProtocolError(f"answer ends with an invalid status word {sw:04X}", sw=sw)
    return Response(data=bytes(raw[:-2]), sw=sw)


def transmit(transport: Transport, apdu: bytes) -> Response:
    """Send a plain APDU; follow 61xx (GET RESPONSE) and 6Cxx (retry with Le) once each."""
    response = split_response(transport.transmit(apdu))
    if response.sw >> 8 == 0x6C and len(apdu) >= 5:
        apdu = apdu[:-1] + bytes([response.sw & 0xFF])
        response = split_response(transport.transmit(apdu))
    data = response.data
    rounds = 0
    while response.sw >> 8 == 0x61:
        rounds += 1
        if rounds > 64:
            raise CardProtocolError("card keeps answering 61xx", sw=response.sw)
        response = split_response(transport.transmit(command(apdu[0] & 0xF0, 0xC0, 0, 0, le=response.sw & 0xFF)))
        data += response.data
    logger.debug("APDU INS=%02X -> SW=%04X, %d bytes", apdu[1], response.sw, len(data))
    return Response(data=data, sw=response.sw)
