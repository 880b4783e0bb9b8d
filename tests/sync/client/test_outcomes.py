"""Refusals and requests to supplement, made offline, reach the city like received dossiers: the
hub stores what happened at the counter, counts it, and links a completed dossier to its request."""

from __future__ import annotations

from boxkit import assert_exactly_once

from edge import reception, services
from sync.hub._core import dossier_admin_view

APPLICANT = {"full_name": "Nguyễn Văn An", "id_number": "001099001234", "date_of_birth": "1999-01-02",
             "gender": "Nam", "address": "Số 3 phố Tràng Tiền, Phường Hoàn Kiếm, Thành phố Hà Nội"}
PROCEDURE = "1.004222"


async def test_the_city_counts_refusals_and_links_a_completed_dossier(box, hub):
    settings, store, client = box
    reception.import_catalog(store, reception.load_catalog_json(reception.DEMO_CATALOG), source="demo")

    def draft() -> str:
        return services.create_draft(store, actor="canbo", procedure_code=PROCEDURE, applicant=APPLICANT)

    services.refuse(store, draft(), actor="canbo", reason="Không thuộc thẩm quyền của xã")
    asked = services.request_supplement(store, draft(), actor="canbo", items=["CMCH:Thiếu hợp đồng thuê nhà"])
    completed = services.create_draft(store, actor="canbo", procedure_code=PROCEDURE, applicant=APPLICANT,
                                      supplement_of=asked)
    new_code = services.finalize(store, settings, completed, actor="canbo", fee={"method": "later"},
                                 override_by="giamsat")
    await client.sync_once()
    assert_exactly_once(store, hub)
    assert hub.storage.outcome_counts() == {"received": 1, "refused": 1, "supplement_requested": 1}
    assert hub.storage.outcome_counts(agency_code="000.00.00.H99") == {"received": 0, "refused": 0,
                                                                        "supplement_requested": 0}
    views = {v["code"]: v for v in map(dossier_admin_view, hub.storage.list_dossiers())}
    assert views[asked]["outcome"] == "supplement_requested"
    assert views[new_code]["outcome"] == "received" and views[new_code]["supplement_of"] == asked
    assert views[new_code]["due_at"] and views[asked]["due_at"] is None
