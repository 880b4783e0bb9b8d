"""Reading an emulated CCCD chip through real pcscd + vpcd + pyscard."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import cccd_cardfiles as cardfiles
import pytest
from click.testing import CliRunner

from core.vntime import VN_TZ
from edge.cli._main import cli
from edge.devices.cccd import (
    AccessDeniedError,
    CardEvents,
    CardProtocolError,
    CardRemovedError,
    CccdError,
    MrzKey,
    NoReaderError,
    NotSupportedError,
    PcscTransport,
    UnknownCardError,
    read_card,
)

pytestmark = pytest.mark.pcsc
READER = "Virtual PCD 00 00"


def _read(mrz_key, csca_dir=None, **kwargs):
    with PcscTransport(READER) as transport:
        return read_card(transport, mrz=mrz_key, csca_dir=csca_dir, **kwargs)


def test_read_and_verify_through_pcsc(insert_card, mrz_key, csca_dir):
    insert_card()
    result = _read(mrz_key, csca_dir)
    assert result.verified is True
    assert result.passive.hashes_ok == {1: True, 13: True}
    assert result.passive.signature_ok and result.passive.chain_ok
    assert result.mrz.document_number == cardfiles.DOC_NUMBER and result.mrz.checks_ok
    assert result.mrz.id_number == cardfiles.ID_NUMBER
    named = result.dg13.named()
    assert named["full_name"] == "Nguyễn Thị Thu Hằng"
    assert named["place_of_residence"] == cardfiles.DG13_VALUES[9]
    assert named["father_name"] == "Nguyễn Văn Đức" and named["mother_name"] == "Trần Thị Mỹ"
    assert result.to_applicant() == {
        "full_name": "Nguyễn Thị Thu Hằng", "id_number": cardfiles.ID_NUMBER, "date_of_birth": "1990-02-15",
        "gender": "Nữ", "address": cardfiles.DG13_VALUES[9], "old_id_number": "023456789",
    }


def test_old_id_field_is_configurable(insert_card, pki, mrz_key, csca_dir):
    values = dict(cardfiles.DG13_VALUES)
    values[15], values[16] = "", "034567890"
    insert_card(cardfiles.card_files(pki, dg13=cardfiles.build_dg13(values)))
    assert _read(mrz_key, csca_dir, old_id_field=16).to_applicant()["old_id_number"] == "034567890"


def test_wrong_mrz_fails_cleanly(insert_card, csca_dir):
    emulator = insert_card()
    with pytest.raises(AccessDeniedError) as info:
        _read(MrzKey.from_fields(cardfiles.DOC_NUMBER, "900216", cardfiles.EXPIRY), csca_dir)
    assert info.value.message_vi.startswith("Thông tin MRZ không khớp")
    assert emulator.card.sm is None


def test_sod_from_another_csca_is_flagged_but_data_kept(insert_card, mrz_key, csca_dir):
    insert_card(cardfiles.card_files(cardfiles.make_pki("Test CSCA VN")))  # same name, other key
    result = _read(mrz_key, csca_dir)
    assert result.verified is False
    assert result.passive.signature_ok is True and result.passive.chain_ok is False
    assert "CSCA" in result.passive.reason
    assert result.dg13.named()["full_name"] == "Nguyễn Thị Thu Hằng"


@pytest.mark.parametrize(("sod_options", "words"), [
    ({"empty_attribute": "content_type"}, "content type attribute has 0 values"),
    ({"empty_attribute": "message_digest"}, "message digest attribute has 0 values"),
    ({"certificate": "unknown-key"}, "unsupported algorithm"),
])
def test_crafted_sod_is_unverified_not_a_crash(insert_card, pki, mrz_key, csca_dir, sod_options, words):
    if sod_options.get("certificate") == "unknown-key":
        sod_options = {"certificate": cardfiles.unknown_key_certificate(pki)}
    insert_card(cardfiles.card_files(pki, **sod_options))
    result = _read(mrz_key, csca_dir)
    assert result.verified is False and result.passive.signature_ok is False
    assert words in result.passive.reason and result.passive.reason_vi
    assert result.dg13.named()["full_name"] == "Nguyễn Thị Thu Hằng"  # shown, marked unverified


def test_garbled_sod_is_a_card_protocol_error(insert_card, pki, mrz_key, csca_dir):
    files = cardfiles.card_files(pki)
    files[0x011D] = cardfiles.encode(0x77, b"\x30\x03\x06\x01\x00")  # a CMS that is not one
    insert_card(files)
    with pytest.raises(CardProtocolError) as info:
        _read(mrz_key, csca_dir)
    assert "EF.SOD" in str(info.value) and info.value.message_vi


def test_expired_document_signer_is_shown_as_expired(insert_card, mrz_key, csca_dir, tmp_path):
    old = cardfiles.make_pki("Old CSCA VN", ds_days=(-900, -20))
    folder = tmp_path / "csca"
    folder.mkdir()
    (folder / "old.pem").write_bytes(old.csca_pem())
    insert_card(cardfiles.card_files(old))
    result = _read(mrz_key, folder)
    assert result.passive.signature_ok and result.passive.chain_ok
    assert result.verified is False and result.passive.expired is True
    assert "Document Signer certificate expired" in result.passive.reason
    assert "hết hạn" in result.passive.reason_vi
    assert result.to_dict()["verification"]["expired"] is True
    assert result.dg13.named()["full_name"] == "Nguyễn Thị Thu Hằng"


def test_certificate_dates_follow_the_corrected_clock(insert_card, mrz_key, csca_dir):
    import datetime as dt

    insert_card()
    in_2040 = dt.datetime(2040, 1, 1, tzinfo=VN_TZ)
    result = _read(mrz_key, csca_dir, now=in_2040)
    assert result.verified is False and result.passive.expired is True


def test_no_csca_configured_means_unverified(insert_card, mrz_key):
    insert_card()
    result = _read(mrz_key, None)
    assert result.verified is False and result.passive.chain_ok is False


def test_tampered_dg13_is_flagged(insert_card, pki, mrz_key, csca_dir):
    values = dict(cardfiles.DG13_VALUES)
    values[2] = "Lê Văn Giả"
    insert_card(cardfiles.card_files(pki, dg13=cardfiles.build_dg13(values), sign_dg13=cardfiles.build_dg13()))
    result = _read(mrz_key, csca_dir)
    assert result.verified is False
    assert result.passive.hashes_ok == {1: True, 13: False}
    assert "DG13" in result.passive.reason
    assert result.passive.reason_vi
    assert result.dg13.named()["full_name"] == "Lê Văn Giả"  # shown, marked unverified


@pytest.mark.parametrize("after", [3, 6, 9])
def test_card_removed_mid_read(insert_card, mrz_key, csca_dir, after):
    insert_card(remove_after=after)
    with pytest.raises(CardRemovedError) as info:
        _read(mrz_key, csca_dir)
    assert "nhấc ra" in info.value.message_vi


def test_unknown_card(insert_card, mrz_key):
    insert_card(has_applet=False)
    with pytest.raises(UnknownCardError):
        _read(mrz_key)


@pytest.mark.parametrize(("fault", "ins"), [
    ("garbage", 0xB0), ("short", 0xB0), ("odd_sw", 0xB0), ("bad_mac", 0xB0), ("truncated_do", 0xB0),
    ("garbage", 0x84), ("odd_sw", 0x84), ("short", 0x82), ("odd_sw", 0xA4), ("bad_mac", 0xA4),
])
def test_broken_answers_and_odd_status_words(insert_card, mrz_key, fault, ins):
    emulator = insert_card()
    emulator.card.fault, emulator.card.fault_on_ins = fault, ins
    with pytest.raises(CccdError) as info:
        _read(mrz_key)
    if fault == "short":
        # vpcd drops the card when it answers less than a status word: PC/SC then reports the
        # card gone, which is what the reader must say too.
        assert isinstance(info.value, CardProtocolError | CardRemovedError)
    else:
        assert isinstance(info.value, CardProtocolError | UnknownCardError)
    assert info.value.message_vi


def test_can_without_pace_is_refused_precisely(insert_card):
    insert_card()
    with PcscTransport(READER) as transport, pytest.raises(NotSupportedError) as info:
        read_card(transport, can="001234")
    assert "no PACE" in str(info.value)


def test_can_on_a_card_with_explicit_pace_parameters_is_not_supported(insert_card):
    # A PACEInfo without a standardized parameter ID (explicit domain parameters) is not implemented.
    from asn1crypto import core

    oid = core.ObjectIdentifier("0.4.0.127.0.7.2.2.4.2.2").dump() + core.Integer(2).dump()
    info_ = bytes([0x30, len(oid)]) + oid
    insert_card(card_access=bytes([0x31, len(info_)]) + info_)
    with PcscTransport(READER) as transport, pytest.raises(NotSupportedError) as info:
        read_card(transport, can="001234")
    assert "PACE-ECDH-GM-AES-128" in str(info.value)


def test_unknown_reader_name(pcscd):
    with pytest.raises(NoReaderError):
        PcscTransport("No Such Reader")


def test_no_pcsc_service(tmp_path):
    env = dict(os.environ, PCSCLITE_CSOCK_NAME=str(tmp_path / "absent.comm"))
    proc = subprocess.run([sys.executable, "-c", "from edge.cli import main; main()", "cccd", "readers", "--json"],
                          env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, proc.stderr
    out = json.loads(proc.stdout)
    assert out["error"] == "NoReaderError" and out["message_vi"]


def test_card_events(pcscd, insert_card):
    events = CardEvents()
    seen: list = []
    inserted, removed = threading.Event(), threading.Event()

    def on_event(event):
        if event.reader != READER or event.kind.startswith("reader_"):
            return
        seen.append(event)
        (inserted if event.kind == "inserted" else removed).set()

    unsubscribe = events.subscribe(on_event)
    try:
        emulator = insert_card()
        assert inserted.wait(15), seen
        emulator.stop()
        assert removed.wait(15), seen
    finally:
        unsubscribe()
        events.close()
    assert [e.kind for e in seen][:2] == ["inserted", "removed"]
    assert seen[0].reader == READER


def test_cli_read_json(insert_card, csca_dir, tmp_path: Path):
    insert_card()
    result = CliRunner().invoke(cli, ["--state-dir", str(tmp_path), "cccd", "read", "--reader", READER,
                                      "--mrz-doc", cardfiles.ID_NUMBER, "--mrz-dob", cardfiles.DOB,
                                      "--mrz-expiry", cardfiles.EXPIRY, "--csca-dir", str(csca_dir), "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["verified"] is True and out["applicant"]["full_name"] == "Nguyễn Thị Thu Hằng"


def test_cli_read_wrong_mrz(insert_card, tmp_path: Path):
    insert_card()
    result = CliRunner().invoke(cli, ["--state-dir", str(tmp_path), "cccd", "read", "--reader", READER,
                                      "--mrz-doc", cardfiles.DOC_NUMBER, "--mrz-dob", "010101",
                                      "--mrz-expiry", cardfiles.EXPIRY, "--json"])
    assert result.exit_code == 2
    out = json.loads(result.output)
    assert out["error"] == "AccessDeniedError" and "MRZ" in out["message_vi"]
