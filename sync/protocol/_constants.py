"""Shared constants of protocol version 1 (docs/sync-protocol.md)."""

from __future__ import annotations

import re

from core.codes import AGENCY_CODE_RE as AGENCY_CODE_RE  # the one agency-code rule, re-exported
from core.labels import CITY_STATUS_VI
from core.sealed import KEMS as KEMS  # the city key's KEMs, re-exported
from sync.errors import ERROR_CODES as ERROR_CODES  # code -> (HTTP status, retryable), re-exported

PROTOCOL_VERSION = 1
API_PREFIX = "/v1"

H_PROTOCOL = "X-Motcua-Protocol"
H_SERVER_TIME = "X-Motcua-Server-Time"
H_ERROR = "X-Motcua-Error"
H_STATION = "X-Motcua-Station"
H_TIMESTAMP = "X-Motcua-Timestamp"
H_NONCE = "X-Motcua-Nonce"
H_CONTENT_SHA256 = "X-Motcua-Content-SHA256"
H_SIGNATURE = "X-Motcua-Signature"
H_UPLOAD_OFFSET = "Upload-Offset"
H_UPLOAD_LENGTH = "Upload-Length"
H_BLOB_STATE = "X-Motcua-Blob-State"

SIGNATURE_PREFIX = "MOTCUA-SIG-V1"
ROTATE_PREFIX = "MOTCUA-ROTATE-V1"
RECEIPT_TYPE = "motcua.receipt.v1"
COMMAND_TYPE = "motcua.command.v1"

TIMESTAMP_WINDOW_MS = 15 * 60 * 1000
NONCE_TTL_MS = 30 * 60 * 1000

MAX_JSON_BODY = 4 * 1024 * 1024
MAX_CHUNK = 16 * 1024 * 1024
MAX_BLOB_SIZE = 1024 * 1024 * 1024
MAX_BLOBS = 1000
MAX_META = 16 * 1024
FEED_DEFAULT_LIMIT = 100
FEED_MAX_LIMIT = 1000

CHUNK_MEDIA_TYPE = "application/offset+octet-stream"

# Identifiers: ASCII only, anchored with \A … \Z (``$`` would also let a trailing newline in).
# The agency code's rule is the one of every side (core.codes).
STATION_ID_RE = re.compile(r"\A[A-Za-z0-9][A-Za-z0-9._-]{0,63}\Z", re.ASCII)
DOSSIER_ID_RE = re.compile(r"\A[A-Za-z0-9_-]{8,64}\Z", re.ASCII)
SHA256_RE = re.compile(r"\A[0-9a-f]{64}\Z", re.ASCII)
NONCE_RE = re.compile(r"\A[A-Za-z0-9_-]{16,64}\Z", re.ASCII)
PROCEDURE_CODE_RE = re.compile(r"\A[0-9]\.[0-9]{6}(\.[0-9A-Za-z.]+)?\Z", re.ASCII)
#: Unix milliseconds in a header: ASCII digits, at most 16.
TIMESTAMP_RE = re.compile(r"\A[0-9]{1,16}\Z", re.ASCII)

STATION_KINDS = ("branch", "commune", "mobile", "popup")
CLERK_ROLES = ("clerk", "supervisor", "admin")
CALENDAR_KINDS = ("day_off", "working_day", "none")
COMMAND_KINDS = ("wipe", "rotate_key", "resync", "update")

# National one-stop status codes (REFERENCE.md).
DOSSIER_STATUSES: dict[int, str] = {
    1: "receiving",
    2: "new",
    3: "denied",
    4: "processing",
    5: "waiting_supplement",
    6: "paying",
    7: "cancelled",
    8: "unresolved",
    9: "releasing",
    10: "done",
}
DOSSIER_STATUS_VI = CITY_STATUS_VI  # one table of Vietnamese words: core.labels


class FeedType:
    DOSSIER_STATUS = "dossier_status"
    PROCEDURE_CATALOG = "procedure_catalog"
    CLERK_ACCOUNT = "clerk_account"
    CALENDAR_OVERRIDE = "calendar_override"
    REVOCATION = "revocation"
    COMMAND = "command"
    CODE_PARTITION = "code_partition"
    ADMIN_UNITS = "admin_units"

    ALL = ("dossier_status", "procedure_catalog", "clerk_account", "calendar_override",
           "revocation", "command", "code_partition", "admin_units")
