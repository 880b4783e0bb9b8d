"""What the sync client keeps in the store's ``meta`` table (keys prefixed ``sync.``)."""

from __future__ import annotations

from ._clock import ClockState, HubClock


class ClientState:
    def __init__(self, store) -> None:
        self.store = store

    def get(self, key: str, default: str = "") -> str:
        value = self.store.meta_get(key)
        return default if value is None else value

    def set(self, key: str, value: str) -> None:
        """Write one key (blocks until written: not from the event loop, use :meth:`aset`)."""
        self.store.write(lambda conn: self.set_many(conn, {key: value}))

    async def aset(self, key: str, value: str) -> None:
        await self.aset_many({key: value})

    async def aset_many(self, values: dict[str, str]) -> None:
        """Write these keys in one write, awaited: the event loop goes on meanwhile."""
        values = dict(values)
        await self.store.awrite(lambda conn: self.set_many(conn, values))

    @staticmethod
    def set_many(conn, values: dict[str, str]) -> None:
        for key, value in values.items():
            conn.execute("INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                         (key, str(value)))


def load_clock(store) -> ClockState:
    """The offset the store's clock keeps plus our measurement's uncertainty and age."""
    offset_ms = store.clock.offset_ms
    anchored = store.clock.anchored
    uncertainty = float(store.meta_get("sync.clock_uncertainty") or 0.0)
    measured = float(store.meta_get("sync.clock_measured_at") or 0.0)
    return ClockState(offset=offset_ms / 1000, anchored=anchored, measured_at=measured, uncertainty=uncertainty)


def save_clock(store, clock: HubClock) -> None:
    s = clock.state
    if not s.anchored:
        return
    store.write(lambda conn: _write_clock(store, conn, s))


async def asave_clock(store, clock: HubClock) -> None:
    """:func:`save_clock` from the event loop."""
    s = clock.state
    if s.anchored:
        await store.awrite(lambda conn: _write_clock(store, conn, s))


def _write_clock(store, conn, s: ClockState) -> None:
    """The offset goes through the store's clock (the one owner of its keys); the measurement's
    uncertainty and age are the client's own."""
    store.clock.save_offset(conn, round(s.offset * 1000))
    ClientState.set_many(conn, {"sync.clock_uncertainty": f"{s.uncertainty:.3f}",
                                "sync.clock_measured_at": f"{s.measured_at:.3f}"})
