"""The eMRTD application: EF.CardAccess, PACE or BAC, file selection and chunked READ BINARY."""

from __future__ import annotations

import logging

from . import _tlv
from ._apdu import Transport, command, sw_text, transmit
from ._bac import perform_bac
from ._errors import CardProtocolError, UnknownCardError
from ._mrz import MrzKey
from ._pace import PaceInfo, PacePassword, perform_pace
from ._sm import SecureTransport

logger = logging.getLogger(__name__)

EMRTD_AID = bytes.fromhex("A0000002471001")
# File identifiers inside the eMRTD application (ICAO 9303-10).
FID = {"COM": 0x011E, "DG1": 0x0101, "DG2": 0x0102, "DG13": 0x010D, "DG14": 0x010E,
       "DG15": 0x010F, "SOD": 0x011D, "CardAccess": 0x011C}
CHUNK = 0xDF        # fits DO87 + DO99 + DO8E into a short response under 3DES SM
MAX_FILE = 0x7FFF   # READ BINARY with a 15-bit offset; eMRTD files read here stay below this


class FileNotFound(CardProtocolError):
    """The card has no such elementary file."""


class EmrtdSession:
    """One card session: plain until :meth:`authenticate_bac` or :meth:`authenticate_pace`, protected after.

    Order of a read: EF.CardAccess (in the master file), then either PACE followed by SELECT of
    the eMRTD application under secure messaging, or SELECT followed by BAC.
    """

    def __init__(self, transport: Transport) -> None:
        self.transport = transport
        self.secure: SecureTransport | None = None

    def read_card_access(self) -> bytes | None:
        """EF.CardAccess from the master file, or None when the card has none (BAC-only card)."""
        answer = transmit(self.transport, command(0x00, 0xA4, 0x02, 0x0C, FID["CardAccess"].to_bytes(2, "big")))
        if not answer.ok:
            logger.debug("no EF.CardAccess: SELECT answered %s", sw_text(answer.sw))
            return None
        try:
            return self.read_file(FID["CardAccess"], selected=True)
        except FileNotFound:
            return None

    def select_applet(self) -> None:
        answer = self._send(command(0x00, 0xA4, 0x04, 0x0C, EMRTD_AID))
        if answer.sw in (0x6A82, 0x6A86, 0x6D00, 0x6E00, 0x6999):
            raise UnknownCardError(f"SELECT eMRTD application answered {sw_text(answer.sw)}")
        if not answer.ok:
            raise CardProtocolError(f"SELECT eMRTD application answered {sw_text(answer.sw)}", sw=answer.sw)

    def authenticate_bac(self, key: MrzKey) -> None:
        self.secure = SecureTransport(self.transport, perform_bac(self.transport, key))

    def authenticate_pace(self, password: PacePassword, info: PaceInfo, **options) -> None:
        self.secure = SecureTransport(self.transport, perform_pace(self.transport, password, info, **options))

    def _send(self, apdu: bytes):
        if self.secure is not None:
            return self.secure.send(apdu)
        return transmit(self.transport, apdu)

    def select_file(self, fid: int) -> None:
        answer = self._send(command(0x00, 0xA4, 0x02, 0x0C, fid.to_bytes(2, "big")))
        if answer.sw == 0x6A82:
            raise FileNotFound(f"file {fid:04X} not found", sw=answer.sw)
        if not answer.ok:
            raise CardProtocolError(f"SELECT file {fid:04X} answered {sw_text(answer.sw)}", sw=answer.sw)

    def _read(self, offset: int, length: int) -> bytes:
        answer = self._send(command(0x00, 0xB0, (offset >> 8) & 0x7F, offset & 0xFF, le=length))
        if answer.sw == 0x6282 and answer.data:
            return answer.data
        if not answer.ok:
            raise CardProtocolError(f"READ BINARY at {offset} answered {sw_text(answer.sw)}", sw=answer.sw)
        if not answer.data:
            raise CardProtocolError(f"READ BINARY at {offset} returned no data")
        if len(answer.data) > length:
            raise CardProtocolError(f"READ BINARY returned {len(answer.data)} bytes for {length} asked")
        return answer.data

    def read_file(self, fid: int, *, selected: bool = False) -> bytes:
        """Select ``fid`` and read it whole: the length comes from its outer TLV header."""
        if not selected:
            self.select_file(fid)
        data = self._read(0, 4)
        total = _tlv.length_of_header(data)
        if total is None or total < 2:
            raise CardProtocolError(f"file {fid:04X} starts with a malformed TLV header")
        if total > MAX_FILE:
            raise CardProtocolError(f"file {fid:04X} announces {total} bytes, more than {MAX_FILE}")
        data = data[:total]
        while len(data) < total:
            data += self._read(len(data), min(CHUNK, total - len(data)))
        logger.debug("read file %04X: %d bytes", fid, len(data))
        return data
