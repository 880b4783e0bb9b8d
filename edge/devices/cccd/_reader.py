"""The card reader: PC/SC through pyscard, card events, and a whole read with verification."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._dg import Dg13, Mrz, parse_dg1, parse_dg13, vn_date
from ._emrtd import FID, EmrtdSession, FileNotFound
from ._errors import (
    CardProtocolError,
    CardRemovedError,
    CccdError,
    NoCardError,
    NoReaderError,
    NotSupportedError,
)
from ._mrz import MrzKey, validate_can
from ._pace import PacePassword, choose, parse_card_access
from ._sod import PassiveAuthResult, load_csca_dir, parse_sod, passive_authentication

logger = logging.getLogger(__name__)

_PCSC_PRESENT = 0x0004  # SCARD_PRESENT in pcsclite.h (SCardStatus state bits)


def list_readers() -> list[str]:
    """Names of the PC/SC readers; raise NoReaderError when pcscd cannot be reached."""
    from smartcard.Exceptions import SmartcardException
    from smartcard.pcsc.PCSCExceptions import BaseSCardException
    from smartcard.System import readers

    try:
        return [str(r) for r in readers()]
    except (SmartcardException, BaseSCardException) as exc:
        raise NoReaderError(f"PC/SC service unavailable: {exc}") from None


class PcscTransport:
    """One connection to the card in a PC/SC reader; errors become CCCD errors."""

    def __init__(self, reader: str | None = None) -> None:
        from smartcard.Exceptions import (
            CardConnectionException,
            NoCardException,
            SmartcardException,
        )
        from smartcard.pcsc.PCSCExceptions import BaseSCardException
        from smartcard.System import readers

        try:
            available = readers()
        except (SmartcardException, BaseSCardException) as exc:
            raise NoReaderError(f"PC/SC service unavailable: {exc}") from None
        if not available:
            raise NoReaderError("no PC/SC reader is connected")
        chosen = next((r for r in available if reader is None or str(r) == reader or str(r).startswith(reader)), None)
        if chosen is None:
            raise NoReaderError(f"reader {reader!r} not found")
        self.reader = str(chosen)
        self._connection = chosen.createConnection()
        try:
            self._connection.connect()
        except NoCardException:
            raise NoCardError(f"no card in reader {self.reader}") from None
        except (CardConnectionException, SmartcardException) as exc:
            raise NoCardError(f"cannot connect to the card in {self.reader}: {exc}") from None
        self._errors = (CardConnectionException, SmartcardException, BaseSCardException)

    @property
    def atr(self) -> bytes:
        return bytes(self._connection.getATR() or b"")

    def transmit(self, apdu: bytes) -> bytes:
        try:
            data, sw1, sw2 = self._connection.transmit(list(apdu))
        except self._errors as exc:
            if getattr(exc, "hresult", None) == 0 and self._card_present():
                # The transfer worked but the card's answer was shorter than a status word.
                logger.info("card answer without a status word on %s", self.reader)
                raise CardProtocolError(f"the card's answer carries no status word: {exc}") from None
            logger.info("card transmit failed on %s: %s", self.reader, type(exc).__name__)
            raise CardRemovedError(f"card connection lost: {exc}") from None
        return bytes(data) + bytes([sw1 & 0xFF, sw2 & 0xFF])

    def _card_present(self) -> bool:
        """Ask PC/SC whether the card is still there (a pulled card also yields empty answers)."""
        from smartcard.scard import SCARD_S_SUCCESS, SCardStatus

        try:
            rc, _name, state, _protocol, _atr = SCardStatus(self._connection.hcard)
        except (self._errors + (AttributeError, TypeError)):
            return False
        return rc == SCARD_S_SUCCESS and bool(state & _PCSC_PRESENT)

    def close(self) -> None:
        for step in (self._connection.disconnect, getattr(self._connection, "release", None)):
            if step is None:
                continue
            try:
                step()
            except self._errors:
                pass

    def __enter__(self) -> PcscTransport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(frozen=True, slots=True, kw_only=True)
class CardEvent:
    kind: str      # "inserted" | "removed" | "reader_added" | "reader_removed"
    reader: str
    atr: str = ""  # hex; an ATR identifies the card model, not the citizen


class CardEvents:
    """Reader and card events (reader_added/removed, inserted/removed) by polling PC/SC.

    A thread of its own with its own PC/SC context; survives pcscd restarts (readers then
    count as removed until pcscd is back). ``close()`` stops the thread and frees the context.
    """

    def __init__(self, *, poll_seconds: float = 0.3) -> None:
        self._poll = poll_seconds
        self._callbacks: list[Callable[[CardEvent], None]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cccd-card-events", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        from smartcard import scard

        context = None
        known: dict[str, tuple[bool, str]] = {}  # reader -> (card present, ATR hex)
        try:
            while not self._stop.is_set():
                if context is None:
                    rc, ctx = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
                    context = ctx if rc == scard.SCARD_S_SUCCESS else None
                now: dict[str, tuple[bool, str]] = {}
                if context is not None:
                    rc, names = scard.SCardListReaders(context, [])
                    if rc == scard.SCARD_E_NO_SERVICE:
                        scard.SCardReleaseContext(context)
                        context = None
                    elif rc == scard.SCARD_S_SUCCESS and names:
                        rc, states = scard.SCardGetStatusChange(context, 0, [(n, scard.SCARD_STATE_UNAWARE) for n in names])
                        if rc == scard.SCARD_S_SUCCESS:
                            for name, state, atr in states:
                                present = bool(state & scard.SCARD_STATE_PRESENT)
                                now[name] = (present, bytes(atr or b"").hex() if present else "")
                self._diff(known, now)
                known = now
                self._stop.wait(self._poll)
        finally:
            if context is not None:
                scard.SCardReleaseContext(context)

    def _diff(self, before: dict[str, tuple[bool, str]], now: dict[str, tuple[bool, str]]) -> None:
        for name in now.keys() - before.keys():
            self._emit(CardEvent(kind="reader_added", reader=name))
        for name in sorted(before.keys() | now.keys()):
            was, is_ = before.get(name, (False, ""))[0], now.get(name, (False, ""))[0]
            if is_ and not was:
                self._emit(CardEvent(kind="inserted", reader=name, atr=now[name][1]))
            elif was and not is_:
                self._emit(CardEvent(kind="removed", reader=name))
        for name in before.keys() - now.keys():
            self._emit(CardEvent(kind="reader_removed", reader=name))

    def _emit(self, event: CardEvent) -> None:
        logger.debug("card event %s on %s", event.kind, event.reader)
        for callback in list(self._callbacks):
            try:
                callback(event)
            except Exception:  # one subscriber failing must not silence the others
                logger.exception("card event subscriber failed")

    def subscribe(self, callback: Callable[[CardEvent], None]) -> Callable[[], None]:
        self._callbacks.append(callback)
        return lambda: self._callbacks.remove(callback) if callback in self._callbacks else None

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


@dataclass(frozen=True, slots=True, kw_only=True)
class CardReadResult:
    """What a chip read produced; ``passive.verified`` tells whether it can be trusted."""

    mrz: Mrz
    dg13: Dg13 | None
    passive: PassiveAuthResult
    groups_read: tuple[int, ...]
    face_jpeg: bytes | None = field(default=None, repr=False)  # in memory only, never written
    access: str = "BAC"  # "BAC" | "PACE-CAN" | "PACE-MRZ"

    @property
    def verified(self) -> bool:
        return self.passive.verified

    def fields(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "document_number": self.mrz.document_number, "mrz_date_of_birth": self.mrz.date_of_birth,
            "mrz_date_of_expiry": self.mrz.date_of_expiry, "mrz_sex": self.mrz.sex,
            "mrz_names": self.mrz.names, "mrz_checks_ok": self.mrz.checks_ok,
        }
        if self.dg13 is not None:
            out.update(self.dg13.named())
        return out

    def to_applicant(self) -> dict[str, str]:
        """The store's Applicant keys, from DG13 (falling back to the MRZ)."""
        named = self.dg13.named() if self.dg13 is not None else {}
        gender = str(named.get("gender", "")) or {"M": "Nam", "F": "Nữ"}.get(self.mrz.sex, "")
        return {
            "full_name": str(named.get("full_name", "")) or self.mrz.names,
            "id_number": str(named.get("id_number", "")) or self.mrz.id_number,
            "date_of_birth": vn_date(str(named.get("date_of_birth", ""))),
            "gender": gender,
            "address": str(named.get("place_of_residence", "")),
            "old_id_number": str(named.get("old_id_number", "")),
        }

    def to_dict(self) -> dict[str, Any]:
        return {"fields": self.fields(), "applicant": self.to_applicant(),
                "groups_read": list(self.groups_read), "verification": self.passive.to_dict(),
                "verified": self.verified, "face_bytes": len(self.face_jpeg or b""), "access": self.access}


