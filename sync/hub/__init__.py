"""The reference city hub: `motcua hub serve` and its admin commands (docs/sync-protocol.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.lazy import lazy_exports

if TYPE_CHECKING:
    from ._app import Hub, create_hub_app
    from ._blobs import (
        BlobConfigError,
        BlobCorrupt,
        BlobLocked,
        BlobStore,
        BlobUnavailable,
        LocalBlobStore,
        open_blob_store,
    )
    from ._city import CityConfig, CityConnector
    from ._core import signed_command, system_clock
    from ._keys import HubKeys, init_data_dir, load_city_private, load_city_public
    from ._limits import HubLimits
    from ._open import open_dossier
    from ._relay import HubImportReport, import_transfer
    from ._rollout import rollout_status, station_updates
    from ._s3 import S3BlobStore, S3Config
    from ._serve import RunningHub, is_loopback, open_hub, serve_forever, start_hub, tls_context
    from .storage import HubStorage, open_storage

_LAZY: dict[str, tuple[str, str | None]] = {
    "Hub": ("._app", "Hub"),
    "create_hub_app": ("._app", "create_hub_app"),
    "BlobConfigError": ("._blobs", "BlobConfigError"),
    "BlobCorrupt": ("._blobs", "BlobCorrupt"),
    "BlobLocked": ("._blobs", "BlobLocked"),
    "BlobStore": ("._blobs", "BlobStore"),
    "BlobUnavailable": ("._blobs", "BlobUnavailable"),
    "LocalBlobStore": ("._blobs", "LocalBlobStore"),
    "open_blob_store": ("._blobs", "open_blob_store"),
    "CityConfig": ("._city", "CityConfig"),
    "CityConnector": ("._city", "CityConnector"),
    "S3BlobStore": ("._s3", "S3BlobStore"),
    "S3Config": ("._s3", "S3Config"),
    "signed_command": ("._core", "signed_command"),
    "system_clock": ("._core", "system_clock"),
    "HubKeys": ("._keys", "HubKeys"),
    "init_data_dir": ("._keys", "init_data_dir"),
    "load_city_private": ("._keys", "load_city_private"),
    "load_city_public": ("._keys", "load_city_public"),
    "HubLimits": ("._limits", "HubLimits"),
    "open_dossier": ("._open", "open_dossier"),
    "rollout_status": ("._rollout", "rollout_status"),
    "station_updates": ("._rollout", "station_updates"),
    "HubImportReport": ("._relay", "HubImportReport"),
    "import_transfer": ("._relay", "import_transfer"),
    "RunningHub": ("._serve", "RunningHub"),
    "is_loopback": ("._serve", "is_loopback"),
    "open_hub": ("._serve", "open_hub"),
    "serve_forever": ("._serve", "serve_forever"),
    "start_hub": ("._serve", "start_hub"),
    "tls_context": ("._serve", "tls_context"),
    "HubStorage": (".storage", "HubStorage"),
    "open_storage": (".storage", "open_storage"),
}

__all__ = ["BlobConfigError", "BlobCorrupt", "BlobLocked", "BlobStore", "BlobUnavailable", "CityConfig",
           "CityConnector", "Hub", "HubImportReport", "HubKeys", "HubLimits", "HubStorage", "LocalBlobStore",
           "RunningHub", "S3BlobStore", "S3Config", "create_hub_app", "import_transfer", "init_data_dir",
           "is_loopback", "load_city_private", "load_city_public", "open_blob_store", "open_dossier", "open_hub",
           "open_storage", "rollout_status", "serve_forever", "signed_command", "start_hub", "station_updates",
           "system_clock", "tls_context"]


# Names load on first use (PEP 562), so importing the package (or its _extension) is cheap.
__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
