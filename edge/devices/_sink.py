"""What the devices need of the store: somewhere to put a scanned page (a page sink).

The device layer never imports the store; the store (``edge.store.Store``) satisfies this
protocol as it is, and a test may pass any other object that does.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol, runtime_checkable


class StoredPage(Protocol):
    """A page as the sink reports it back."""

    @property
    def index(self) -> int: ...

    @property
    def component(self) -> str: ...

    @property
    def media_type(self) -> str: ...


@runtime_checkable
class PageSink(Protocol):
    """Pages of one component of a draft dossier: add (streamed, encrypted by the sink), list,
    read back (to assemble the component's PDF) and remove (the PDF it replaces)."""

    def add_page(self, dossier_id: str, source: bytes | Iterable[bytes], *, component: str, media_type: str,
                 actor: str) -> StoredPage: ...

    def pages(self, dossier_id: str) -> Sequence[StoredPage]: ...

    def read_page(self, dossier_id: str, index: int) -> Iterable[bytes]: ...

    def remove_page(self, dossier_id: str, index: int, *, actor: str) -> None: ...