def read_card(transport: Any, *, mrz: MrzKey | None = None, can: str | None = None,
              csca_dir: str | Path | None = None, old_id_field: int = 15,
              read_face: bool = False, now: dt.datetime | None = None) -> CardReadResult:
    """Authenticate, read DG1 + DG13 (+ DG2), run passive authentication. Never trusts the card.

    ``now`` (aware) is the time the certificates must be valid at: the box's corrected clock
    (``Store.now()``); without it, the system clock.

    Access: with a CAN, PACE (the card must offer it); with MRZ data, PACE with the MRZ when the
    card offers it, else BAC. With both, the CAN is tried when the card offers PACE.
    """
    if mrz is None and can is None:
        raise CccdError("give the MRZ data or the CAN", message_vi="Hãy nhập thông tin MRZ hoặc mã CAN.")
    if can is not None:
        can = validate_can(can)
    session = EmrtdSession(transport)
    access = open_session(session, mrz=mrz, can=can)
    groups: dict[int, bytes] = {1: session.read_file(FID["DG1"])}
    try:
        groups[13] = session.read_file(FID["DG13"])
    except FileNotFound:
        logger.info("card has no DG13")
    face = None
    if read_face:
        try:
            face = session.read_file(FID["DG2"])
            groups[2] = face
        except FileNotFound:
            logger.info("card has no DG2")
    sod = parse_sod(session.read_file(FID["SOD"]))
    mrz_data = parse_dg1(groups[1])
    dg13 = parse_dg13(groups[13], old_id_field=old_id_field) if 13 in groups else None
    passive = passive_authentication(sod, groups, load_csca_dir(csca_dir), now=now)
    return CardReadResult(mrz=mrz_data, dg13=dg13, passive=passive, groups_read=tuple(sorted(groups)),
                          face_jpeg=face, access=access)


