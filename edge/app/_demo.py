"""``motcua serve --demo``: a box with embedded defaults, a local demo city hub and demo data.

Everything lives under the demo state directory's parent (``demo-state/`` by default): the box's
state, the hub's data and the demo city key. The hub runs in the same process on loopback, the
box is enrolled with it on first start, and the SANE ``test`` backend stands in for a scanner
when no real one is present.

The demo hub's fleet page (``/fleet/``, for IT) gets one account, ``cntt``, on first start: its
password is generated then and printed once on the terminal (never logged, never stored but as its
argon2 hash); later starts print the page's address and how to set a new password.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import struct
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from edge.config import Settings, load_settings
from edge.store import PageSource, Store

logger = logging.getLogger(__name__)

DEMO_AGENCY = "000.00.26.H26"
DEMO_STATION = "demo-ba-dinh-01"
DEMO_HUB_PORT = 8765
DEMO_PASSWORD = "demo-12345"
DEMO_FLEET_ADMIN = "cntt"
DEMO_ACCOUNTS = (("quantri", "Quản trị viên Demo", "admin"), ("giamsat", "Giám sát viên Demo", "supervisor"),
                 ("canbo", "Cán bộ tiếp nhận Demo", "clerk"))
DEMO_APPLICANTS = (
    {"full_name": "Nguyễn Thị Minh Khai", "id_number": "001190000001", "date_of_birth": "1990-05-19", "gender": "Nữ",
     "address": "Số 1 phố Hàng Bạc, phường Hoàn Kiếm, Hà Nội", "phone": "0912000001"},
    {"full_name": "Trần Quốc Toản", "id_number": "001085000002", "date_of_birth": "1985-10-10", "gender": "Nam",
     "address": "Số 25 phố Kim Mã, phường Ba Đình, Hà Nội", "phone": "0983000002"},
)


def _demo_png(width: int = 64, height: int = 80) -> bytes:
    """A tiny grey page image, so demo dossiers have something to show."""
    rows = b"".join(b"\x00" + bytes((200 if (x // 8 + y // 8) % 2 else 240) for x in range(width)) for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


@dataclass
class DemoEnvironment:
    settings: Settings
    hub_dir: Path
    hub_port: int = DEMO_HUB_PORT
    token: str | None = None
    running: Any = field(default=None, repr=False)
    storage: Any = field(default=None, repr=False)

    async def start_hub(self, store: Store) -> None:
        """Run the demo hub on loopback and enroll the box with it on first start."""
        from sync.client import enroll_async
        from sync.hub import create_hub_app, open_hub, start_hub

        self.storage, keys = open_hub(self.hub_dir)
        app = create_hub_app(self.storage, keys, data_dir=self.hub_dir)
        self.running = await start_hub(app, host="127.0.0.1", port=self.hub_port)
        if self.token:
            await enroll_async(store, self.running.url, self.token, station_id=DEMO_STATION)
            self.token = None
            logger.warning("demo box enrolled with the demo hub at %s", self.running.url)

    async def stop_hub(self) -> None:
        if self.running is not None:
            await self.running.stop()
        if self.storage is not None:
            self.storage.close()


def _sane_test_backend(base: Path) -> None:
    """Point SANE at a private configuration that enables the virtual ``test`` scanner."""
    if os.environ.get("SANE_CONFIG_DIR"):
        return
    conf = base / "sane.d"
    conf.mkdir(parents=True, exist_ok=True)
    (conf / "dll.conf").write_text("test\nairscan\nnet\n")
    (conf / "test.conf").write_text("number_of_devices 1\n")
    os.environ["SANE_CONFIG_DIR"] = f"{conf}:/etc/sane.d"


def prepare_demo(ctx, *, port: int | None = None, hub_port: int = DEMO_HUB_PORT) -> DemoEnvironment:
    """Create (once) the demo hub, the demo box and its data; return the demo settings."""
    from sync.hub import init_data_dir, open_hub
    from sync.protocol import new_token, token_sha256

    state_dir = (ctx.state_dir or Path("demo-state/box")).resolve()
    base = state_dir.parent
    hub_dir = base / "hub"
    overrides = {
        "store": {"state_dir": str(state_dir)},
        "station": {"agency_code": DEMO_AGENCY, "name": "Điểm tiếp nhận Ba Đình (demo)", "station_id": DEMO_STATION,
                    "code_partition_index": 0, "code_partition_size": 1000},
        "sync": {"hub_url": f"http://127.0.0.1:{hub_port}", "push_interval_seconds": 15,
                 "pull_interval_seconds": 20, "heartbeat_interval_seconds": 60, "retention_days": 7},
        "reception": {"agency_name": "Trung tâm Phục vụ hành chính công Hà Nội (demo)",
                      "place_name": "Hà Nội"},
    }
    settings = load_settings(ctx.config_path, overrides=overrides)
    _sane_test_backend(base)
    if not (hub_dir / "keys").exists():
        init_data_dir(hub_dir)
        click.echo(f"demo city hub created in {hub_dir} (city private key in {hub_dir / 'keys'})")
    env = DemoEnvironment(settings=settings, hub_dir=hub_dir, hub_port=hub_port)
    fresh = not (state_dir / "motcua.db").exists()
    if fresh:
        storage, keys = open_hub(hub_dir)
        try:
            city = json.dumps(keys.city_public.to_json()).encode()
        finally:
            storage.close()
        Store.init(settings, agency_code=DEMO_AGENCY, city_public_key=city)
    with Store.open(settings) as store:
        if store.meta_get("sync.receipt_key") is None:
            from sync.hub.storage import NewStation

            storage, _ = open_hub(hub_dir)
            try:
                env.token = new_token()
                now = int(store.clock.now_s() * 1000)
                storage.add_station(NewStation(station_id=DEMO_STATION, agency_code=DEMO_AGENCY, name=settings.station.name,
                                               partition_index=0, partition_size=1000),
                                    token_sha256=token_sha256(env.token), token_expires_at=now + 86_400_000, now=now)
            finally:
                storage.close()
        _demo_data(store, fresh=fresh)
    click.echo("Trạm Một Cửa demo: http://127.0.0.1:{} — tài khoản {} (mật khẩu {})".format(
        port or settings.web.port, ", ".join(f"{u} ({r})" for u, _, r in DEMO_ACCOUNTS), DEMO_PASSWORD))
    demo_fleet_admin(hub_dir, hub_port)
    return env


def demo_fleet_admin(hub_dir: Path, hub_port: int) -> str | None:
    """Make the demo hub's fleet admin once and tell the terminal how to reach the fleet page.

    Returns the password when it was made now (printed once with ``click.echo``, not logged).
    """
    from sync.hub import open_hub
    from sync.hub.fleet import hash_password

    url = f"http://127.0.0.1:{hub_port}/fleet/"
    reset = f"motcua hub admin add {DEMO_FLEET_ADMIN} --data-dir {hub_dir}"
    storage, _ = open_hub(hub_dir)
    try:
        admins = [a.username for a in storage.list_admins()]
        password = None
        if not admins:
            password = secrets.token_urlsafe(12)
            storage.put_admin(DEMO_FLEET_ADMIN, display_name="Phòng CNTT (demo)", password_hash=hash_password(password),
                              now=int(time.time() * 1000))
    finally:
        storage.close()
    if password is not None:
        click.echo(f"Trang đội máy cho CNTT (demo hub): {url} — tài khoản {DEMO_FLEET_ADMIN}, mật khẩu {password} "
                   f"(chỉ in lần này; đặt mật khẩu mới: {reset})")
    else:
        click.echo(f"Trang đội máy cho CNTT (demo hub): {url} — tài khoản {', '.join(admins)} (mật khẩu đã in ở lần "
                   f"chạy demo đầu tiên; đặt mật khẩu mới: {reset})")
    return password


def _demo_data(store: Store, *, fresh: bool) -> None:
    from edge.reception import (
        import_catalog,
        import_overrides,
        list_procedures,
        load_catalog_json,
        load_overrides_json,
    )
    from edge.web import accounts

    data = Path(__file__).resolve().parents[1] / "reception" / "data"
    if not list_procedures(store):
        import_catalog(store, load_catalog_json(data / "demo_catalog.json"), source="demo")
        import_overrides(store, load_overrides_json(data / "demo_calendar_overrides.json"), source="demo")
    from edge.reception import import_units, load_units_json, provinces

    if not provinces(store):
        import_units(store, load_units_json(data / "demo_units.json"), source="demo")
    if accounts.count_accounts(store) == 0:
        for username, name, role in DEMO_ACCOUNTS:
            accounts.create_account(store, username, name, role, DEMO_PASSWORD)
    if fresh:
        from edge import services

        for applicant, procedure in zip(DEMO_APPLICANTS, list_procedures(store), strict=False):
            services.receive(store, store.settings, procedure_code=procedure.code, applicant=applicant, actor="demo",
                             pages=[PageSource(source=_demo_png(), media_type="image/png")],
                             fee={"method": "later"}, override_by="demo")
