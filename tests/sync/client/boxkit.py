"""Helpers of the box-side sync tests: a box with a store, dossiers, and the exactly-once check."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from edge.config import Settings
from edge.outbox import ingest_and_enqueue
from edge.store import PageSource, Store

AGENCY = "000.00.06.H56"


def hub_port(hub) -> int:
    return int(hub.url.rsplit(":", 1)[1])


def box_settings(state_dir: Path, **sync) -> Settings:
    settings = Settings().replace("store", state_dir=str(state_dir), hpke_kem="X25519", disk_alarm_free_mb=1)
    settings = settings.replace("station", agency_code=AGENCY)
    values = {"request_timeout_seconds": 3, "chunk_size_kb": 256, **sync}
    return settings.replace("sync", **values)


def make_box(tmp_path: Path, name: str = "box", **sync) -> tuple[Settings, Store]:
    settings = box_settings(tmp_path / name, **sync)
    Store.init(settings, agency_code=AGENCY, city_public_key=None, demo_key_out=tmp_path / f"{name}-demo-city.json")
    return settings, Store.open(settings)


def add_dossier(store: Store, *, pages: int = 2, page_bytes: int = 300_000) -> str:
    sources = [PageSource(source=os.urandom(page_bytes), component=f"tp{i}", media_type="image/png")
               for i in range(pages)]
    dossier_id, _code = ingest_and_enqueue(store, procedure_code="1.001612",
                                     applicant={"full_name": "Nguyễn Văn An", "id_number": "001099001234"},
                                     pages=sources, actor="clerk")
    return dossier_id


def hub_dossiers(hub, station_id: str | None = None) -> dict[str, dict]:
    """Every dossier the hub holds: state, code and its blobs hashed from the files on disk."""
    out = {}
    for d in hub.storage.list_dossiers(station_id=station_id):
        files = []
        for b in sorted(d.blobs, key=lambda b: b.index):
            path = hub.data_dir / "blobs" / b.sha256[:2] / b.sha256
            digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None
            files.append((b.sha256, b.complete, digest))
        out[d.dossier_id] = {"state": d.state, "code": d.code, "blobs": files, "station": d.station_id}
    return out


def box_dossiers(store: Store) -> dict[str, list[str]]:
    return {row["id"]: [p.blob for p in store.pages(row["id"])]
            for row in store.query("SELECT id FROM dossiers WHERE status IN ('finalized', 'handed_over')")}


def assert_exactly_once(store: Store, hub, *, station_id: str | None = None) -> None:
    """The hub holds each of the box's dossiers once, committed, with every blob byte-identical."""
    box = box_dossiers(store)
    held = hub_dossiers(hub, station_id)
    assert set(held) == set(box), f"hub has {sorted(held)}; box has {sorted(box)}"
    codes = [v["code"] for v in held.values()]
    assert len(codes) == len(set(codes)), "a dossier code appears twice at the hub"
    for dossier_id, blobs in box.items():
        h = held[dossier_id]
        assert h["state"] == "committed", (dossier_id, h["state"])
        assert [b[0] for b in h["blobs"]] == blobs
        for sha, complete, digest in h["blobs"]:
            assert complete and digest == sha, f"blob {sha[:12]} at the hub is {digest}"
    states = {r["state"] for r in store.query("SELECT state FROM outbox")}
    assert states <= {"committed", "confirmed"}, states
    assert {r["receipt_verified"] for r in store.query("SELECT receipt_verified FROM outbox")} <= {1}
