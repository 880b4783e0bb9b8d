"""A writer process for the crash test: ingests dossiers forever, reporting each once committed.

Run: python -m tests.edge.store.crash_writer STATE_DIR START
Prints "<n> <id> <code>" after each dossier is committed; the parent kills it with SIGKILL.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

from edge.outbox import ingest_and_enqueue
from edge.store import PageSource, Store
from tests.conftest import make_settings


def page_bytes(n: int, k: int) -> bytes:
    seed = hashlib.sha256(f"{n}/{k}".encode()).digest()
    return seed * (1500 + (n * 37 + k * 11) % 3000)  # 48 KB … 144 KB, across segment boundaries


def applicant(n: int) -> dict:
    return {"full_name": f"Nguyễn Văn Thử {n}", "id_number": f"{n:012d}"}


def main() -> None:
    state_dir, start = Path(sys.argv[1]), int(sys.argv[2])
    settings = make_settings(state_dir)
    with Store.open(settings) as store:
        n = start
        while True:
            did, code = ingest_and_enqueue(store, procedure_code="1.001612", applicant=applicant(n), actor="crash",
                                           pages=[PageSource(source=page_bytes(n, k), media_type="image/png") for k in range(2)])
            sys.stdout.write(f"{n} {did} {code}\n")
            sys.stdout.flush()
            n += 1


if __name__ == "__main__":
    main()