def open_session(session: EmrtdSession, *, mrz: MrzKey | None, can: str | None) -> str:
    """Read EF.CardAccess, run PACE or BAC, select the eMRTD application; name the access used."""
    try:
        card_access = session.read_card_access()
        offered = parse_card_access(card_access) if card_access is not None else []
    except CardProtocolError:
        if mrz is None:
            raise
        logger.warning("EF.CardAccess unreadable; falling back to BAC", exc_info=True)
        offered = []
    chosen = choose(offered)
    if chosen is not None:
        password = PacePassword.from_can(can) if can is not None else PacePassword.from_mrz(mrz)
        try:
            session.authenticate_pace(password, chosen)
        except NotSupportedError:
            if mrz is None:
                raise
            logger.info("card refused the PACE parameters it lists; falling back to BAC")
        else:
            session.select_applet()
            return f"PACE-{'CAN' if can is not None else 'MRZ'}"
    if mrz is None:
        session.select_applet()  # an unknown card says so before the CAN question comes up
        if offered:
            names = ", ".join(sorted({f"{i.name} (parameter ID {i.parameter_id})" for i in offered}))
            raise NotSupportedError(f"the card offers {names}; none of these PACE variants is implemented, "
                                    "use the MRZ data (BAC)")
        raise NotSupportedError("the card offers no PACE (no EF.CardAccess); a CAN cannot open it, use the MRZ data (BAC)",
                                message_vi="Thẻ không hỗ trợ mở bằng mã CAN. Hãy nhập thông tin MRZ "
                                           "(số giấy tờ, ngày sinh, ngày hết hạn).")
    if offered:
        logger.info("card offers only unimplemented PACE variants; using BAC")
    session.select_applet()
    session.authenticate_bac(mrz)
    return "BAC"
