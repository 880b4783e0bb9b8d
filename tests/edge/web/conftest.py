"""Fixtures: a real store in a temporary directory, the demo catalog, three accounts, the app;
SANE's test backend with a real DeviceManager; Debian's Chromium through Playwright."""

from __future__ import annotations

import shutil
import socket
import sys
from pathlib import Path

import pytest
from aiohttp import web

sys.path.insert(0, str(Path(__file__).parent))

from web_helpers import card_stack, make_settings, open_store

from edge.web import create_app

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


@pytest.fixture
def settings(tmp_path):
    return make_settings(tmp_path, lockout_attempts=3, max_upload_mb=1)


@pytest.fixture
def store(tmp_path, settings):
    store = open_store(tmp_path, settings)
    yield store
    store.close()


@pytest.fixture
async def client(aiohttp_client, settings, store):
    return await aiohttp_client(create_app(settings=settings, store=store))


# --------------------------------------------------------------------------- scanners


@pytest.fixture
async def devices(sane_test_backend, settings, store):
    """A real DeviceManager (udev when the machine has it, SANE's test scanners, no PC/SC)."""
    from edge.devices import DeviceManager

    manager = DeviceManager(settings=settings, store=store,
                            pcsc_lister=lambda: [], start_qr_readers=False)
    await manager.start()
    assert manager.find_scanner("test:0") is not None, [d.id for d in manager.snapshot()]
    yield manager
    await manager.stop()


# --------------------------------------------------------------------------- browser


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
async def serve():
    """serve(app) runs the app on 127.0.0.1 and returns its base URL; stopped at teardown."""
    runners: list[web.AppRunner] = []

    async def start(app: web.Application) -> str:
        runner = web.AppRunner(app)
        await runner.setup()
        port = free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        runners.append(runner)
        return f"http://127.0.0.1:{port}"

    yield start
    for runner in runners:
        await runner.cleanup()


@pytest.fixture
async def server(serve, settings, store):
    return await serve(create_app(settings=settings, store=store))


@pytest.fixture
async def browser():
    if not shutil.which(CHROMIUM):
        pytest.skip("Debian's chromium is not installed (/usr/bin/chromium)")
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            await b.close()


# --------------------------------------------------------------------------- CCCD chip (pcscd + vpcd)

@pytest.fixture(scope="session")
def web_pcscd(tmp_path_factory):
    """A real pcscd with the vpcd virtual reader (shared with the device tests of this process)."""
    _cardfiles, _emulator, pcsc_stack = card_stack()
    reason = pcsc_stack.missing_reason()
    if reason:
        pytest.skip(reason)
    stack = pcsc_stack.PcscStack(tmp_path_factory.mktemp("pcscd") / "pcscd.log").start()
    yield stack
    stack.stop()


@pytest.fixture(scope="session")
def card_pki():
    cardfiles, _emulator, _stack = card_stack()
    return cardfiles.make_pki()


@pytest.fixture(scope="session")
def card_csca_dir(card_pki, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("csca")
    (folder / "vn-test-csca.pem").write_bytes(card_pki.csca_pem())
    return folder


@pytest.fixture
def insert_card(web_pcscd, card_pki):
    """insert_card(**card_options) puts the emulated CCCD on vpcd's first reader."""
    cardfiles, emulator_mod, pcsc_stack = card_stack()
    from edge.devices.cccd import MrzKey

    key = MrzKey.from_fields(cardfiles.ID_NUMBER, cardfiles.DOB, cardfiles.EXPIRY)
    started = []

    def insert(**options):
        card = emulator_mod.EmrtdCard(cardfiles.card_files(card_pki), key, **options)
        emulator = emulator_mod.VpcdEmulator(card).start()
        started.append(emulator)
        pcsc_stack.wait_for_card(True)
        return emulator

    yield insert
    for emulator in started:
        emulator.stop()
    if started:
        pcsc_stack.wait_for_card(False)
    for emulator in started:
        assert emulator.error is None, f"emulator crashed: {emulator.error!r}"
