"""Helpers of the web tests: settings, a store with the demo catalog and accounts, log-in."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from edge import reception
from edge.config import load_settings
from edge.store import Store
from edge.web import accounts

PASSWORDS = {"clerk": "clerk-pass-1", "super": "super-pass-1", "admin": "admin-pass-1"}
AGENCY = "000.00.06.H56"


def make_settings(tmp_path: Path, **web):
    settings = load_settings(None, env={}, overrides={"store": {"state_dir": str(tmp_path / "state")}})
    if web:
        settings = settings.replace("web", **web)
    return settings


def open_store(tmp_path: Path, settings) -> Store:
    Store.init(settings, agency_code=AGENCY, demo_key_out=tmp_path / "city.key.json")
    store = Store.open(settings)
    reception.import_catalog(store, reception.load_catalog_json(reception.DEMO_CATALOG), source="demo")
    accounts.create_account(store, "clerk", "Nguyễn Thị Cán Bộ", "clerk", PASSWORDS["clerk"])
    accounts.create_account(store, "super", "Trần Văn Lãnh Đạo", "supervisor", PASSWORDS["super"])
    accounts.create_account(store, "admin", "Quản Trị", "admin", PASSWORDS["admin"])
    return store


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "page carries no CSRF token"
    return match.group(1)


async def login(client, username: str = "clerk") -> str:
    """Log in through the form; returns the CSRF token of the session."""
    resp = await client.post("/login", data={"username": username, "password": PASSWORDS[username], "next": "/"},
                             allow_redirects=False)
    assert resp.status == 303, await resp.text()
    page = await client.get("/dossiers/new" if username != "admin" else "/admin/users")
    return csrf_of(await page.text())


async def api_token(client, username: str = "clerk") -> dict[str, str]:
    resp = await client.post("/api/v1/session", json={"username": username, "password": PASSWORDS[username]})
    assert resp.status == 201, await resp.text()
    body = await resp.json()
    return {"Authorization": f"Bearer {body['token']}"}


APPLICANT = {"full_name": "Lê Thị Hồng Nhung", "id_number": "001190012345", "date_of_birth": "1990-05-17",
             "gender": "Nữ", "address": "12 Phố Huế, Hà Nội", "phone": "0912345678"}

PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
       b"\x00\x00\x00\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\x00\x05\x00\x01\xff\x89\x99=\x1d\x00\x00\x00\x00IEND\xaeB`\x82")
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


async def finalized_via_form(client, csrf: str, store, *, applicant: dict | None = None,
                             procedure_code: str = "1.004222", **fee: str) -> tuple[str, str]:
    """A draft with both required pages (1.004222: CT01, CMCH), finalized through the form."""
    dossier_id = store.create_draft(procedure_code=procedure_code, applicant=applicant or APPLICANT, actor="clerk",
                                    form={"channel": "direct"})
    store.add_page(dossier_id, PNG, component="CT01", media_type="image/png", actor="clerk")
    store.add_page(dossier_id, PDF, component="CMCH", media_type="application/pdf", actor="clerk")
    resp = await client.post(f"/dossiers/{dossier_id}/finalize", data={"csrf_token": csrf, **fee},
                             allow_redirects=False)
    assert resp.status == 303, await resp.text()
    return dossier_id, store.summary(dossier_id).code


CCCD_TESTS = Path(__file__).resolve().parents[1] / "devices" / "cccd"


def card_stack():
    """The card emulator, its test card files and the pcscd helper of tests/edge/devices/cccd
    (imported by their own unique module names: never through a module called ``conftest``)."""
    if str(CCCD_TESTS) not in sys.path:
        sys.path.insert(0, str(CCCD_TESTS))
    import cccd_cardfiles
    import emrtd_emulator
    import pcsc_stack

    return cccd_cardfiles, emrtd_emulator, pcsc_stack
