"""An eMRTD card emulator speaking vpcd's socket protocol (as the client of 127.0.0.1:35963).

vpcd frames every message as a 2-byte big-endian length then the bytes; one-byte messages are
controls (0x00 power off, 0x01 power on, 0x02 reset, 0x04 get ATR), longer ones command APDUs.
The card implements SELECT (AID / EF), GET CHALLENGE, EXTERNAL AUTHENTICATE (BAC), optionally
PACE (MSE:Set AT + GENERAL AUTHENTICATE, see pace_card.py), secure messaging with 3DES or AES
and READ BINARY, plus fault switches for the error-path tests.
"""

from __future__ import annotations

import os
import socket
import struct
import threading

from pace_card import PaceCard, build_card_access

from edge.devices.cccd._crypto import (
    TDES,
    pad,
    retail_mac,
    session_keys,
    tdes_cbc_decrypt,
    tdes_cbc_encrypt,
    unpad,
)
from edge.devices.cccd._mrz import MrzKey
from edge.devices.cccd._pace import PASSWORD_CAN, PASSWORD_MRZ, PacePassword
from edge.devices.cccd._tlv import encode, parse_all

AID = bytes.fromhex("A0000002471001")
ATR = bytes.fromhex("3B8880014241434B0000000000")[:12]


