"""BER-TLV parsing (edge.devices.cccd._tlv): same answers as a whole-remainder parse over
asn1crypto, on random inputs; the work per file grows linearly with its size; only
CardProtocolError comes out."""

from __future__ import annotations

import pytest
from asn1crypto import parser
from hypothesis import given
from hypothesis import strategies as st

from edge.devices.cccd import CardProtocolError, _tlv

# --- the reference: the parse the module did before offsets (one asn1crypto call per item,
# each on the whole remainder) -----------------------------------------------------------------


def _ref_tag_number(header: bytes) -> int:
    n = header[0]
    i = 1
    if header[0] & 0x1F == 0x1F:
        while header[i] & 0x80:
            n = (n << 8) | header[i]
            i += 1
        n = (n << 8) | header[i]
    return n


def _ref_parse_one(data: bytes) -> tuple[tuple, bytes]:
    _cls, method, _tag, header, contents, trailer = parser.parse(bytes(data), strict=False)
    encoded_len = len(header) + len(contents) + len(trailer)
    return (_ref_tag_number(header), bool(method), bytes(contents), bytes(data[:encoded_len])), data[encoded_len:]


def _ref_parse_all(data: bytes) -> list[tuple] | None:
    """The reference result, or None where the reference refuses the input."""
    out, rest = [], bytes(data)
    try:
        while rest:
            if rest[0] in (0x00, 0xFF) and not rest.strip(rest[:1]):
                break
            item, rest = _ref_parse_one(rest)
            out.append(item)
    except (ValueError, IndexError, TypeError):
        return None
    return out


def _as_tuples(items: list[_tlv.Tlv]) -> list[tuple]:
    return [(i.tag, i.constructed, i.value, i.encoded) for i in items]


# --- generators: well-formed TLV streams, then damaged ones --------------------------------------

_TAG_BYTES = st.one_of(
    st.integers(0, 0xFF).filter(lambda b: b & 0x1F != 0x1F).map(lambda b: bytes([b])),
    st.tuples(st.sampled_from([0x5F, 0x7F, 0x9F, 0xBF, 0x1F, 0x3F]),
              st.lists(st.integers(0x80, 0xFF), max_size=2), st.integers(0, 0x7F))
      .map(lambda t: bytes([t[0], *t[1], t[2]])),
)


def _length(n: int, long_form: int) -> bytes:
    if n < 0x80 and not long_form:
        return bytes([n])
    body = n.to_bytes(max(1, (n.bit_length() + 7) // 8) + max(0, long_form - 1), "big")
    return bytes([0x80 | len(body)]) + body


@st.composite
def tlv_stream(draw, depth: int = 0) -> bytes:
    out = b""
    for _ in range(draw(st.integers(0, 6))):
        tag = draw(_TAG_BYTES)
        constructed = bool(tag[0] & 0x20)
        if constructed and depth < 3 and draw(st.booleans()):
            value = draw(tlv_stream(depth + 1))
            if draw(st.integers(0, 5)) == 0:  # indefinite length, BER
                out += tag + b"\x80" + value + b"\x00\x00"
                continue
        else:
            value = draw(st.binary(max_size=40))
        out += tag + _length(len(value), draw(st.integers(0, 2))) + value
    if draw(st.integers(0, 3)) == 0:
        out += bytes([draw(st.sampled_from([0x00, 0xFF]))]) * draw(st.integers(1, 8))
    return out


@st.composite
def damaged(draw) -> bytes:
    data = bytearray(draw(tlv_stream()))
    for _ in range(draw(st.integers(0, 4))):
        op = draw(st.sampled_from(["flip", "cut", "insert"]))
        if op == "flip" and data:
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 0xFF))
        elif op == "cut" and data:
            del data[draw(st.integers(0, len(data) - 1)):]
        else:
            data[draw(st.integers(0, len(data))):0] = draw(st.binary(min_size=1, max_size=3))
    return bytes(data)


