"""The API's summary JSON: the same as ``dataclasses.asdict``, without its deep copy."""

from __future__ import annotations

import dataclasses

from edge.store import DossierSummary
from edge.web._api import _summary


def test_a_summary_is_its_fields_as_asdict_gives_them() -> None:
    s = DossierSummary(id="d1", code="000.00.06.H56-260101-0001", procedure_code="1.001612", status="finalized",
                       city_status=None, sync_state="sealed", created_at="2026-01-01T02:00:00+00:00",
                       finalized_at=None, due_at=None, page_count=2)
    assert _summary(s) == dataclasses.asdict(s)
    assert list(_summary(s)) == [f.name for f in dataclasses.fields(s)]


def test_a_nested_value_still_goes_through_asdict() -> None:
    @dataclasses.dataclass
    class Inner:
        n: int

    @dataclasses.dataclass
    class Outer:
        id: str
        inner: Inner
        tags: list

    o = Outer(id="x", inner=Inner(n=1), tags=[1, 2])
    out = _summary(o)
    assert out == {"id": "x", "inner": {"n": 1}, "tags": [1, 2]}
    assert out["tags"] is not o.tags  # copied, as asdict does
