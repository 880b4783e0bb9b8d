"""PACE (CAN or MRZ) against the emulated card through real pcscd + vpcd + pyscard."""

from __future__ import annotations

import json
from pathlib import Path

import cccd_cardfiles as cardfiles
import pytest
from click.testing import CliRunner
from pace_card import build_card_access

from edge.cli._main import cli
from edge.devices.cccd import (
    AccessDeniedError,
    CanRejectedError,
    CardProtocolError,
    CardRemovedError,
    CccdError,
    MrzKey,
    NotSupportedError,
    PcscTransport,
    read_card,
)
from edge.errors import ValidationError

pytestmark = pytest.mark.pcsc
READER = "Virtual PCD 00 00"
GM_AES_128, GM_AES_256, GM_3DES = "2.2", "2.4", "2.1"
BRAINPOOL_P256, NIST_P256 = 13, 12


def _read(**kwargs):
    with PcscTransport(READER) as transport:
        return read_card(transport, **kwargs)


def _assert_card_content(result):
    assert result.verified is True
    assert result.passive.hashes_ok == {1: True, 13: True}
    assert result.mrz.id_number == cardfiles.ID_NUMBER
    assert result.dg13.named()["full_name"] == "Nguyễn Thị Thu Hằng"
    assert result.to_applicant()["address"] == cardfiles.DG13_VALUES[9]


@pytest.mark.parametrize(("protocol", "param_id", "suite"), [
    (GM_AES_128, BRAINPOOL_P256, "AES-128"),
    (GM_AES_128, NIST_P256, "AES-128"),
    (GM_AES_256, BRAINPOOL_P256, "AES-256"),
    (GM_3DES, NIST_P256, "3DES"),
])
def test_read_with_can_over_pace(insert_card, csca_dir, protocol, param_id, suite):
    emulator = insert_card(pace=[(protocol, param_id)], bac=False)  # PACE-only card
    result = _read(can=cardfiles.CAN, csca_dir=csca_dir)
    assert result.access == "PACE-CAN"
    _assert_card_content(result)
    assert emulator.card.access_log == ["PACE-2"]
    assert emulator.card.sm is not None and emulator.card.sm[0].name == suite  # files came over this SM


def test_mrz_prefers_pace_when_the_card_offers_it(insert_card, mrz_key, csca_dir):
    emulator = insert_card(pace=[(GM_AES_128, BRAINPOOL_P256)], bac=False)
    result = _read(mrz=mrz_key, csca_dir=csca_dir)
    assert result.access == "PACE-MRZ"
    _assert_card_content(result)
    assert emulator.card.access_log == ["PACE-1"]


def test_can_and_mrz_on_a_bac_only_card_use_bac(insert_card, mrz_key, csca_dir):
    emulator = insert_card()
    result = _read(mrz=mrz_key, can=cardfiles.CAN, csca_dir=csca_dir)
    assert result.access == "BAC" and result.verified
    assert emulator.card.access_log == ["BAC"]


def test_first_implemented_offer_is_used(insert_card, csca_dir):
    # Integrated mapping is listed first but not implemented; two GM parameter sets follow, so
    # the card needs the parameter ID in MSE:Set AT to know which one is meant.
    emulator = insert_card(pace=[(GM_AES_128, NIST_P256), (GM_AES_128, BRAINPOOL_P256)],
                           card_access=build_card_access([("4.2", 13), (GM_AES_128, NIST_P256),
                                                          (GM_AES_128, BRAINPOOL_P256)]))
    result = _read(can=cardfiles.CAN, csca_dir=csca_dir)
    assert result.access == "PACE-CAN" and result.verified
    assert emulator.card.pace.state["curve"].name == "NIST256p"


def test_wrong_can_fails_cleanly(insert_card, csca_dir):
    emulator = insert_card(pace=[(GM_AES_128, BRAINPOOL_P256)])
    with pytest.raises(CanRejectedError) as info:
        _read(can="999999", csca_dir=csca_dir)
    assert info.value.message_vi.startswith("Số CAN không đúng")
    assert emulator.card.sm is None and emulator.card.access_log == []


def test_wrong_mrz_over_pace_is_an_mrz_error(insert_card, csca_dir):
    insert_card(pace=[(GM_AES_128, BRAINPOOL_P256)], bac=False)
    with pytest.raises(AccessDeniedError) as info:
        _read(mrz=MrzKey.from_fields(cardfiles.DOC_NUMBER, "900216", cardfiles.EXPIRY), csca_dir=csca_dir)
    assert type(info.value) is AccessDeniedError
    assert info.value.message_vi.startswith("Thông tin MRZ không khớp")


