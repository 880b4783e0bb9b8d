"""The city opens a sealed dossier with its private key; after shredding the box cannot."""

from __future__ import annotations

import io
import os

import pytest

from edge.errors import IntegrityError, StoreError
from edge.store import CityPrivateKey, PageSource, Store, decrypt_page, open_manifest

APPLICANT = {"full_name": "Phạm Văn Đức", "id_number": "001088007777"}


def test_city_key_opens_a_dossier_end_to_end(box_store: Store, city_private_key) -> None:
    pages = [os.urandom(150_000), os.urandom(10)]
    did, code = box_store.ingest(procedure_code="2.000001", applicant=APPLICANT, actor="t",
                                 pages=[PageSource(source=p, media_type="image/png") for p in pages], form={"x": 1})
    manifest = box_store.export_manifest(did)
    assert manifest["dek"]["kem"] == "MLKEM768_X25519" and manifest["code"] == code
    opened = open_manifest(manifest, city_private_key)
    assert opened.applicant["full_name"] == "Phạm Văn Đức" and opened.form == {"x": 1}
    for meta, data in zip(manifest["blobs"], pages, strict=True):
        blob = box_store.blobs.path(meta["sha256"]).read_bytes()
        assert b"".join(decrypt_page(opened.dek, did, io.BytesIO(blob))) == data
    with pytest.raises(IntegrityError):
        open_manifest(manifest, CityPrivateKey.generate())


def test_x25519_kem_is_selectable(tmp_path) -> None:
    from tests.conftest import make_settings

    settings = make_settings(tmp_path / "b", store={"hpke_kem": "X25519"})
    result = Store.init(settings, agency_code="000.00.06.H56")
    from edge.store import load_city_private_key

    key = load_city_private_key(result.demo_city_private_key.read_text())
    with Store.open(settings) as store:
        did, _ = store.ingest(procedure_code="2.000001", applicant=APPLICANT, actor="t", pages=[])
        manifest = store.export_manifest(did)
    assert manifest["dek"]["kem"] == "X25519"
    assert open_manifest(manifest, key).applicant["id_number"] == "001088007777"


def test_shred_needs_a_verified_receipt_then_leaves_nothing_readable(box_store: Store, city_private_key) -> None:
    did, code = box_store.ingest(procedure_code="2.000001", applicant=APPLICANT, actor="t",
                                 pages=[PageSource(source=b"secret page", media_type="image/png")])
    manifest = box_store.export_manifest(did)
    with pytest.raises(StoreError, match="no verified city receipt"):
        box_store.shred(did, actor="t", reason="retention")
    box_store.write(lambda conn: conn.execute(
        "UPDATE outbox SET state = 'confirmed', receipt_verified = 1 WHERE dossier_id = ?", (did,)))
    blob = box_store.pages(did)[0].blob
    box_store.shred(did, actor="sync", reason="retention")
    summary = box_store.summary(did)
    assert summary.status == "shredded" and summary.code == code and summary.sync_state == "shredded"
    assert not box_store.blobs.path(blob).exists()
    assert box_store.get(did).applicant is None
    with pytest.raises(StoreError, match="no page 1"):
        b"".join(box_store.read_page(did, 1))
    with pytest.raises(StoreError, match="shredded"):
        box_store.seal(did, b"x", "y")
    row = box_store.query("SELECT local_wrap, sealed_applicant, city_seal, id_hash FROM dossiers WHERE id = ?", (did,))[0]
    assert set(row.values()) == {None}
    assert box_store.find_by_id_number("001088007777") == [] and box_store.find_by_name("Đức") == []
    assert box_store.check().ok
    # The city still opens its copy: what it received was sealed to its own key.
    assert open_manifest(manifest, city_private_key).applicant["full_name"] == "Phạm Văn Đức"


def test_get_of_a_shredded_dossier_has_no_personal_data(box_store: Store) -> None:
    did = box_store.create_draft(procedure_code="2.000001", applicant=APPLICANT, actor="t")
    box_store.shred(did, actor="clerk", reason="draft abandoned")
    dossier = box_store.get(did)
    assert dossier.applicant is None and dossier.status == "shredded"
