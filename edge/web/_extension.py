"""What the web package contributes: the ``user`` command, its tables, the clerk-account feed, ``[web]``."""

from __future__ import annotations


def _user_group():
    from .cli import user_group

    return user_group


def _migrations():
    from ._migrations import migrations

    return migrations


def _clerk_feed(store, conn, item) -> None:
    """A clerk account pushed by the hub: create or update it (inside the feed item's savepoint)."""
    from sync.protocol import parse_clerk

    from .accounts import upsert_from_feed

    record = parse_clerk(item.data)
    upsert_from_feed(store, {"username": record["username"], "display_name": record["display_name"],
                             "role": record["role"], "password_hash": record["password_hash"],
                             "disabled": not record["active"]})


def register(registry) -> None:
    from ._config import WebConfig

    registry.add_config_section("web", WebConfig)
    registry.add_command("user", _user_group,
                         help="Clerk accounts of this box (roles: clerk, supervisor, admin).")
    registry.add_migrations("web", _migrations)
    registry.add_feed_handler("clerk_account", _clerk_feed)