class EmrtdCard:
    """The card's logic: one APDU in, one response out."""

    def __init__(self, files: dict[int, bytes], key: MrzKey, *, has_applet: bool = True,
                 card_access: bytes | None = None, pace: list[tuple[str, int]] | None = None,
                 can: str | None = None, bac: bool = True) -> None:
        """``pace``: PACE offers (OID suffix such as "2.2", parameter ID) listed in EF.CardAccess;
        ``can``: the card's CAN; ``bac=False`` makes a PACE-only card."""
        self.files = files
        self.k_enc, self.k_mac = session_keys(key.key_seed())
        self.has_applet = has_applet
        self.bac = bac
        self.card_access = card_access if card_access is not None or not pace else build_card_access(pace)
        passwords = {PASSWORD_MRZ: PacePassword.from_mrz(key).secret}
        if can is not None:
            passwords[PASSWORD_CAN] = PacePassword.from_can(can).secret
        self.pace = PaceCard(pace or [], passwords) if pace else None
        self.access_log: list[str] = []  # "BAC" / "PACE-1" / "PACE-2" per established session
        self.reset()
        # Fault switches, checked on each command (after BAC unless stated):
        self.fault: str | None = None   # "garbage" | "short" | "odd_sw" | "bad_mac" | "truncated_do"
        self.fault_on_ins: int = 0xB0   # the instruction the fault applies to
        self.commands = 0

    def reset(self) -> None:
        self.applet = False
        self.selected: int | None = None
        self.rnd_ic: bytes | None = None
        self.sm: tuple | None = None    # (cipher suite, KS_Enc, KS_MAC) once BAC or PACE succeeded
        self.ssc = 0
        if getattr(self, "pace", None) is not None:
            self.pace.reset()

    # --- plain commands -------------------------------------------------------------------
    def _plain(self, cla: int, ins: int, p1: int, p2: int, data: bytes, le: int | None) -> tuple[bytes, int]:
        if ins == 0xA4 and p1 == 0x04:
            if self.has_applet and data == AID:
                self.applet = True
                return b"", 0x9000
            return b"", 0x6A82
        if ins == 0xA4 and p1 in (0x00, 0x02):
            fid = int.from_bytes(data, "big") if len(data) == 2 else -1
            if fid == 0x011C and self.card_access is not None:
                self.selected = fid
                return b"", 0x9000
            if not self.applet:
                return b"", 0x6A82
            if self.sm is None:
                return b"", 0x6982
            if fid not in self.files:
                return b"", 0x6A82
            self.selected = fid
            return b"", 0x9000
        if ins == 0x22 and p1 == 0xC1 and p2 == 0xA4 and self.pace is not None:
            return b"", self.pace.set_at(data)
        if ins == 0x86 and self.pace is not None:
            out, sw = self.pace.general_authenticate(cla, data)
            if self.pace.established is not None:
                self.sm, self.ssc = self.pace.established, 0
                self.access_log.append(f"PACE-{self.pace.password_ref}")
                self.pace.established = None
            return out, sw
        if ins == 0x84:
            if not self.applet or not self.bac:
                return b"", 0x6985
            self.rnd_ic = os.urandom(8)
            return self.rnd_ic, 0x9000
        if ins == 0x82:
            return self._external_authenticate(data)
        if ins == 0xB0:
            if self.selected is None:
                return b"", 0x6986
            if self.sm is None and self.selected != 0x011C:
                return b"", 0x6982
            content = self.card_access if self.selected == 0x011C else self.files[self.selected]
            offset = ((p1 & 0x7F) << 8) | p2
            if offset > len(content):
                return b"", 0x6B00
            want = 256 if le in (None, 0) else le
            chunk = content[offset:offset + want]
            return chunk, 0x9000 if len(chunk) == want else 0x6282
        return b"", 0x6D00

    def _external_authenticate(self, data: bytes) -> tuple[bytes, int]:
        if self.rnd_ic is None or len(data) != 40:
            return b"", 0x6985
        e_ifd, m_ifd = data[:32], data[32:]
        rnd_ic, self.rnd_ic = self.rnd_ic, None
        if retail_mac(self.k_mac, pad(e_ifd)) != m_ifd:
            return b"", 0x6300
        plain = tdes_cbc_decrypt(self.k_enc, e_ifd)
        rnd_ifd, got_ic, k_ifd = plain[:8], plain[8:16], plain[16:]
        if got_ic != rnd_ic:
            return b"", 0x6300
        k_ic = os.urandom(16)
        e_ic = tdes_cbc_encrypt(self.k_enc, rnd_ic + rnd_ifd + k_ic)
        self.sm = (TDES, *session_keys(bytes(a ^ b for a, b in zip(k_ifd, k_ic, strict=True))))
        self.ssc = int.from_bytes(rnd_ic[4:] + rnd_ifd[4:], "big")
        self.access_log.append("BAC")
        return e_ic + retail_mac(self.k_mac, pad(e_ic)), 0x9000

    # --- secure messaging -----------------------------------------------------------------
    def _next_ssc(self) -> bytes:
        block = self.sm[0].block
        self.ssc = (self.ssc + 1) % (1 << (8 * block))
        return self.ssc.to_bytes(block, "big")

    def _secure(self, apdu: bytes) -> bytes:
        assert self.sm is not None
        suite, ks_enc, ks_mac = self.sm
        block = suite.block
        try:
            objects = parse_all(apdu[5:5 + apdu[4]], what="command")
        except Exception:
            self.sm = None
            return b"\x69\x88"
        by_tag = {o.tag: o for o in objects}
        if 0x8E not in by_tag:
            self.sm = None
            return b"\x69\x87"
        covered = b"".join(o.encoded for o in objects if o.tag in (0x87, 0x97))
        ssc = self._next_ssc()
        if suite.mac(ks_mac, pad(ssc + pad(apdu[:4], block) + covered, block)) != by_tag[0x8E].value:
            self.sm = None
            return b"\x69\x88"
        data = b""
        if 0x87 in by_tag:
            data = unpad(suite.decrypt(ks_enc, by_tag[0x87].value[1:], suite.sm_iv(ks_enc, ssc)), block)
        le = by_tag[0x97].value[0] if 0x97 in by_tag else None
        out, sw = self._plain(apdu[0] & 0xF3, apdu[1], apdu[2], apdu[3], data, le)
        if self.fault == "odd_sw" and apdu[1] == self.fault_on_ins:
            out, sw = b"", 0x6F00
        ssc = self._next_ssc()
        body = b""
        if out:
            body += encode(0x87, b"\x01" + suite.encrypt(ks_enc, pad(out, block), suite.sm_iv(ks_enc, ssc)))
        body += encode(0x99, sw.to_bytes(2, "big"))
        mac = suite.mac(ks_mac, pad(ssc + body, block))
        if self.fault == "bad_mac" and apdu[1] == self.fault_on_ins:
            mac = bytes(8)
        response = body + encode(0x8E, mac) + b"\x90\x00"
        if self.fault == "truncated_do" and apdu[1] == self.fault_on_ins:
            response = response[:3] + b"\x90\x00"
        return response

    def process(self, apdu: bytes) -> bytes:
        self.commands += 1
        if self.fault == "garbage" and len(apdu) > 1 and apdu[1] == self.fault_on_ins:
            return bytes.fromhex("DEADBEEF")
        if self.fault == "short" and len(apdu) > 1 and apdu[1] == self.fault_on_ins:
            return b"\x90"
        if len(apdu) < 4:
            return b"\x67\x00"
        if self.sm is not None and apdu[0] & 0x0C == 0x0C:
            return self._secure(apdu)
        if self.sm is not None:
            self.sm = None  # a plain command ends the secure session
            return b"\x69\x87"
        body = apdu[4:]
        data, le = b"", None
        if len(body) == 1:
            le = body[0]
        elif body:
            data = body[1:1 + body[0]]
            le = body[1 + body[0]] if len(body) > 1 + body[0] else None
        out, sw = self._plain(apdu[0], apdu[1], apdu[2], apdu[3], data, le)
        if self.fault == "odd_sw" and apdu[1] == self.fault_on_ins:
            out, sw = b"", 0x6F00
        return out + sw.to_bytes(2, "big")


