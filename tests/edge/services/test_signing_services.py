"""Signing use cases on the real store with a SoftHSM2 token: a draft's component PDFs replaced by
their signed copies, nothing changed on a refusal, the token in the device registry."""

from __future__ import annotations

import pytest

from bench._token import remove_token
from edge import services
from edge.devices import DeviceKind, DeviceManager, DeviceStatus
from edge.signing import SigningError
from tests.tokens import PIN, component_pdf, signing_section, token_factory  # noqa: F401

APPLICANT = {"full_name": "Phạm Văn Số", "id_number": "001099012388", "date_of_birth": "1988-08-08"}


@pytest.fixture
def signing_store(box_store, token_factory):  # noqa: F811
    hsm = token_factory()
    settings = box_store.settings.replace("signing", **signing_section(hsm))
    return box_store, settings, hsm


def test_sign_draft_replaces_each_pdf_and_records_it(signing_store):
    store, settings, _hsm = signing_store
    did = store.create_draft(procedure_code="1.004222", applicant=APPLICANT, actor="lan")
    store.add_page(did, b"\x89PNG\r\n\x1a\n" + b"0" * 64, component="CT01", media_type="image/png", actor="lan")
    a, b = component_pdf(2, seed=1), component_pdf(3, seed=2)
    store.add_page(did, a, component="CT01", media_type="application/pdf", actor="lan")
    store.add_page(did, b, component="CMCH", media_type="application/pdf", actor="lan")
    records = services.sign_draft(store, settings, did, PIN, actor="lan")
    pages = {p.index: p for p in store.pages(did)}
    assert sorted(pages) == [1, 4, 5] and [r["index"] for r in records] == [4, 5]
    assert b"".join(store.read_page(did, 4)).startswith(a) and b"".join(store.read_page(did, 5)).startswith(b)
    meta = store.get(did).meta
    assert [r["component"] for r in meta["signatures"]] == ["CT01", "CMCH"] and meta["signing_replaced"] == []
    assert services.sign_draft(store, settings, did, PIN, actor="lan") == []  # nothing left to sign
    audit = store.query("SELECT details FROM audit WHERE action = 'dossier.sign' AND dossier_id = ?", (did,))
    assert len(audit) == 1 and PIN not in audit[0]["details"]


def test_a_refusal_changes_nothing(signing_store):
    store, settings, hsm = signing_store
    did = store.create_draft(procedure_code="1.004222", applicant=APPLICANT, actor="lan")
    store.add_page(did, component_pdf(1), component="CT01", media_type="application/pdf", actor="lan")
    before = (store.pages(did), store.get(did).meta)
    with pytest.raises(SigningError) as err:
        services.sign_draft(store, settings, did, "wrong-pin-111", actor="lan")
    assert err.value.status == "wrong_pin"
    remove_token(hsm)
    with pytest.raises(SigningError):
        services.sign_draft(store, settings, did, PIN, actor="lan")
    assert (store.pages(did), store.get(did).meta) == before


def test_an_interrupted_replacement_is_completed_by_the_next_signing(signing_store):
    store, settings, _hsm = signing_store
    did = store.create_draft(procedure_code="1.004222", applicant=APPLICANT, actor="lan")
    store.add_page(did, component_pdf(1), component="CT01", media_type="application/pdf", actor="lan")
    services.sign_draft(store, settings, did, PIN, actor="lan")
    # As a crash right after the signed pages' commit leaves it: the unsigned page 1 still there.
    store.add_page(did, component_pdf(1, seed=3), component="CT01", media_type="application/pdf", actor="lan")
    store.set_meta(did, actor="lan", signing_replaced=[3])
    services.sign_draft(store, settings, did, PIN, actor="lan")
    assert [p.index for p in store.pages(did)] == [2]


def test_the_token_is_in_the_device_registry(signing_store):
    store, settings, hsm = signing_store
    manager = DeviceManager(settings=settings, context_factory=lambda: None, sane_lister=lambda: [],
                            pcsc_lister=lambda: [], start_qr_readers=False,
                            listers={"pkcs11": lambda: services.token_device_records(settings)})
    [token] = [r for r in manager.enumerate_once() if r.kind is DeviceKind.SIGNING_TOKEN]
    props = dict(token.properties)
    assert token.status is DeviceStatus.READY and token.name == hsm.token_label
    assert props["cert_subject"].startswith("CN=Bộ phận Một cửa") and int(props["days_left"]) > 300
    remove_token(hsm)
    [token] = [r for r in manager.enumerate_once() if r.kind is DeviceKind.SIGNING_TOKEN]
    assert token.status is DeviceStatus.ABSENT and "Không tìm thấy thiết bị ký số" in token.last_error
