"""Search a directory tree for personal data left in the clear (every encoding a leak could take)."""

from __future__ import annotations

import unicodedata
from pathlib import Path


def encodings_of(marker: str) -> dict[str, bytes]:
    forms = {}
    for form in ("NFC", "NFD"):
        text = unicodedata.normalize(form, marker)
        for enc in ("utf-8", "utf-16-le", "utf-16-be"):
            forms[f"{form}/{enc}"] = text.encode(enc)
    return forms


def find_plaintext(root: Path, markers: list[str], raw: list[bytes] = ()) -> list[str]:
    """Every (file, marker, encoding) where a marker is found; an empty list means clean."""
    needles: list[tuple[str, bytes]] = []
    for m in markers:
        needles += [(f"{m!r} as {name}", b) for name, b in encodings_of(m).items()]
    needles += [(f"raw bytes {b[:8].hex()}…", b) for b in raw]
    hits = []
    files = [p for p in root.rglob("*") if p.is_file()]
    assert files, f"nothing to search under {root}"
    for path in files:
        data = path.read_bytes()
        for label, needle in needles:
            if needle in data:
                hits.append(f"{path.relative_to(root)}: {label}")
    return hits
