"""Reading dossiers: summaries, look-ups, whole dossiers, pages and the city manifest.

A mixin of :class:`edge.store.Store`; it relies on the store's database, keys and blobs.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterator
from typing import Any

from core.codes import normalize_digits
from core.manifest import wire_manifest
from edge.errors import NotFoundError, StoreError

from ._crypto import decrypt_stream, open_bytes
from ._model import LIST_STATUSES, OUTCOMES, Applicant, Dossier, DossierSummary, PageInfo, fold_name


class DossierReads:
    """The read side of the store (no method here writes)."""

    _SUMMARY_COLUMNS = """d.id, d.code, d.procedure_code, d.status,
        CASE WHEN d.status = 'draft' THEN NULL ELSE COALESCE(d.outcome, 'received') END AS outcome,
        d.city_status, o.state AS sync_state, d.created_at, d.finalized_at, d.due_at,
        (SELECT COUNT(*) FROM pages p WHERE p.dossier_id = d.id) AS page_count"""
    _SUMMARY_SQL = f"SELECT {_SUMMARY_COLUMNS} FROM dossiers d LEFT JOIN outbox o ON o.dossier_id = d.id"
    # One summary as a JSON object, built by SQLite itself (the list endpoint's rows go out as they
    # come, without a Python object per field); the keys are DossierSummary's, in its order.
    _SUMMARY_JSON_SQL = """SELECT json_object('id', d.id, 'code', d.code, 'procedure_code', d.procedure_code,
        'status', d.status,
        'outcome', CASE WHEN d.status = 'draft' THEN NULL ELSE COALESCE(d.outcome, 'received') END,
        'city_status', d.city_status, 'sync_state', o.state, 'created_at', d.created_at,
        'finalized_at', d.finalized_at, 'due_at', d.due_at,
        'page_count', (SELECT COUNT(*) FROM pages p WHERE p.dossier_id = d.id)) AS j, d.created_at, d.counter
        FROM dossiers d LEFT JOIN outbox o ON o.dossier_id = d.id"""

    @staticmethod
    def _summary(row: dict) -> DossierSummary:
        return DossierSummary(**row)

    def summary(self, dossier_id: str) -> DossierSummary:
        row = self._database.one(self._SUMMARY_SQL + " WHERE d.id = ?", (dossier_id,))
        if row is None:
            raise NotFoundError(f"dossier {dossier_id} does not exist", message_vi="Không tìm thấy hồ sơ.")
        return self._summary(row)

    def _list_where(self, status: str | None, before: tuple[str, int] | None) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        if status is not None:
            if status not in LIST_STATUSES:
                raise StoreError(f"unknown list status {status!r} (one of {', '.join(LIST_STATUSES)})")
            if status in OUTCOMES:
                clauses.append("d.outcome = ?")
            else:
                clauses.append("d.status = ?")
                if status == "finalized":  # received: a refused or sent-back dossier is listed by its outcome
                    clauses.append("d.outcome IS NULL")
            params.append(status)
        if before is not None:
            created_at, counter = before
            clauses.append("(d.created_at, d.counter) < (?, ?)")
            params += [str(created_at), int(counter)]
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params

    def list(self, *, limit: int = 50, offset: int = 0, status: str | None = None,
             before: tuple[str, int] | None = None) -> list[DossierSummary]:
        """Newest first, ordered by (created_at, counter). ``before`` is a keyset cursor: the
        ``(created_at, counter)`` of the last row already shown; deep pages then cost as much as
        the first (``offset`` still works, but walks every skipped row). ``status`` is one of
        :data:`LIST_STATUSES`: a life-cycle status (``finalized`` meaning received), or an outcome
        (``refused``, ``supplement_requested``) read from an indexed column."""
        where, params = self._list_where(status, before)
        rows = self._database.query(self._SUMMARY_SQL + where + " ORDER BY d.created_at DESC, d.counter DESC LIMIT ? OFFSET ?",
                                    (*params, int(limit), int(offset)))
        return [self._summary(r) for r in rows]

    def list_json(self, *, limit: int = 50, offset: int = 0, status: str | None = None,
                  before: tuple[str, int] | None = None) -> list[tuple[str, str, int]]:
        """:meth:`list` as JSON texts, one object per summary (the same keys and values), each
        with its ``before`` cursor ``(created_at, counter)``: for a list that is sent on as JSON,
        without a Python object per field."""
        where, params = self._list_where(status, before)
        return self._database.rows(self._SUMMARY_JSON_SQL + where
                                   + " ORDER BY d.created_at DESC, d.counter DESC LIMIT ? OFFSET ?",
                                   (*params, int(limit), int(offset)))

    def list_cursor(self, dossier_id: str) -> tuple[str, int] | None:
        """The ``before`` cursor that continues a :meth:`list` page ending with this dossier."""
        row = self._database.one("SELECT created_at, counter FROM dossiers WHERE id = ?", (dossier_id,))
        return (row["created_at"], row["counter"]) if row else None

    def count(self, *, status: str | None = None) -> int:
        """How many dossiers :meth:`list` would list with this ``status`` filter."""
        where, params = self._list_where(status, None)
        return self._database.one("SELECT COUNT(*) AS n FROM dossiers d" + where, tuple(params))["n"]

    def find_by_id_number(self, id_number: str) -> list[DossierSummary]:
        idx = self.blind_index("id_number", normalize_digits(unicodedata.normalize("NFC", id_number).strip()))
        rows = self._database.query(self._SUMMARY_SQL + " WHERE d.id_hash = ? ORDER BY d.created_at DESC", (idx,))
        return [self._summary(r) for r in rows]

    def find_by_code(self, code: str) -> DossierSummary | None:
        row = self._database.one(self._SUMMARY_SQL + " WHERE d.code = ?", (code.strip(),))
        return self._summary(row) if row else None

    def find_by_name(self, text: str, *, limit: int = 100) -> list[DossierSummary]:
        tokens = sorted(set(fold_name(text)))
        if not tokens:
            return []
        hashes = [self.blind_index("name", t) for t in tokens]
        marks = ",".join("?" * len(hashes))
        rows = self._database.query(
            self._SUMMARY_SQL + f""" WHERE d.id IN (SELECT dossier_id FROM name_index WHERE token IN ({marks})
                GROUP BY dossier_id HAVING COUNT(*) = ?) ORDER BY d.created_at DESC LIMIT ?""",
            (*hashes, len(hashes), limit))
        return [self._summary(r) for r in rows]

    def pages(self, dossier_id: str) -> tuple[PageInfo, ...]:
        rows = self._database.query("SELECT idx, component, media_type, blob, size, plain_size FROM pages WHERE dossier_id = ? ORDER BY idx",
                                    (dossier_id,))
        return tuple(PageInfo(index=r["idx"], component=r["component"], media_type=r["media_type"], blob=r["blob"],
                              size=r["size"], plain_size=r["plain_size"]) for r in rows)

    def documents(self, dossier_id: str) -> list[dict[str, Any]]:
        return self._database.query("SELECT component, name, kind, count, provided FROM documents WHERE dossier_id = ? ORDER BY rowid",
                                    (dossier_id,))

    def get(self, dossier_id: str) -> Dossier:
        """The whole dossier, personal data opened (not possible once shredded)."""
        row = self._database.one("SELECT d.*, o.state AS sync_state FROM dossiers d LEFT JOIN outbox o ON o.dossier_id = d.id WHERE d.id = ?",
                                 (dossier_id,))
        if row is None:
            raise NotFoundError(f"dossier {dossier_id} does not exist", message_vi="Không tìm thấy hồ sơ.")
        applicant: Applicant | None = None
        form: dict[str, Any] = {}
        if row["local_wrap"] is not None:
            dek = self._dek(dossier_id, row)
            aid = dossier_id.encode()
            applicant = Applicant(**json.loads(open_bytes(dek, row["sealed_applicant"], b"applicant|" + aid)))
            form = json.loads(open_bytes(dek, row["sealed_form"], b"form|" + aid))
        return Dossier(id=row["id"], code=row["code"], procedure_code=row["procedure_code"], status=row["status"],
                       city_status=row["city_status"], sync_state=row["sync_state"], created_at=row["created_at"],
                       finalized_at=row["finalized_at"], received_at=row["received_at"], due_at=row["due_at"],
                       applicant=applicant, form=form, pages=self.pages(dossier_id), meta=json.loads(row["meta"]),
                       shredded_at=row["shredded_at"], clock_anchored=bool(row["clock_anchored"]),
                       counter=row["counter"], hlc=row["hlc"])

    def read_page(self, dossier_id: str, index: int) -> Iterator[bytes]:
        """Decrypt one page, segment by segment (authenticated before each chunk is yielded)."""
        row = self._database.one("SELECT blob FROM pages WHERE dossier_id = ? AND idx = ?", (dossier_id, index))
        if row is None:
            raise NotFoundError(f"dossier {dossier_id} has no page {index}", message_vi="Không tìm thấy trang.")
        dek = self._dek(dossier_id)
        with self.blobs.open(row["blob"]) as fh:
            yield from decrypt_stream(dek, dossier_id, fh)

    def export_manifest(self, dossier_id: str) -> dict[str, Any]:
        """What the city receives, in the wire shape (``core.manifest``): non-personal metadata,
        the key sealed to the city, the sealed personal data and the page blobs."""
        row = self._database.one("SELECT * FROM dossiers WHERE id = ?", (dossier_id,))
        if row is None:
            raise NotFoundError(f"dossier {dossier_id} does not exist")
        if row["status"] not in ("finalized", "handed_over") or row["city_seal"] is None:
            raise StoreError(f"dossier {dossier_id} is {row['status']}: only a finalized dossier is sent to the city")
        meta = json.loads(row["meta"])
        meta.pop("signing_replaced", None)
        signatures = meta.pop("signatures", [])  # its own manifest key (ký số)
        return wire_manifest(
            dossier_id=row["id"], station_id=self.station_id, agency_code=self.agency_code, code=row["code"],
            procedure_code=row["procedure_code"], received_at=row["received_at"], due_at=row["due_at"],
            finalized_at=row["finalized_at"], counter=row["counter"], hlc=row["hlc"],
            clock_anchored=bool(row["clock_anchored"]), cipher=row["cipher"], kem=row["city_kem"],
            sealed_dek=row["city_seal"], sealed_applicant=row["sealed_applicant"], sealed_form=row["sealed_form"],
            meta=meta, documents=self.documents(dossier_id), signatures=signatures,
            outcome=meta.get("outcome"),
            blobs=[{"index": p.index, "component": p.component, "media_type": p.media_type, "sha256": p.blob,
                    "size": p.size} for p in self.pages(dossier_id)])