def _check_against_reference(data: bytes) -> None:
    expected = _ref_parse_all(data)
    if expected is None:
        with pytest.raises(CardProtocolError) as info:
            _tlv.parse_all(data, what="test file")
        assert "test file" in str(info.value) and info.value.message_vi
    else:
        assert _as_tuples(_tlv.parse_all(data, what="test file")) == expected


@given(tlv_stream())
def test_parse_all_matches_the_reference_on_well_formed_streams(data):
    _check_against_reference(data)


@given(damaged())
def test_parse_all_matches_the_reference_on_damaged_streams(data):
    _check_against_reference(data)


@given(st.binary(max_size=80))
def test_parse_all_matches_the_reference_on_random_bytes(data):
    _check_against_reference(data)


@given(st.one_of(damaged(), st.binary(max_size=60)))
def test_parse_one_and_expect_raise_only_card_protocol_errors(data):
    for call in (lambda: _tlv.parse_one(data, what="x"), lambda: _tlv.expect(data, 0x30, what="x")):
        try:
            call()
        except CardProtocolError as exc:
            assert str(exc) and exc.message_vi


@given(damaged())
def test_parse_one_returns_the_rest(data):
    try:
        item, rest = _tlv.parse_one(data, what="x")
    except CardProtocolError:
        return
    assert bytes(item.encoded) + bytes(rest) == data


def test_parse_all_accepts_memoryviews_and_bytearrays():
    data = _tlv.encode(0x5F1F, b"abc") + _tlv.encode(0x30, _tlv.encode(0x02, b"\x01")) + b"\x00\x00"
    for form in (data, bytearray(data), memoryview(data)):
        items = _tlv.parse_all(form, what="x")
        assert [(i.tag, i.value) for i in items] == [(0x5F1F, b"abc"), (0x30, b"\x02\x01\x01")]
        assert all(type(i.value) is bytes and type(i.encoded) is bytes for i in items)


# --- linear work -------------------------------------------------------------------------------


class _Meter:
    """Counts the bytes that reach asn1crypto's parser (the per-byte work of a TLV parse)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.bytes_seen = 0
        real = parser.parse

        def counting(contents, strict=False):
            self.bytes_seen += len(contents)
            return real(contents, strict=strict)

        monkeypatch.setattr(parser, "parse", counting)


def test_work_grows_linearly_with_the_file(monkeypatch):
    """A 64 KB file of 4-byte TLVs: each byte is handed to the ASN.1 parser a bounded number of
    times (the whole-remainder parse handed it over once per following item: ~500 million)."""
    meter = _Meter(monkeypatch)
    small = _tlv.encode(0x04, b"\x01\x02")
    for size in (16 * 1024, 64 * 1024):
        data = small * (size // len(small))
        meter.bytes_seen = 0
        items = _tlv.parse_all(data, what="big file")
        assert len(items) == size // len(small)
        assert meter.bytes_seen <= 2 * len(data), (size, meter.bytes_seen)


def test_nested_indefinite_lengths_stay_linear(monkeypatch):
    meter = _Meter(monkeypatch)
    item = b"\x30\x80" + _tlv.encode(0x04, b"\x01") + b"\x00\x00"
    data = item * 8000
    assert len(_tlv.parse_all(data, what="x")) == 8000
    assert meter.bytes_seen <= 2 * len(data)


def test_indefinite_depth_is_limited_like_asn1crypto():
    deep = b"\x30\x80" * 12 + b"\x00\x00" * 12
    with pytest.raises(CardProtocolError):
        _tlv.parse_all(deep, what="deep")
    assert _ref_parse_all(deep) is None


@pytest.mark.parametrize("levels", [10, 11, 12])
def test_indefinite_nesting_at_the_limit_matches_the_reference(monkeypatch, levels):
    data = (b"\x30\x80" * levels + b"\x00\x00" * levels) * 200
    _check_against_reference(data)
    meter = _Meter(monkeypatch)
    try:
        _tlv.parse_all(data, what="x")
    except CardProtocolError:
        return
    assert meter.bytes_seen <= 2 * len(data)
