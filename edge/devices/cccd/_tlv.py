"""BER-TLV reading over asn1crypto's parser, with every malformation turned into CardProtocolError.

A file is walked by offsets into one memoryview: each object's extent comes from its header (and,
for BER indefinite lengths, its children's headers), and asn1crypto then parses exactly that
object. Every byte is looked at a bounded number of times, whatever the number of objects.
"""

from __future__ import annotations

from dataclasses import dataclass

from asn1crypto import parser

from ._errors import CardProtocolError

_MAX_INDEFINITE_DEPTH = 10  # asn1crypto's own limit on nested indefinite lengths


@dataclass(frozen=True, slots=True)
class Tlv:
    tag: int          # the tag bytes as one integer, e.g. 0x5F1F, 0x87, 0x6D
    constructed: bool
    value: bytes
    encoded: bytes    # header + value (+ trailer)


def _view(data: bytes | bytearray | memoryview, what: str) -> memoryview:
    try:
        view = memoryview(data)
    except TypeError:
        raise CardProtocolError(f"malformed TLV in {what}: not bytes but {type(data).__name__}") from None
    return view.cast("B") if view.format != "B" or view.ndim != 1 else view


def _extent(buf: memoryview, pos: int, end: int, depth: int = 0) -> int | None:
    """Offset just past the object starting at ``pos``; None when the header alone cannot tell
    (truncated, or an indefinite length that does not close): asn1crypto then says what is wrong."""
    if depth > _MAX_INDEFINITE_DEPTH:
        return None
    i = pos + 1
    if i > end:
        return None
    if buf[pos] & 0x1F == 0x1F:
        while i < end and buf[i] & 0x80:
            i += 1
        i += 1
    if i >= end:
        return None
    first = buf[i]
    i += 1
    if first < 0x80:
        stop = i + first
    elif first > 0x80:
        count = first & 0x7F
        if i + count > end:
            return None
        stop = i + count + int.from_bytes(buf[i:i + count], "big")
    else:  # indefinite: children until the end-of-contents octets 00 00
        if not buf[pos] & 0x20:
            return None
        while not (i + 2 <= end and buf[i] == 0 and buf[i + 1] == 0):
            child = _extent(buf, i, end, depth + 1)
            if child is None:
                return None
            i = child
        stop = i + 2
    return stop if stop <= end else None


def _tag_number(header: bytes) -> int:
    n = header[0]
    i = 1
    if header[0] & 0x1F == 0x1F:
        while header[i] & 0x80:
            n = (n << 8) | header[i]
            i += 1
        n = (n << 8) | header[i]
    return n


def _parse_at(buf: memoryview, pos: int, end: int, what: str) -> tuple[Tlv, int]:
    stop = _extent(buf, pos, end)
    window = bytes(buf[pos:end if stop is None else stop])
    try:
        _cls, method, _tag, header, contents, trailer = parser.parse(window, strict=False)
    except (ValueError, IndexError, TypeError) as exc:
        raise CardProtocolError(f"malformed TLV in {what}: {exc}") from None
    encoded_len = len(header) + len(contents) + len(trailer)
    return Tlv(_tag_number(header), bool(method), bytes(contents), window[:encoded_len]), pos + encoded_len


def parse_one(data: bytes, *, what: str) -> tuple[Tlv, bytes]:
    """Parse the first TLV of ``data``; return it and the bytes after it."""
    buf = _view(data, what)
    item, stop = _parse_at(buf, 0, len(buf), what)
    return item, bytes(buf[stop:])


def parse_all(data: bytes, *, what: str) -> list[Tlv]:
    """Every TLV of ``data`` in order; a trailing run of 00 or FF bytes is padding."""
    buf = _view(data, what)
    end = len(buf)
    padding_from = end
    if end and buf[end - 1] in (0x00, 0xFF):
        while padding_from and buf[padding_from - 1] == buf[end - 1]:
            padding_from -= 1
    out: list[Tlv] = []
    pos = 0
    while pos < end and pos < padding_from:
        item, pos = _parse_at(buf, pos, end, what)
        out.append(item)
    return out


def expect(data: bytes, tag: int, *, what: str) -> Tlv:
    item, _rest = parse_one(data, what=what)
    if item.tag != tag:
        raise CardProtocolError(f"{what}: expected tag {tag:X}, found {item.tag:X}")
    return item


def find(items: list[Tlv], tag: int) -> Tlv | None:
    return next((i for i in items if i.tag == tag), None)


def encode(tag: int, value: bytes) -> bytes:
    """DER length encoding for building secure-messaging objects."""
    tag_bytes = tag.to_bytes((tag.bit_length() + 7) // 8 or 1, "big")
    n = len(value)
    if n < 0x80:
        length = bytes([n])
    else:
        body = n.to_bytes((n.bit_length() + 7) // 8, "big")
        length = bytes([0x80 | len(body)]) + body
    return tag_bytes + length + value


def length_of_header(data: bytes) -> int | None:
    """Total length (header + value) announced by a TLV's first bytes, if enough are present."""
    try:
        i = 1
        if data[0] & 0x1F == 0x1F:
            while data[i] & 0x80:
                i += 1
            i += 1
        first = data[i]
        i += 1
        if first < 0x80:
            return i + first
        count = first & 0x7F
        if count == 0 or count > 3:
            raise CardProtocolError("unsupported TLV length form")
        return i + count + int.from_bytes(data[i:i + count], "big")
    except IndexError:
        return None
