"""BER-TLV reading over asn1crypto's parser, with every malformation turned into CardProtocolError."""

from __future__ import annotations

from dataclasses import dataclass

from asn1crypto import parser

from ._errors import CardProtocolError


@dataclass(frozen=True, slots=True)
class Tlv:
    tag: int          # the tag bytes as one integer, e.g. 0x5F1F, 0x87, 0x6D
    constructed: bool
    value: bytes
    encoded: bytes    # header + value (+ trailer)


def _tag_number(header: bytes) -> int:
    n = header[0]
    i = 1
    if header[0] & 0x1F == 0x1F:
        while header[i] & 0x80:
            n = (n << 8) | header[i]
            i += 1
        n = (n << 8) | header[i]
    return n


def parse_one(data: bytes, *, what: str) -> tuple[Tlv, bytes]:
    """Parse the first TLV of ``data``; return it and the bytes after it."""
    try:
        _cls, method, _tag, header, contents, trailer = parser.parse(bytes(data), strict=False)
    except (ValueError, IndexError, TypeError) as exc:
        raise CardProtocolError(f"malformed TLV in {what}: {exc}") from None
    encoded_len = len(header) + len(contents) + len(trailer)
    return Tlv(_tag_number(header), bool(method), bytes(contents), bytes(data[:encoded_len])), data[encoded_len:]


def parse_all(data: bytes, *, what: str) -> list[Tlv]:
    out: list[Tlv] = []
    rest = bytes(data)
    while rest:
        if rest[0] in (0x00, 0xFF) and not rest.strip(rest[:1]):
            break  # padding after the last object
        item, rest = parse_one(rest, what=what)
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