@pytest.mark.parametrize("can", ["12345", "12345a", ""])
def test_malformed_can_is_refused_before_the_card(insert_card, can):
    emulator = insert_card(pace=[(GM_AES_128, BRAINPOOL_P256)])
    with pytest.raises(ValidationError) as info:
        _read(can=can)
    assert info.value.field == "can" and info.value.message_vi
    assert emulator.card.commands == 0


@pytest.mark.parametrize(("fault", "error"), [
    ("nonce", CanRejectedError),        # a tampered nonce cannot be told from a wrong CAN
    ("map_point", CardProtocolError),   # mapping key off the curve
    ("echo", CardProtocolError),        # the card returns the reader's own ephemeral key
    ("token", CardProtocolError),       # the card's token does not verify
    ("tlv", CardProtocolError),         # mapping answer without its 82 object
])
def test_tampered_pace_answers_fail_cleanly(insert_card, fault, error):
    emulator = insert_card(pace=[(GM_AES_128, BRAINPOOL_P256)])
    emulator.card.pace.fault = fault
    with pytest.raises(CccdError) as info:
        _read(can=cardfiles.CAN)
    assert type(info.value) is error, info.value
    assert info.value.message_vi


@pytest.mark.parametrize(("fault", "ins"), [
    ("garbage", 0x86), ("odd_sw", 0x86), ("odd_sw", 0x22),       # during PACE
    ("bad_mac", 0xB0), ("truncated_do", 0xB0), ("odd_sw", 0xB0),  # under AES secure messaging
])
def test_broken_answers_during_and_after_pace(insert_card, fault, ins):
    emulator = insert_card(pace=[(GM_AES_128, BRAINPOOL_P256)])
    emulator.card.fault, emulator.card.fault_on_ins = fault, ins
    with pytest.raises(CardProtocolError) as info:
        _read(can=cardfiles.CAN)
    assert info.value.message_vi


def test_card_refusing_the_parameters_is_not_supported(insert_card):
    # EF.CardAccess promises brainpoolP256r1, the card's PACE only knows P-256.
    insert_card(pace=[(GM_AES_128, NIST_P256)], card_access=build_card_access([(GM_AES_128, BRAINPOOL_P256)]))
    with pytest.raises(NotSupportedError, match="MSE:Set AT"):
        _read(can=cardfiles.CAN)


def test_mrz_falls_back_to_bac_when_pace_parameters_are_refused(insert_card, mrz_key, csca_dir):
    emulator = insert_card(pace=[(GM_AES_128, NIST_P256)], card_access=build_card_access([(GM_AES_128, BRAINPOOL_P256)]))
    result = _read(mrz=mrz_key, csca_dir=csca_dir)
    assert result.access == "BAC" and result.verified
    assert emulator.card.access_log == ["BAC"]


def test_can_on_a_card_with_only_unimplemented_pace(insert_card):
    insert_card(card_access=build_card_access([("4.2", 13), ("6.2", 13)]))
    with pytest.raises(NotSupportedError) as info:
        _read(can=cardfiles.CAN)
    assert "PACE-ECDH-IM-AES-128" in str(info.value) and "PACE-ECDH-CAM-AES-128" in str(info.value)


@pytest.mark.parametrize("after", [4, 6, 7])  # APDUs: 1-3 EF.CardAccess, 4 MSE:Set AT, 5-8 GA
def test_card_pulled_during_pace(insert_card, after):
    emulator = insert_card(pace=[(GM_AES_128, BRAINPOOL_P256)], remove_after=after)
    with pytest.raises(CardRemovedError) as info:
        _read(can=cardfiles.CAN)
    assert "nhấc ra" in info.value.message_vi
    assert emulator.card.commands == after


def test_cli_read_with_can(insert_card, csca_dir, tmp_path: Path):
    insert_card(pace=[(GM_AES_128, BRAINPOOL_P256)], bac=False)
    result = CliRunner().invoke(cli, ["--state-dir", str(tmp_path), "cccd", "read", "--reader", READER,
                                      "--can", cardfiles.CAN, "--csca-dir", str(csca_dir), "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["access"] == "PACE-CAN" and out["verified"] is True
    assert out["applicant"]["id_number"] == cardfiles.ID_NUMBER


def test_cli_read_with_wrong_can(insert_card, tmp_path: Path):
    insert_card(pace=[(GM_AES_128, BRAINPOOL_P256)])
    result = CliRunner().invoke(cli, ["--state-dir", str(tmp_path), "cccd", "read", "--reader", READER,
                                      "--can", "111111", "--json"])
    assert result.exit_code == 2
    out = json.loads(result.output)
    assert out["error"] == "CanRejectedError" and out["message_vi"].startswith("Số CAN không đúng")
