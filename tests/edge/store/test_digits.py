"""ID numbers, agency codes and partitions: ASCII digits only (typed digits are normalized)."""

from __future__ import annotations

import pytest

from edge.errors import StoreError, ValidationError
from edge.store import Applicant, Store, validate_agency_code
from edge.store._codes import validate_partition
from tests.conftest import AGENCY, make_settings

FULL_WIDTH_ID = "００１０９９００１２３４"  # 001099001234 typed with a full-width keyboard
ARABIC_INDIC_OLD = "٠١٢٣٤٥٦٧٨"


def test_unicode_digits_in_an_id_number_are_normalized_to_ascii():
    applicant = Applicant.from_dict({"full_name": "Nguyễn Văn An", "id_number": FULL_WIDTH_ID,
                                     "old_id_number": ARABIC_INDIC_OLD})
    assert applicant.id_number == "001099001234"
    assert applicant.old_id_number == "012345678"


def test_the_blind_index_of_a_normalized_number_matches_the_real_one(box_store: Store):
    dossier_id = box_store.create_draft(procedure_code="1.001612", actor="clerk",
                                        applicant={"full_name": "Nguyễn Văn An", "id_number": FULL_WIDTH_ID})
    found = [d.id for d in box_store.find_by_id_number("001099001234")]
    assert found == [dossier_id]


@pytest.mark.parametrize("value", ["00109900123x", "²⁰¹⁰⁹⁹⁰⁰¹²³⁴", "0010990012345", "00109900123"])
def test_what_is_not_twelve_digits_is_refused(value):
    with pytest.raises(ValidationError) as info:
        Applicant.from_dict({"full_name": "A", "id_number": value})
    assert info.value.field == "id_number"


@pytest.mark.parametrize("code", ["０００.00.06.H56", "000.00.06.H٥6", "000.00.06.h56", "000.00.06.H56\n"])
def test_agency_codes_are_ascii_only(code):
    with pytest.raises(ValidationError):
        validate_agency_code(code)


def test_store_init_refuses_a_non_ascii_agency(tmp_path):
    with pytest.raises(ValidationError):
        Store.init(make_settings(tmp_path / "box"), agency_code="000.00.0６.H56")
    assert not (tmp_path / "box" / "motcua.db").exists()
    assert validate_agency_code(AGENCY) == AGENCY


@pytest.mark.parametrize(("index", "size"), [(-1, 10), (0, 0), (1, 5000), (True, 10), (0, 10000)])
def test_partitions_that_do_not_fit_are_refused(index, size):
    with pytest.raises(StoreError, match="does not fit"):
        validate_partition(index, size)


def test_a_search_typed_with_full_width_digits_finds_the_dossier(box_store: Store):
    dossier_id = box_store.create_draft(procedure_code="1.001612", actor="clerk",
                                        applicant={"full_name": "Nguyễn Văn An", "id_number": "001099001234"})
    assert [d.id for d in box_store.find_by_id_number(FULL_WIDTH_ID)] == [dossier_id]
