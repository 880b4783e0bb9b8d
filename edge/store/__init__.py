"""The encrypted, crash-safe local dossier store.

Public API: :class:`Store` (init, open, drafts, pages, finalize, ingest, look-ups, shred, check),
the records in ``_model``, and the city-side helpers to open a sealed dossier (the formats are
``core.sealed`` and ``core.manifest``'s, re-exported here with the store's errors).
"""

from ._check import check_store
from ._city import OpenedDossier, decrypt_page, load_city_private_key, open_manifest
from ._clock import VN_TZ, Clock
from ._codes import CODE_RE, validate_agency_code
from ._crypto import CityPrivateKey, CityPublicKey, decrypt_stream
from ._fsutil import fsync_dir, private_sqlite_files, write_file_atomic
from ._migrations import SCHEMA_MIN_VERSION, app_version, require_version, version_key
from ._model import (
    LIST_STATUSES,
    OUTCOMES,
    Applicant,
    Dossier,
    DossierSummary,
    PageInfo,
    fold_name,
    nfc,
)
from ._store import DB_NAME, CheckReport, InitResult, PageSource, StartupReport, Store

__all__ = [
    "DB_NAME",
    "LIST_STATUSES",
    "OUTCOMES",
    "SCHEMA_MIN_VERSION",
    "CODE_RE",
    "VN_TZ",
    "Applicant",
    "app_version",
    "require_version",
    "version_key",
    "CheckReport",
    "CityPrivateKey",
    "CityPublicKey",
    "Clock",
    "Dossier",
    "DossierSummary",
    "InitResult",
    "OpenedDossier",
    "PageInfo",
    "PageSource",
    "StartupReport",
    "Store",
    "check_store",
    "decrypt_page",
    "decrypt_stream",
    "fold_name",
    "fsync_dir",
    "load_city_private_key",
    "nfc",
    "open_manifest",
    "private_sqlite_files",
    "validate_agency_code",
    "write_file_atomic",
]
