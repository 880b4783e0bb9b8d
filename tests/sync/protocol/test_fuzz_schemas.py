"""Fuzzing every message parser of sync.protocol: only ProtocolError (or SignatureError for a
signed object), always with a message, ever comes out.

(Building a manifest, ``core.manifest.wire_manifest``, is left out: it takes the box's own store
data, not outside input.)
"""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from sync.errors import ProtocolError, SignatureError
from sync.protocol import (
    SignedHeaders,
    parse_calendar_entry,
    parse_catalog,
    parse_clerk,
    parse_commit,
    parse_enroll,
    parse_feed_page,
    parse_heartbeat,
    parse_json,
    parse_manifest,
    parse_rotate,
    parse_station_line,
    sign_request,
    status_code,
    verify_command,
    verify_receipt,
)

KEY = Ed25519PrivateKey.generate().public_key().public_bytes_raw()

_text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=20) | st.sampled_from(
    ["000.00.06.H56", "000.00.06.H56-261122-0001", "1.001612", "a" * 64, "AAAA", "2026-11-22T09:00:00Z", "X25519",
     "", "１２３", "٣", "$argon2id$v=19$", "day_off", "clerk", "HN-0001", "abcdefgh1234", "motcua.receipt.v1"])
_scalar = st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70) | st.floats() | _text
_json = st.recursive(_scalar, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_text, inner, max_size=6),
                     max_leaves=30)

MANIFEST_KEYS = ("version", "dossier_id", "station_id", "agency_code", "code", "procedure_code", "received_at",
                 "due_at", "counter", "hlc", "clock_anchored", "dek", "personal", "blobs", "meta", "documents",
                 "finalized_at", "cipher")


def _near(keys):
    """Objects with (most of) the right keys and arbitrary values: reach past the first check."""
    return st.dictionaries(st.sampled_from(keys), _json, max_size=len(keys))


PARSERS = {
    "enroll": (parse_enroll, _near(("station_id", "token", "public_key"))),
    "rotate": (parse_rotate, _near(("new_public_key", "proof"))),
    "manifest": (parse_manifest, _near(MANIFEST_KEYS)),
    "commit": (parse_commit, _near(("manifest_sha256",))),
    "heartbeat": (parse_heartbeat, _near(("pending", "oldest_unsynced_age_s", "disk_free_bytes", "versions",
                                          "devices", "feed_seq", "clock_offset_ms"))),
    "station_line": (parse_station_line, _near(("station_id", "agency_code", "token_sha256", "token_expires_at",
                                                "name", "kind", "address", "partition_index"))),
    "catalog": (parse_catalog, _near(("version", "procedures", "published_at", "agency_code"))),
    "calendar": (parse_calendar_entry, _near(("date", "kind", "reason"))),
    "clerk": (parse_clerk, _near(("username", "display_name", "role", "password_hash", "active"))),
    "feed_page": (parse_feed_page, _near(("items", "next", "more", "head"))),
    "status": (status_code, _json),
    "receipt": (lambda o: verify_receipt(o, KEY), _near(("receipt", "signature"))),
    "command": (lambda o: verify_command(o, KEY, station_id="HN-0001"), _near(("command", "signature"))),
}


def _only_protocol_errors(parse, value) -> None:
    try:
        parse(value)
    except (ProtocolError, SignatureError) as exc:
        assert str(exc).strip()
        if isinstance(exc, ProtocolError):
            assert exc.field and exc.reason


@pytest.mark.parametrize("name", sorted(PARSERS))
def test_fuzz_parser_raises_only_protocol_errors(name):
    parse, shaped = PARSERS[name]

    @given(st.one_of(_json, shaped))
    def run(value):
        _only_protocol_errors(parse, value)

    run()


@given(st.binary(max_size=200) | _json.map(lambda v: __import__("json").dumps(v).encode()))
def test_fuzz_parse_json(body):
    _only_protocol_errors(parse_json, body)


_GOOD = sign_request(Ed25519PrivateKey.generate(), station_id="HN-0001", method="GET", path_qs="/v1/station")


@given(st.dictionaries(st.sampled_from(sorted(_GOOD)), st.text(max_size=90) | st.sampled_from(sorted(_GOOD.values())),
                       max_size=len(_GOOD)))
def test_fuzz_signature_headers(changes):
    _only_protocol_errors(SignedHeaders.parse, {**_GOOD, **changes})
