"""Passive authentication on crafted EF.SODs, without a reader: every failure of the card's
security object is a CardProtocolError or an unverified verdict with a reason, never another
exception; certificate validity is checked against the clock the caller passes."""

from __future__ import annotations

import datetime as dt

import cccd_cardfiles as cardfiles
import pytest
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import serialization
from hypothesis import event, given
from hypothesis import strategies as st

from core.vntime import VN_TZ
from edge.devices.cccd import (
    CardProtocolError,
    PassiveAuthResult,
    _tlv,
    parse_sod,
    passive_authentication,
)

DG1, DG13 = cardfiles.build_dg1(), cardfiles.build_dg13()
GROUPS = {1: DG1, 13: DG13}


@pytest.fixture(scope="module")
def pki():
    return cardfiles.make_pki()


def _check(sod_bytes: bytes, pki, **kwargs) -> PassiveAuthResult:
    return passive_authentication(parse_sod(sod_bytes), GROUPS, [pki.csca_cert], **kwargs)


def test_a_good_sod_verifies(pki):
    result = _check(cardfiles.build_sod(GROUPS, pki), pki)
    assert result.verified and result.dates_ok and not result.expired


@pytest.mark.parametrize("attribute", ["content_type", "message_digest"])
def test_a_signed_attribute_without_value_is_unverified(pki, attribute):
    result = _check(cardfiles.build_sod(GROUPS, pki, empty_attribute=attribute), pki)
    assert result.verified is False and result.signature_ok is False
    assert attribute.replace("_", " ") in result.reason and result.reason_vi


def test_a_document_signer_key_of_unknown_algorithm_is_unverified(pki):
    sod = cardfiles.build_sod(GROUPS, pki, certificate=cardfiles.unknown_key_certificate(pki))
    result = _check(sod, pki)
    assert result.verified is False and result.signature_ok is False
    assert "key" in result.reason and result.reason_vi


def test_a_document_signer_of_unknown_x509_version_is_unverified(pki):
    """cryptography raises x509.InvalidVersion (not a ValueError) for a version outside v1-v3."""
    cert = asn1_x509.Certificate.load(pki.ds_cert.public_bytes(serialization.Encoding.DER))
    der = cert.dump()
    assert b"\xa0\x03\x02\x01\x02" in der  # [0] EXPLICIT INTEGER 2 (v3)
    crafted = asn1_x509.Certificate.load(der.replace(b"\xa0\x03\x02\x01\x02", b"\xa0\x03\x02\x01\x07", 1))
    result = _check(cardfiles.build_sod(GROUPS, pki, certificate=crafted), pki)
    assert result.verified is False and result.signature_ok is False
    assert result.reason and result.reason_vi


def test_an_expired_document_signer_is_marked_expired(pki):
    old = cardfiles.make_pki(ds_days=(-800, -30))
    result = passive_authentication(parse_sod(cardfiles.build_sod(GROUPS, old)), GROUPS, [old.csca_cert])
    assert result.signature_ok and result.chain_ok and result.hashes_ok == {1: True, 13: True}
    assert result.verified is False and result.expired is True and result.dates_ok is False
    assert "expired" in result.reason
    assert "hết hạn" in result.reason_vi
    assert result.to_dict()["expired"] is True


def test_validity_follows_the_clock_passed_in(pki):
    sod = parse_sod(cardfiles.build_sod(GROUPS, pki))
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=4000)   # the corrected clock says 11 years on
    result = passive_authentication(sod, GROUPS, [pki.csca_cert], now=later)
    assert result.expired is True and result.verified is False
    earlier = dt.datetime.now(dt.UTC) - dt.timedelta(days=10)   # before the certificates' start
    result = passive_authentication(sod, GROUPS, [pki.csca_cert], now=earlier)
    assert result.verified is False and result.dates_ok is False and result.expired is False
    assert "not yet valid" in result.reason and "chưa có hiệu lực" in result.reason_vi
    vn_now = dt.datetime.now(VN_TZ)  # an aware time in Vietnam's zone
    assert passive_authentication(sod, GROUPS, [pki.csca_cert], now=vn_now).verified is True


def test_an_expired_csca_is_marked_expired():
    old = cardfiles.make_pki(csca_days=(-4000, -1), ds_days=(-3000, 300))
    result = passive_authentication(parse_sod(cardfiles.build_sod(GROUPS, old)), GROUPS, [old.csca_cert])
    assert result.chain_ok and result.expired and not result.verified
    assert "CSCA" in result.reason


def test_naive_now_is_refused(pki):
    with pytest.raises(ValueError):
        passive_authentication(parse_sod(cardfiles.build_sod(GROUPS, pki)), GROUPS, [pki.csca_cert],
                               now=dt.datetime(2030, 1, 1))


# --- fuzzing: a damaged SOD gives CardProtocolError (unreadable) or an unverified verdict --------

_SOD = None


def _good_sod() -> bytes:
    global _SOD
    if _SOD is None:
        _SOD = cardfiles.build_sod(GROUPS, cardfiles.make_pki())
    return _SOD


@st.composite
def damaged_sod(draw) -> bytes:
    """The good SOD's CMS content with a few bytes changed, inserted or removed, re-wrapped in a
    well-formed 77 TLV (so the damage reaches the CMS and certificate parsers)."""
    data = bytearray(_tlv.expect(_good_sod(), 0x77, what="SOD").value)
    for _ in range(draw(st.integers(1, 4))):
        if len(data) < 4:
            break
        op = draw(st.sampled_from(["flip", "flip", "cut", "insert", "delete"]))
        i = draw(st.integers(0, len(data) - 1))
        if op == "flip":
            data[i] = draw(st.integers(0, 0xFF))
        elif op == "cut":
            del data[max(i, 2):]
        elif op == "insert":
            data[i:i] = draw(st.binary(min_size=1, max_size=4))
        else:
            del data[i:i + draw(st.integers(1, 8))]
    return _tlv.encode(0x77, bytes(data))


@given(damaged_sod())
def test_damaged_sods_never_raise_anything_else(data):
    try:
        sod = parse_sod(data)
    except CardProtocolError as exc:
        assert str(exc) and exc.message_vi
        return
    event("parsed")
    result = passive_authentication(sod, GROUPS, [])
    assert isinstance(result, PassiveAuthResult) and result.verified is False and result.reason and result.reason_vi


@given(st.binary(max_size=200))
def test_random_bytes_as_sod(data):
    try:
        parse_sod(b"\x77" + bytes([len(data)]) + data if len(data) < 128 else data)
    except CardProtocolError as exc:
        assert exc.message_vi
