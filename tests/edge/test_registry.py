"""Feed items of the catalog, calendar and clerk types go to the handler their package registered."""

from __future__ import annotations

import json
import time

import pytest

from edge._registry import REGISTRY
from edge.reception import DEMO_CATALOG, list_procedures
from sync.client._feed import FeedApplier, PullReport
from sync.protocol import FeedItem, FeedType


def _apply(store, item: FeedItem) -> PullReport:
    applier = FeedApplier(store, station_id=store.station_id, receipt_key=None, now=time.time)
    report = PullReport()
    store.write(lambda conn: applier.apply(conn, item, report))
    return report


def _catalog_item() -> FeedItem:
    doc = json.loads(DEMO_CATALOG.read_text(encoding="utf-8"))
    return FeedItem(seq=7, type=FeedType.PROCEDURE_CATALOG, created_at="2026-11-22T09:00:00Z",
                    data={"version": "2026.11", "procedures": doc["procedures"]})


def test_the_catalog_feed_goes_to_the_reception_handler(box_store) -> None:
    assert REGISTRY.feed_handlers[FeedType.PROCEDURE_CATALOG].__module__ == "edge.reception._extension"
    report = _apply(box_store, _catalog_item())
    assert (report.applied, report.skipped) == (1, 0)
    assert len(list_procedures(box_store)) > 0
    assert box_store.meta_get("sync.catalog") is None


def test_without_a_registered_handler_the_catalog_document_is_kept(box_store, monkeypatch) -> None:
    monkeypatch.delitem(REGISTRY.feed_handlers, FeedType.PROCEDURE_CATALOG)
    report = _apply(box_store, _catalog_item())
    assert (report.applied, report.skipped) == (1, 0)
    assert list_procedures(box_store) == []
    assert json.loads(box_store.meta_get("sync.catalog"))["version"] == "2026.11"


def test_a_type_nobody_registered_is_skipped(box_store, monkeypatch) -> None:
    monkeypatch.delitem(REGISTRY.feed_handlers, FeedType.CLERK_ACCOUNT)
    item = FeedItem(seq=8, type=FeedType.CLERK_ACCOUNT, created_at="2026-11-22T09:00:00Z",
                    data={"username": "lan.nt", "display_name": "Lan", "role": "clerk", "password_hash": "x",
                          "active": True})
    report = _apply(box_store, item)
    assert (report.applied, report.skipped) == (0, 1)


@pytest.mark.parametrize("bad", [{"version": "2026.11"}, {"procedures": "nope"}])
def test_a_refused_registered_item_rolls_back_and_is_audited(box_store, bad) -> None:
    item = FeedItem(seq=9, type=FeedType.PROCEDURE_CATALOG, created_at="2026-11-22T09:00:00Z", data=bad)
    report = _apply(box_store, item)
    assert (report.applied, report.skipped) == (0, 1)
    assert list_procedures(box_store) == []
    assert box_store.query("SELECT action FROM audit WHERE action = 'sync.feed_item_refused'")
