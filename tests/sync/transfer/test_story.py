"""The whole story: dossiers taken offline on box A, exported to a stick, imported at box B (a
relay with a link) which forwards them to a real hub without being able to read them, receipts
carried back to A on a second stick, and A shredding only after that."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest
from boxkit import add_dossier, assert_exactly_once, hub_dossiers

from sync.client import SyncClient
from sync.protocol import STICK_DIR
from sync.transfer import export_transfer, import_stick, write_receipts_stick

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # tests/: plaintext
from plaintext import find_plaintext

MARKER = "Nguyễn Văn An"


def _states(store) -> dict[str, str]:
    return {r["dossier_id"]: r["state"] for r in store.query("SELECT dossier_id, state FROM outbox")}


PAGE = b"PAGE-IN-THE-CLEAR-" + os.urandom(4096)


def _no_plaintext(root: Path) -> None:
    hits = find_plaintext(root, [MARKER, "001099001234"], raw=[PAGE[:64]])
    assert hits == [], f"personal data in the clear: {hits}"


def _known_page_dossier(store) -> str:
    from edge.outbox import ingest_and_enqueue
    from edge.store import PageSource

    dossier_id, _ = ingest_and_enqueue(store, procedure_code="1.001612",
                                       applicant={"full_name": MARKER, "id_number": "001099001234"},
                                       pages=[PageSource(source=PAGE, component="tp", media_type="image/png")],
                                       actor="clerk")
    return dossier_id


@pytest.mark.parametrize("kind", ["vfat", "ext4", "dir"])
def test_offline_box_reaches_the_city_through_a_relay_and_a_stick(kind, hub, make_station, sticks):
    settings_a, box_a = make_station("MOBILE-01")
    settings_b, box_b = make_station("BRANCH-01")
    ids = [add_dossier(box_a, pages=2, page_bytes=200_000) for _ in range(2)] + [_known_page_dossier(box_a)]
    stick = sticks.make(kind)

    report = export_transfer(box_a, stick)
    assert sorted(report.dossiers) == sorted(ids)
    sticks.pull_out(stick)
    _no_plaintext(stick)  # sealed to the city: nothing readable on the stick
    assert hub_dossiers(hub) == {}

    # B relays: the hub holds each dossier once, committed, under A's station.
    relayed = import_stick(box_b, settings_b, stick)
    assert relayed.ok and len(relayed.transfers) == 1
    assert sorted(relayed.transfers[0].forwarded) == sorted(ids)
    held = hub_dossiers(hub)
    assert set(held) == set(ids) and {v["station"] for v in held.values()} == {"MOBILE-01"}
    assert all(v["state"] == "committed" and all(c and d == s for s, c, d in v["blobs"]) for v in held.values())
    # B holds no page and no key of A's dossiers: only the receipts.
    assert box_b.query("SELECT COUNT(*) AS n FROM dossiers")[0]["n"] == 0
    assert box_b.query("SELECT COUNT(*) AS n FROM transfer_relayed")[0]["n"] == 3
    _no_plaintext(Path(settings_b.store.state_dir))
    _no_plaintext(hub.data_dir)  # the hub holds them sealed too, until `hub open` with the city key
    # ... and the city, with its private key, reads them whole.
    from click.testing import CliRunner

    from edge.cli import cli

    opened = Path(settings_b.store.state_dir).parent / f"opened-{kind}"
    out = CliRunner().invoke(cli, ["hub", "open", ids[-1], "--data-dir", str(hub.data_dir), "--city-key",
                                   str(hub.city_private_key_path), "--out", str(opened)])
    assert out.exit_code == 0, out.output
    assert MARKER in (opened / "dossier.json").read_text(encoding="utf-8")
    assert [p.read_bytes() for p in opened.glob("page-*")] == [PAGE]

    # A still has everything and shreds nothing: no receipt has come back yet.
    client_a = SyncClient(settings=settings_a, store=box_a)
    assert client_a.retention().shredded == []
    assert set(_states(box_a).values()) == {"sealed"}
    assert client_a.status().pending == 3

    # Receipts back on a second stick, written at B.
    back = sticks.make(kind)
    write_receipts_stick(box_b, back)
    sticks.pull_out(back)
    applied = import_stick(box_a, settings_a, back)
    assert sorted(applied.receipts_applied) == sorted(ids) and applied.ok
    status = client_a.status()
    assert status.pending == 0 and status.counts == {"confirmed": 3}
    assert_exactly_once(box_a, hub)

    # Now, and only now, retention shreds them (retention_days = 0 here).
    assert sorted(client_a.retention().shredded) == sorted(ids)
    assert set(_states(box_a).values()) == {"shredded"}
    assert hub_dossiers(hub) == held  # nothing changed at the hub


def test_receipts_come_back_online_too(hub, make_station, sticks):
    """The origin's next online contact brings the receipts: its push finds them committed."""
    settings_a, box_a = make_station("MOBILE-02")
    settings_b, box_b = make_station("BRANCH-02")
    ids = [add_dossier(box_a, pages=1) for _ in range(2)]
    stick = sticks.make("dir")
    export_transfer(box_a, stick)
    assert import_stick(box_b, settings_b, stick).ok
    before = hub_dossiers(hub)

    client = SyncClient(settings=settings_a, store=box_a)

    async def online():
        try:
            return await client.sync_once()
        finally:
            await client.stop()

    status = asyncio.run(online())
    assert status.pending == 0
    assert set(_states(box_a).values()) <= {"committed", "confirmed"}
    assert hub_dossiers(hub) == before  # nothing uploaded twice
    assert sorted(before) == sorted(ids)


def test_a_half_written_stick_is_ignored(hub, make_station, sticks):
    settings_a, box_a = make_station("MOBILE-03")
    settings_b, box_b = make_station("BRANCH-03")
    add_dossier(box_a, pages=1)
    stick = sticks.make("dir")
    # A write interrupted before its rename: the directory keeps its partial name.
    report = export_transfer(box_a, stick)
    final = report.path
    final.rename(final.parent / f".partial-{final.name}")
    (stick / STICK_DIR / "no-document").mkdir()
    from sync.transfer import TransferError

    got = None
    try:
        got = import_stick(box_b, settings_b, stick)
    except TransferError as exc:  # nothing complete on the stick
        pytest.fail(f"a stick with leftovers should import its complete parts only: {exc}")
    assert got.partial == 2 and got.transfers == [] and hub_dossiers(hub) == {}
    # The next export clears the leftovers and writes a whole transfer.
    again = export_transfer(box_a, stick)
    assert sorted(p.name for p in (stick / STICK_DIR).iterdir()) == [again.path.name]
    assert json.loads((again.path / "transfer.json").read_text())["transfer"]["station_id"] == "MOBILE-03"
