"""Dossier codes ``<agency>-<yyMMdd>-<NNNN>`` issued offline without collisions.

Scheme (docs/architecture.md, "Dossier codes"): the 4-digit daily number space of an agency is
partitioned between its boxes. The box with partition index ``i`` and size ``s`` issues
``i*s + 1 … (i+1)*s``; partitions are assigned at provisioning (and may be changed by the hub's
feed). The last number issued per day *and partition* is persisted in the same transaction as the
dossier, so a restart, a crash or a clock that jumps back to an earlier day never issues a number
twice. When the hub moves the box to another partition during a day, the counter of the new
partition starts afresh and any number whose code this box already holds is skipped (the
``dossiers.code`` column is unique), so codes issued earlier that day under the old partition are
never issued again, whatever the old and new ranges are.
"""

from __future__ import annotations

import datetime as dt

from core.codes import DOSSIER_CODE_RE, MAX_NUMBER, is_agency_code, partition_fits
from edge.errors import StoreError, ValidationError

#: The shape of a dossier code, ASCII digits only (use ``fullmatch``).
CODE_RE = DOSSIER_CODE_RE


def validate_agency_code(code: str) -> str:
    if not is_agency_code(code):
        raise ValidationError("agency_code", f"{code!r} is not an agency code of the form DDD.CC.BB.Xnn (e.g. 000.00.06.H56)",
                              message_vi="Mã cơ quan không đúng dạng DDD.CC.BB.Xnn (ví dụ 000.00.06.H56).")
    return code


def validate_partition(index: int, size: int) -> None:
    if not partition_fits(index, size):
        raise StoreError(f"code partition index={index} size={size} does not fit in 0001–{MAX_NUMBER}")


def counter_key(day: dt.date, index: int, size: int) -> str:
    """The ``code_counters`` row of one day and partition."""
    return f"{day.strftime('%y%m%d')}/{index}/{size}"


def allocate(conn, *, agency: str, day: dt.date, index: int, size: int) -> str:
    """Take the next code for ``day``; call inside the dossier's write transaction."""
    validate_partition(index, size)
    stamp = day.strftime("%y%m%d")
    key = counter_key(day, index, size)
    row = conn.execute("SELECT last FROM code_counters WHERE day = ?", (key,)).fetchone()
    nxt = (row[0] if row else 0) + 1
    while nxt <= size:
        code = f"{agency}-{stamp}-{index * size + nxt:04d}"
        if conn.execute("SELECT 1 FROM dossiers WHERE code = ?", (code,)).fetchone() is None:
            break
        nxt += 1  # issued earlier today under another partition that overlaps this one
    else:
        raise StoreError(f"this box has used all {size} dossier numbers of its partition for {day.isoformat()}",
                         message_vi="Đã dùng hết dãy số hồ sơ của thiết bị trong ngày; liên hệ bộ phận CNTT.")
    conn.execute("INSERT INTO code_counters(day, last) VALUES (?, ?) ON CONFLICT(day) DO UPDATE SET last = excluded.last",
                 (key, nxt))
    return code
