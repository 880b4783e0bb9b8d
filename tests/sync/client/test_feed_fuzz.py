"""The feed applier against arbitrary items: a refused item leaves the store exactly as it was
(bar the one audit row that records the refusal, with the client's own error and a message)."""

from __future__ import annotations

import json
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge.store import Store
from sync.client._feed import FeedApplier, PullReport
from sync.protocol import FeedItem, FeedType
from tests.conftest import AGENCY, make_settings

STATION = "HN-0001"
KEYS = ["dossier_id", "status", "code", "status_name", "note", "changed_at", "version", "procedures", "username",
        "display_name", "role", "password_hash", "active", "date", "kind", "reason", "station_id", "retired",
        "partition_index", "partition_size", "agency_code", "command_id", "signature", "body", "issued_at"]
scalars = (st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=True)
           | st.text(max_size=20) | st.sampled_from(["５", "٣", "7", "0001", STATION, AGENCY, "2026-13-40", "day_off"]))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
                      max_leaves=8)
items = st.builds(
    FeedItem,
    seq=st.integers(1, 10**9),
    type=st.sampled_from(FeedType.ALL),
    created_at=st.just("2026-11-22T09:00:00Z"),
    data=st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), values, max_size=6),
)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    settings = make_settings(tmp_path_factory.mktemp("feedfuzz") / "box")
    Store.init(settings, agency_code=AGENCY)
    with Store.open(settings) as s:
        s.ingest(procedure_code="1.001612", applicant={"full_name": "Nguyễn Văn An", "id_number": "001099001234"},
                 pages=[], actor="clerk")
        yield s


def snapshot(store: Store) -> dict[str, list]:
    tables = [r["name"] for r in store.query("SELECT name FROM sqlite_master WHERE type = 'table'")]
    out = {t: sorted(store.query(f'SELECT * FROM "{t}"'), key=repr) for t in tables if t != "audit"}
    out["audit"] = store.query("SELECT * FROM audit ORDER BY seq")
    return out


def _item_partition(index, size) -> FeedItem:
    return FeedItem(seq=1, type=FeedType.CODE_PARTITION, created_at="2026-11-22T09:00:00Z",
                    data={"agency_code": AGENCY, "partition_index": index, "partition_size": size})


def apply(store: Store, item: FeedItem) -> PullReport:
    applier = FeedApplier(store, station_id=STATION, receipt_key=b"\x01" * 32, now=time.time)
    report = PullReport()
    store.write(lambda conn: applier.apply(conn, item, report))
    return report


@pytest.mark.parametrize(("index", "size"), [("５", 100), ("7", 100), (7.0, 100), (True, 100), (1, "１００")])
def test_a_partition_that_is_not_two_integers_is_refused(store, index, size):
    before = store.meta_get("code_partition_index")
    report = apply(store, _item_partition(index, size))
    assert report.skipped == 1 and report.applied == 0
    assert store.meta_get("code_partition_index") == before


@given(item=items, known=st.booleans())
def test_an_arbitrary_item_is_applied_or_refused_with_nothing_written(store, item, known):
    if known:  # about the box's own dossier, so that more than the first check is reached
        item.data["dossier_id"] = store.query("SELECT id FROM dossiers")[0]["id"]
    before = snapshot(store)
    report = apply(store, item)
    after = snapshot(store)
    assert report.applied + report.skipped == 1
    if report.applied:
        return
    new_audit = after.pop("audit")[len(before["audit"]):]
    before.pop("audit")
    assert after == before
    assert [a["action"] for a in new_audit] == ["sync.feed_item_refused"]
    details = json.loads(new_audit[0]["details"])
    assert details["error"].strip(), details
    assert details["error_type"] in {"ProtocolError", "SignatureError", "ValidationError", "StoreError",
                                     "NotFoundError", "IntegrityError", "CatalogError"}, details
