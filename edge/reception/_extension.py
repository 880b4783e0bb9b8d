"""What the reception package contributes: catalog/calendar/fee commands, its tables, three feeds,
``[reception]``."""

from __future__ import annotations


def _cmd(attr: str):
    def load():
        from . import cli

        return getattr(cli, attr)

    return load


def _migrations():
    from ._migrations import migrations

    return migrations


def _catalog_feed(store, conn, item) -> None:
    """A procedure catalog pushed by the hub replaces the imported one."""
    from sync.protocol import parse_catalog

    from ._catalog import import_catalog

    doc = parse_catalog(item.data)
    import_catalog(store, doc["procedures"], source=f"hub:feed:{item.seq}:v{doc['version']}")


def _calendar_feed(store, conn, item) -> None:
    """A calendar override pushed by the hub (kind ``none`` removes the date's override)."""
    from sync.protocol import parse_calendar_entry

    from ._calendar import import_overrides

    entry = parse_calendar_entry(item.data)
    if entry["kind"] == "none":
        conn.execute("DELETE FROM calendar_overrides WHERE date = ?", (entry["date"],))
        return
    import_overrides(store, [entry], source=f"hub:feed:{item.seq}")


def _units_feed(store, conn, item) -> None:
    """The two-tier administrative units pushed by the hub replace the stored list."""
    from sync.protocol import parse_admin_units

    from ._units import import_units

    doc = parse_admin_units(item.data)
    import_units(store, doc["units"], source=f"hub:feed:{item.seq}:v{doc['version']}")


def register(registry) -> None:
    from ._config import ReceptionConfig

    registry.add_config_section("reception", ReceptionConfig)
    registry.add_command("catalog", _cmd("catalog_group"), help="Procedure catalog (thủ tục hành chính).")
    registry.add_command("calendar", _cmd("calendar_group"), help="Working days and appointment dates.")
    registry.add_command("fee", _cmd("fee_group"), help="Fees and VietQR payment codes.")
    registry.add_migrations("reception", _migrations)
    registry.add_feed_handler("procedure_catalog", _catalog_feed)
    registry.add_feed_handler("calendar_override", _calendar_feed)
    registry.add_feed_handler("admin_units", _units_feed)
