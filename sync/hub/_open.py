"""`motcua hub open`: the city opens a received dossier with its private key."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from core.errors import IntegrityError
from core.fsutil import fsync_dir
from core.manifest import open_manifest
from core.sealed import CityPrivateKey, decrypt_page
from sync.errors import HubError

from ._blobs import BlobCorrupt, BlobStore, open_blob_store
from ._core import dossier_admin_view
from .storage import HubStorage

_EXT = {"image/png": ".png", "image/jpeg": ".jpg", "image/tiff": ".tif", "application/pdf": ".pdf",
        "image/webp": ".webp"}


def _private(path: Path):
    """A new file only its owner can read, whatever the umask: it holds a citizen's data in clear."""
    return os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600), "wb")


def open_dossier(storage: HubStorage, data_dir: Path, dossier_id: str, *, city_key: CityPrivateKey,
                 out: Path, trust_roots: Path | None = None, blobs: BlobStore | None = None) -> dict[str, Any]:
    """Decrypt a dossier's personal data and pages into ``out`` (created; all or nothing) and
    verify the pages' signatures (``signatures.json`` in ``out``, ``summary["signatures"]``).

    The pages are read through the hub's blob store (``blobs``, default: as ``hub.json`` says); a
    page whose bytes do not match its SHA-256 is quarantined and reported (:class:`BlobCorrupt`).
    """
    from ._signatures import load_roots, roots_path

    roots = load_roots(roots_path(data_dir, trust_roots))
    d = storage.get_dossier(dossier_id)
    if d is None:
        raise HubError(f"no dossier {dossier_id!r} on this hub")
    missing = [b.sha256 for b in d.blobs if not b.complete]
    if missing:
        raise HubError(f"dossier {dossier_id} is missing {len(missing)} blob(s): not fully uploaded yet")
    if out.exists() and any(out.iterdir()):
        raise HubError(f"output directory {out} is not empty")
    opened = open_manifest(d.manifest, city_key)  # the manifest as the box sent it
    files = blobs if blobs is not None else open_blob_store(data_dir)
    try:
        return _open_into(d, opened, files, out, data_dir=data_dir, roots=roots)
    finally:
        if blobs is None:
            files.close()


def _open_into(d, opened, files: BlobStore, out: Path, *, data_dir: Path, roots) -> dict[str, Any]:
    from ._signatures import save_report, verify_pages

    work = out.with_name(f".{out.name}.partial")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True, mode=0o700)
    try:
        pages = []
        for b in d.blobs:
            name = f"page-{b.index:03d}{_EXT.get(b.media_type, '.bin')}"
            with files.open(b.sha256) as src, _private(work / name) as dst:
                try:
                    for chunk in decrypt_page(opened.dek, d.dossier_id, src):
                        dst.write(chunk)
                except IntegrityError:
                    # Altered bytes fail the page's authentication before the end of the blob:
                    # read it whole to check its hash (a mismatch quarantines it and is raised).
                    if not files.verify(b.sha256):
                        raise BlobCorrupt(b.sha256, "quarantine") from None
                    raise
                dst.flush()
                os.fsync(dst.fileno())
            pages.append({"index": b.index, "file": name, "component": b.component, "media_type": b.media_type})
        report = verify_pages(d.manifest, pages, lambda page: (work / page["file"]).read_bytes(), roots=roots)
        with _private(work / "signatures.json") as dst:
            dst.write(json.dumps(report, ensure_ascii=False, indent=1).encode())
        summary = {**dossier_admin_view(d), "applicant": opened.applicant, "form": opened.form, "pages": pages,
                   "signatures": report}
        summary.pop("blobs", None)
        with _private(work / "dossier.json") as dst:
            dst.write(json.dumps(summary, ensure_ascii=False, indent=1).encode())
        if out.exists():
            out.rmdir()
        os.replace(work, out)
        fsync_dir(out.parent)
        save_report(data_dir, report)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return summary
