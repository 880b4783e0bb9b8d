"""The reference city hub: `motcua hub serve` and its admin commands (docs/sync-protocol.md)."""

from ._app import Hub, create_hub_app
from ._core import signed_command, system_clock
from ._keys import HubKeys, init_data_dir, load_city_private, load_city_public
from ._limits import HubLimits
from ._open import open_dossier
from ._serve import RunningHub, is_loopback, open_hub, serve_forever, start_hub, tls_context
from .storage import HubStorage, open_storage

__all__ = ["Hub", "HubKeys", "HubLimits", "HubStorage", "RunningHub", "create_hub_app", "init_data_dir", "is_loopback",
           "load_city_private", "load_city_public", "open_dossier", "open_hub", "open_storage", "serve_forever",
           "signed_command", "start_hub", "system_clock", "tls_context"]
