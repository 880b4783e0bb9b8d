"""Fixtures for the CCCD tests: a real pcscd with vpcd, and an eMRTD emulator per test."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import cccd_cardfiles as cardfiles
import pcsc_stack
from emrtd_emulator import EmrtdCard, VpcdEmulator

from edge.devices.cccd import MrzKey


@pytest.fixture(scope="session")
def pcscd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[pcsc_stack.PcscStack]:
    reason = pcsc_stack.missing_reason()
    if reason:
        pytest.skip(reason)
    stack = pcsc_stack.PcscStack(tmp_path_factory.mktemp("pcscd") / "pcscd.log").start()
    yield stack
    stack.stop()


@pytest.fixture(scope="session")
def pki() -> cardfiles.Pki:
    return cardfiles.make_pki()


@pytest.fixture(scope="session")
def csca_dir(pki: cardfiles.Pki, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("csca")
    (folder / "vn-test-csca.pem").write_bytes(pki.csca_pem())
    (folder / "README.txt").write_text("not a certificate")  # skipped, not fatal
    return folder


@pytest.fixture
def mrz_key() -> MrzKey:
    return MrzKey.from_fields(cardfiles.ID_NUMBER, cardfiles.DOB, cardfiles.EXPIRY)


@pytest.fixture
def insert_card(pcscd, pki, mrz_key) -> Iterator[Callable[..., VpcdEmulator]]:
    """insert_card(files=None, remove_after=None, **card_options) puts an emulated card on vpcd.

    Without ``pace=[(oid suffix, parameter ID), ...]`` the card is BAC-only; with it, the card
    lists those PACE variants in EF.CardAccess and knows the CAN cardfiles.CAN.
    """
    started: list[VpcdEmulator] = []

    def insert(files: dict[int, bytes] | None = None, *, remove_after: int | None = None, **options) -> VpcdEmulator:
        options.setdefault("can", cardfiles.CAN)
        card = EmrtdCard(files if files is not None else cardfiles.card_files(pki), mrz_key, **options)
        emulator = VpcdEmulator(card, remove_after=remove_after).start()
        started.append(emulator)
        pcsc_stack.wait_for_card(True)
        return emulator

    yield insert
    for emulator in started:
        emulator.stop()
    if started:
        pcsc_stack.wait_for_card(False)
    if any(e.remove_after is not None for e in started):
        # A card pulled mid-command is marked absent by SCardDisconnect before pcscd's event
        # thread (polling every 0.4 s) sees it go: leave the slot empty for a few polls so the
        # next card is reported as a new insertion.
        time.sleep(1.2)
    for emulator in started:
        assert emulator.error is None, f"emulator crashed: {emulator.error!r}"