class VpcdEmulator:
    """Runs an :class:`EmrtdCard` on a thread as vpcd's client; ``stop()`` pulls the card."""

    def __init__(self, card: EmrtdCard, *, host: str = "127.0.0.1", port: int = 35963,
                 remove_after: int | None = None) -> None:
        self.card = card
        self.address = (host, port)
        self.remove_after = remove_after  # close the socket when this many APDUs arrived
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.error: BaseException | None = None

    def start(self, timeout: float = 10.0) -> VpcdEmulator:
        deadline = timeout
        while True:
            try:
                self._sock = socket.create_connection(self.address, timeout=1.0)
                break
            except OSError:
                deadline -= 0.1
                if deadline <= 0:
                    raise
                self._stop.wait(0.1)
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # one APDU per packet, no Nagle delay
        self._sock.settimeout(0.2)
        self._thread = threading.Thread(target=self._run, name="vpcd-emulator", daemon=True)
        self._thread.start()
        return self

    def _recv(self, n: int) -> bytes | None:
        buf = b""
        while len(buf) < n:
            if self._stop.is_set():
                return None
            try:
                chunk = self._sock.recv(n - len(buf))
            except TimeoutError:
                continue
            except OSError:
                return None
            if not chunk:
                return None
            buf += chunk
        return buf

    def _run(self) -> None:
        apdus = 0
        try:
            while not self._stop.is_set():
                head = self._recv(2)
                if head is None:
                    return
                message = self._recv(struct.unpack(">H", head)[0])
                if message is None:
                    return
                if len(message) == 1:
                    if message[0] == 0x04:
                        answer = ATR
                    else:
                        if message[0] in (0x00, 0x02):
                            self.card.reset()
                        continue
                else:
                    apdus += 1
                    if self.remove_after is not None and apdus > self.remove_after:
                        self._close()
                        return
                    answer = self.card.process(message)
                self._sock.sendall(struct.pack(">H", len(answer)) + answer)
        except BaseException as exc:  # recorded for the test to assert on
            self.error = exc
        finally:
            self._close()

    def _close(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            try:
                sock.close()
            except OSError:
                pass

    @property
    def connected(self) -> bool:
        return self._sock is not None

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._close()
