"""``motcua check``: re-verify every blob, every sealed field and the audit chain."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from edge.errors import MotcuaError

from . import _audit
from ._crypto import decrypt_stream, open_bytes

if TYPE_CHECKING:
    from ._store import CheckReport, Store


def check_store(store: Store) -> CheckReport:
    from ._store import CheckReport

    report = CheckReport()
    referenced: set[str] = set()
    rows = store.query("SELECT id, status, code, local_wrap, city_seal, sealed_applicant, sealed_form FROM dossiers ORDER BY counter")
    for row in rows:
        report.dossiers += 1
        did = row["id"]
        label = f"dossier {row['code'] or did}"
        pages = store.query("SELECT idx, blob, plain_size FROM pages WHERE dossier_id = ? ORDER BY idx", (did,))
        referenced.update(p["blob"] for p in pages)
        if row["status"] == "shredded":
            if row["local_wrap"] is not None or pages:
                report.problems.append(f"{label}: marked shredded but still holds a key wrap or pages")
            continue
        if row["status"] != "draft" and row["city_seal"] is None:
            report.problems.append(f"{label}: finalized without a city seal")
        try:
            dek = store._dek(did, row)
        except MotcuaError as exc:
            report.problems.append(f"{label}: data key does not open: {exc}")
            continue
        aid = did.encode()
        for purpose, sealed in (("applicant", row["sealed_applicant"]), ("form", row["sealed_form"])):
            try:
                json.loads(open_bytes(dek, sealed, purpose.encode() + b"|" + aid))
            except (MotcuaError, ValueError, TypeError) as exc:
                report.problems.append(f"{label}: sealed {purpose} field does not verify: {exc}")
        for page in pages:
            report.pages += 1
            try:
                store.blobs.verify_hash(page["blob"])
                total = 0
                with store.blobs.open(page["blob"]) as fh:
                    for chunk in decrypt_stream(dek, did, fh):
                        total += len(chunk)
                if total != page["plain_size"]:
                    report.problems.append(f"{label} page {page['idx']}: size {total} differs from the recorded {page['plain_size']}")
            except MotcuaError as exc:
                report.problems.append(f"{label} page {page['idx']}: {exc}")
    def audit_chain(conn) -> tuple[list[str], int]:
        return list(_audit.verify(conn)), conn.execute("SELECT COUNT(*) FROM audit").fetchone()[0]

    problems, report.audit_rows = store._database.read(audit_chain)
    report.problems.extend(problems)
    if store.shred_checkpoint_pending() and not store.checkpoint():
        report.problems.append("a shred is not finished: another connection holds a read snapshot, so the WAL "
                               "(motcua.db-wal) still holds page images of shredded dossiers; close the other "
                               "motcua commands and run 'motcua check' again")
    stray = [n for n in store.blobs.all_names() if n not in referenced]
    if stray:
        report.notes.append(f"{len(stray)} unreferenced blob file(s) (left by an interrupted write; removed at next start)")
    return report
