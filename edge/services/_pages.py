"""Pages: what a page file is (by its first bytes) and how large one may be."""

from __future__ import annotations

from edge.config import Settings

MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
)
SNIFF_BYTES = 16  # enough for every signature above
UNKNOWN_MEDIA_TYPE = "application/octet-stream"


def sniff(head: bytes) -> str | None:
    """The media type of a page by its magic bytes (PDF, PNG, JPEG, TIFF), or None."""
    for magic, media_type in MAGIC:
        if head.startswith(magic):
            return media_type
    return None


def sniff_media_type(head: bytes) -> str:
    """As :func:`sniff`, an unknown content kept as ``application/octet-stream`` (operator import)."""
    return sniff(head) or UNKNOWN_MEDIA_TYPE


def page_limit_mb(settings: Settings) -> int:
    """The largest page the store keeps (``store.max_page_mb``)."""
    return settings.store.max_page_mb


def page_limit_bytes(settings: Settings) -> int:
    return page_limit_mb(settings) * 1024 * 1024


def upload_limit_mb(settings: Settings) -> int:
    """The largest file a clerk may upload: ``web.max_upload_mb``, never above the page limit."""
    return min(settings.web.max_upload_mb, page_limit_mb(settings))
