"""The clerk web app and JSON API.

Public API: :func:`create_app` (used by ``motcua serve``) and the :mod:`edge.web.accounts` module
(clerk accounts; the sync client applies the city's account feed with
``accounts.upsert_from_feed``).
"""

from . import accounts
from ._app import create_app
from ._migrations import migrations

__all__ = ["accounts", "create_app", "migrations"]
