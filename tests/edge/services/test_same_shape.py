"""The web form, the JSON API and ``motcua dossier create`` receive a dossier of one shape: the
same form, documents, meta (fee, channel, clerk, checklist, override), appointment and audit."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys
from pathlib import Path

from edge.web import accounts, create_app

from .test_finalize_transaction import APPLICANT, PNG

ROOT = Path(__file__).resolve().parents[3]
PROC = "1.004222"  # CT01 and CMCH required; only CT01 is given, so a supervisor accepts the rest
PASSWORDS = {"clerk": "clerk-pass-1", "super": "super-pass-1"}


def _accounts(store) -> None:
    accounts.create_account(store, "clerk", "Nguyễn Thị Cán Bộ", "clerk", PASSWORDS["clerk"])
    accounts.create_account(store, "super", "Trần Văn Lãnh Đạo", "supervisor", PASSWORDS["super"])


def shape(dossier: dict, documents: list[dict]) -> dict:
    """What must agree: everything but ids, times, codes' numbers and who did it."""
    meta = dossier["meta"]
    return {
        "status": dossier["status"], "procedure_code": dossier["procedure_code"],
        "code_agency": (dossier["code"] or "").rsplit("-", 2)[0], "has_due": bool(dossier["due_at"]),
        "form": sorted(dossier["form"]), "channel": dossier["form"].get("channel"),
        "meta": sorted(meta), "fee": meta.get("fee"), "fee_method": meta.get("fee_method"),
        "components": meta.get("components"), "override_missing": (meta.get("override") or {}).get("missing"),
        "pages": [(p["component"], p["media_type"]) for p in dossier["pages"]],
        "documents": sorted((d["component"], d["kind"], d["count"], bool(d["provided"])) for d in documents),
    }


def _local(store, dossier_id: str) -> dict:
    return shape(dataclasses.asdict(store.get(dossier_id)), store.documents(dossier_id))


async def _web(aiohttp_client, settings, store) -> dict:
    client = await aiohttp_client(create_app(settings=settings, store=store))
    await client.post("/login", data={"username": "clerk", "password": PASSWORDS["clerk"], "next": "/"})
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', await (await client.get("/dossiers/new")).text()).group(1)
    resp = await client.post("/dossiers/new", data={"csrf_token": csrf, "procedure_code": PROC, "channel": "direct",
                                                    **APPLICANT}, allow_redirects=False)
    assert resp.status == 303, await resp.text()
    dossier_id = resp.headers["Location"].split("/")[2].split("?")[0]
    form = {"csrf_token": csrf, "component": "CT01"}
    import aiohttp

    data = aiohttp.FormData()
    for key, value in form.items():
        data.add_field(key, value)
    data.add_field("file", PNG, filename="p.png", content_type="image/png")
    resp = await client.post(f"/dossiers/{dossier_id}/pages", data=data, allow_redirects=False)
    assert resp.status == 303, await resp.text()
    resp = await client.post(f"/dossiers/{dossier_id}/finalize", allow_redirects=False, data={
        "csrf_token": csrf, "fee_method": "later", "override_username": "super",
        "override_password": PASSWORDS["super"]})
    assert resp.status == 303, await resp.text()
    return _local(store, dossier_id)


async def _api(aiohttp_client, settings, store) -> dict:
    client = await aiohttp_client(create_app(settings=settings, store=store))
    token = (await (await client.post("/api/v1/session", json={"username": "clerk",
                                                               "password": PASSWORDS["clerk"]})).json())["token"]
    auth = {"Authorization": f"Bearer {token}"}
    resp = await client.post("/api/v1/dossiers", headers=auth, json={"procedure_code": PROC, "applicant": APPLICANT})
    assert resp.status == 201, await resp.text()
    dossier_id = (await resp.json())["id"]
    resp = await client.post(f"/api/v1/dossiers/{dossier_id}/pages?component=CT01", data=PNG,
                             headers={**auth, "Content-Type": "application/octet-stream"})
    assert resp.status == 201, await resp.text()
    resp = await client.post(f"/api/v1/dossiers/{dossier_id}/finalize", headers=auth, json={
        "fee": {"method": "later"}, "override": {"username": "super", "password": PASSWORDS["super"]}})
    assert resp.status == 200, await resp.text()
    return _local(store, dossier_id)


def motcua(*args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOTCUA_")}
    proc = subprocess.run([sys.executable, "-m", "edge.cli", *args], cwd=ROOT, capture_output=True, text=True,
                          env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def _cli(tmp_path: Path) -> dict:
    state = tmp_path / "cli-box"
    motcua("--state-dir", str(state), "init", "--agency", "000.00.06.H56")
    motcua("--state-dir", str(state), "catalog", "import", str(ROOT / "edge" / "reception" / "data" / "demo_catalog.json"))
    applicant = tmp_path / "a.json"
    applicant.write_text(json.dumps(APPLICANT, ensure_ascii=False))
    page = tmp_path / "p.png"
    page.write_bytes(PNG)
    created = json.loads(motcua("--state-dir", str(state), "dossier", "create", "--procedure", PROC, "--applicant",
                                str(applicant), "--page", str(page), "--component", "CT01", "--actor", "canbo"))
    shown = json.loads(motcua("--state-dir", str(state), "dossier", "show", created["id"], "--json"))
    from edge.config import load_settings
    from edge.store import Store

    with Store.open(load_settings(None, env={}, overrides={"store": {"state_dir": str(state)}})) as store:
        documents = store.documents(created["id"])
    return shape(shown, documents)


async def test_web_api_and_cli_receive_the_same_dossier(aiohttp_client, settings, store, tmp_path):
    _accounts(store)
    web = await _web(aiohttp_client, settings, store)
    api = await _api(aiohttp_client, settings, store)
    cli = _cli(tmp_path)
    assert web["status"] == "finalized" and web["override_missing"] == ["CMCH"] and web["has_due"]
    assert {(c, provided) for c, _kind, _count, provided in web["documents"]} == {("CMCH", False), ("CT01", True)}
    assert api == web
    assert cli == web
