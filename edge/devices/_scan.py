"""Feeder and flatbed batches from SANE straight into the encrypted store.

Pages never touch a disk in the clear: ``scanimage --batch`` is pointed at named pipes (FIFOs)
created in a private (0700) directory on a RAM file system (``$RUNTIME_DIRECTORY``,
``$XDG_RUNTIME_DIR`` or ``/dev/shm``). A FIFO holds no data on any file system; each page flows
from scanimage through the pipe into ``store.add_page``, which encrypts it chunk by chunk. A page
is accepted only once scanimage has announced it complete (``--batch-print``) and the PNG ends
with its ``IEND`` chunk; a page cut short by a jam or a vanished device raises inside the stream,
so the store discards it and nothing half-written is kept.

After the batch, every image page of the component is assembled into one PDF (img2pdf, in
memory) and stored encrypted as a page of the same component with media type
``application/pdf``; the previous PDF of that component, if any, is replaced. So a component
holds its PNG pages (for review) and exactly one PDF (what is sent on).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import select
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edge.errors import ValidationError

from ._errors import ScannerError
from ._sane import (
    GONE_VI,
    ScannerOptions,
    device_options,
    error_from_output,
    pick_mode,
    pick_resolution,
    pick_source,
    sane_env,
    scanimage_path,
)
from ._sink import PageSink, StoredPage

logger = logging.getLogger(__name__)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_IEND = b"\x00\x00\x00\x00IEND\xaeB`\x82"
CHUNK = 64 * 1024
MAX_PAGES = 500
DEFAULT_MAX_PAGE_BYTES = 50 * 1024 * 1024  # the store's default page limit (store.max_page_mb)
_COMPONENT = re.compile(r"^[\w.\-]{1,64}$")


@dataclass(frozen=True, slots=True, kw_only=True)
class ScanRequest:
    """One batch: N pages from DEVICE into component K of a draft dossier."""

    device: str
    dossier_id: str
    component: str
    pages: int = 1
    resolution: int = 200
    mode: str = "Gray"
    source: str = ""  # "", "ADF", "Flatbed", "Duplex" or the backend's exact name
    duplex: bool = False
    actor: str = "system"
    extra_options: tuple[str, ...] = ()  # backend options passed through, e.g. ("-x", "50")

    def validate(self) -> None:
        if not self.device:
            raise ValidationError("device", "no scanner given", message_vi="Chưa chọn máy quét.")
        if not 1 <= self.pages <= MAX_PAGES:
            raise ValidationError("pages", f"must be between 1 and {MAX_PAGES}",
                                  message_vi=f"Số trang phải từ 1 đến {MAX_PAGES}.")
        if not _COMPONENT.match(self.component):
            raise ValidationError("component", "must be 1-64 letters, digits, '.', '_' or '-'",
                                  message_vi="Mã thành phần hồ sơ không hợp lệ.")
        if not 10 <= self.resolution <= 2400:
            raise ValidationError("resolution", "must be between 10 and 2400 dpi",
                                  message_vi="Độ phân giải phải từ 10 đến 2400 dpi.")


@dataclass(frozen=True, slots=True, kw_only=True)
class ScanProgress:
    """A progress event; ``state`` is starting, scanning, page_stored, assembling, done or error."""

    state: str
    page: int = 0
    pages: int = 0
    percent: float = 0.0
    device: str = ""
    component: str = ""
    message: str = ""
    message_vi: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__slots__}


@dataclass(frozen=True, slots=True, kw_only=True)
class ScanResult:
    """What a batch produced. ``error`` is set when the batch stopped early (pages kept)."""

    pages: tuple[StoredPage, ...]
    pdf: StoredPage | None
    requested: int
    error: ScannerError | None = None
    feeder_empty: bool = False
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "pages": [p.index for p in self.pages],
            "pdf": self.pdf.index if self.pdf is not None else None,
            "requested": self.requested,
            "stored": len(self.pages),
            "feeder_empty": self.feeder_empty,
            "seconds": round(self.seconds, 3),
            "error": str(self.error) if self.error else None,
            "error_vi": self.error.message_vi if self.error else None,
        }


ProgressCallback = Callable[[ScanProgress], None]


def spool_root() -> Path:
    """A RAM-backed directory for the FIFOs (never a persistent disk)."""
    for var in ("RUNTIME_DIRECTORY", "XDG_RUNTIME_DIR"):
        value = os.environ.get(var, "").split(":")[0]
        if value and os.path.isdir(value):
            return Path(value)
    return Path("/dev/shm")  # noqa: S108 - mkdtemp makes a private 0700 dir; RAM on purpose


def build_command(exe: str, request: ScanRequest, options: ScannerOptions | None,
                  spool: Path) -> list[str]:
    cmd = [exe, "-d", request.device, "--format=png", f"--batch={spool}/p%d.png",
           f"--batch-count={request.pages}", "--batch-print", "--progress"]
    if options is not None:
        cmd.append(f"--resolution={pick_resolution(request.resolution, options)}")
        mode = pick_mode(request.mode, options)
        if mode:
            cmd.append(f"--mode={mode}")
        source = pick_source(request.source, options, duplex=request.duplex)
        if source:
            cmd.append(f"--source={source}")
        if request.duplex and options.duplex_option == "--duplex":
            cmd.append("--duplex=yes")
        elif request.duplex and options.duplex_option == "--adf-mode":
            cmd.append("--adf-mode=Duplex")
    else:
        cmd.append(f"--resolution={request.resolution}")
        cmd.append(f"--mode={request.mode}")
        if request.source:
            cmd.append(f"--source={request.source}")
    cmd.extend(request.extra_options)
    return cmd


class _Batch:
    """One running scanimage process and what it has said so far."""

    def __init__(self, cmd: list[str], spool: Path, pages: int,
                 on_progress: Callable[[ScanProgress], None]) -> None:
        self.spool = spool
        self.pages = pages
        self.on_progress = on_progress
        self.cond = threading.Condition()
        self.completed: set[int] = set()
        self.stderr_lines: list[str] = []
        self.current = 0
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=sane_env())
        self._threads = [threading.Thread(target=self._read_stdout, daemon=True),
                         threading.Thread(target=self._read_stderr, daemon=True)]
        for t in self._threads:
            t.start()

    def _read_stdout(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            m = re.search(r"/p(\d+)\.png\s*$", raw.decode("utf-8", "replace"))
            if m:
                with self.cond:
                    self.completed.add(int(m.group(1)))
                    self.cond.notify_all()

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        buf = b""
        while True:
            block = self.proc.stderr.read1(4096) if hasattr(self.proc.stderr, "read1") else b""
            if not block:
                break
            buf += block
            *lines, buf = re.split(rb"[\r\n]", buf)
            for line in lines:
                self._stderr_line(line.decode("utf-8", "replace").strip())
        if buf:
            self._stderr_line(buf.decode("utf-8", "replace").strip())
        with self.cond:
            self.cond.notify_all()

    def _stderr_line(self, line: str) -> None:
        if not line:
            return
        m = re.match(r"Progress:\s*([\d.]+)%", line)
        if m:
            self.on_progress(ScanProgress(state="scanning", page=self.current, pages=self.pages,
                                          percent=float(m.group(1))))
            return
        m = re.match(r"Scanning page (\d+)", line)
        if m:
            self.current = int(m.group(1))
            self.on_progress(ScanProgress(state="scanning", page=self.current, pages=self.pages))
        with self.cond:
            if len(self.stderr_lines) < 200:
                self.stderr_lines.append(line)

    @property
    def stderr(self) -> str:
        with self.cond:
            return "\n".join(self.stderr_lines)

    def wait_verdict(self, n: int) -> bool:
        """After page n's pipe closed: True once scanimage announces it, False if it exits first."""
        with self.cond:
            while n not in self.completed:
                if self.proc.poll() is not None and not self._threads[0].is_alive():
                    return n in self.completed
                self.cond.wait(0.1)
            return True

    def page_stream(self, n: int, max_bytes: int) -> Iterator[bytes] | None:
        """The bytes of page n as scanimage writes them, or None when page n never starts."""
        fifo = self.spool / f"p{n}.png.part"
        fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
        poller = select.poll()
        poller.register(fd, select.POLLIN | select.POLLHUP)
        try:
            # Linux reports nothing on a FIFO whose writer has never connected: wait for the
            # first data (or a writer that opened and closed), or for scanimage to exit.
            while not poller.poll(100):
                if self.proc.poll() is not None:
                    if poller.poll(0):
                        break
                    os.close(fd)
                    return None
        except BaseException:
            os.close(fd)
            raise
        return self._drain(fd, poller, n, max_bytes)

    def _drain(self, fd: int, poller: select.poll, n: int, max_bytes: int) -> Iterator[bytes]:
        size = 0
        head = b""
        tail = b""
        try:
            while True:
                try:
                    block = os.read(fd, CHUNK)
                except BlockingIOError:
                    poller.poll(200)
                    continue
                if not block:
                    break
                size += len(block)
                if size > max_bytes:
                    self.proc.kill()
                    raise ScannerError(f"page {n} is larger than {max_bytes} bytes",
                                       message_vi="Trang quét quá lớn; hãy giảm độ phân giải.",
                                       status="too_large")
                if len(head) < len(PNG_SIGNATURE):
                    head += block[: len(PNG_SIGNATURE) - len(head)]
                tail = (tail + block)[-len(PNG_IEND):]
                yield block
        finally:
            os.close(fd)
        if not self.wait_verdict(n) or head != PNG_SIGNATURE or tail != PNG_IEND:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=10)
            for t in self._threads:
                t.join(timeout=2)
            err = error_from_output(self.stderr, self.proc.returncode, pages_done=n - 1)
            raise err

    def finish(self, timeout: float = 30.0) -> int:
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for t in self._threads:
            t.join(timeout=5)
        self._close_pipes()
        return self.proc.returncode

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for t in self._threads:
            t.join(timeout=5)
        self._close_pipes()

    def _close_pipes(self) -> None:
        for pipe in (self.proc.stdout, self.proc.stderr):
            if pipe is not None and not any(t.is_alive() for t in self._threads):
                pipe.close()


def scan_to_store(store: PageSink, request: ScanRequest, *, on_progress: ProgressCallback | None = None,
                  program: str = "scanimage", options: ScannerOptions | None = None,
                  max_page_bytes: int | None = None, assemble_pdf: bool = True,
                  spool_dir: Path | None = None) -> ScanResult:
    """Scan a batch into the store; blocking (run it in an executor from async code).

    Raises ScannerError when no page could be stored; a batch that stops after some pages
    returns them with ``error`` set, so the clerk only rescans from the failed page.
    """
    request.validate()
    started = time.monotonic()

    def emit(event: ScanProgress) -> None:
        if on_progress is None:
            return
        full = ScanProgress(state=event.state, page=event.page, pages=event.pages or request.pages,
                            percent=event.percent, device=request.device,
                            component=request.component, message=event.message,
                            message_vi=event.message_vi)
        try:
            on_progress(full)
        except Exception:
            logger.exception("scan progress callback failed")

    exe = scanimage_path(program)
    if options is None:
        options = device_options(request.device, program=exe)
    if max_page_bytes is None:
        max_page_bytes = DEFAULT_MAX_PAGE_BYTES
    emit(ScanProgress(state="starting"))
    root = spool_dir or spool_root()
    spool = Path(tempfile.mkdtemp(prefix="motcua-scan-", dir=root))
    stored: list[StoredPage] = []
    error: ScannerError | None = None
    batch: _Batch | None = None
    try:
        os.chmod(spool, 0o700)
        for n in range(1, request.pages + 1):
            os.mkfifo(spool / f"p{n}.png.part", 0o600)
        cmd = build_command(exe, request, options, spool)
        logger.info("scanning %d page(s) from %s", request.pages, request.device)
        batch = _Batch(cmd, spool, request.pages, emit)
        for n in range(1, request.pages + 1):
            stream = batch.page_stream(n, max_page_bytes)
            if stream is None:
                break
            try:
                info = store.add_page(request.dossier_id, stream, component=request.component,
                                      media_type="image/png", actor=request.actor)
            except ScannerError as exc:
                error = exc
                break
            stored.append(info)
            emit(ScanProgress(state="page_stored", page=n))
        returncode = batch.finish()
        feeder_empty = False
        if error is None and len(stored) < request.pages:
            err = error_from_output(batch.stderr, returncode, pages_done=len(stored))
            if err.status == "no_docs" and stored:
                feeder_empty = True
                err = ScannerError(
                    f"feeder empty after {len(stored)} of {request.pages} pages",
                    message_vi=f"Khay nạp giấy đã hết sau {len(stored)}/{request.pages} trang.",
                    status="no_docs", pages_done=len(stored))
            error = err
        elif error is None and returncode not in (0, 7):
            error = error_from_output(batch.stderr, returncode, pages_done=len(stored))
    except FileNotFoundError as exc:
        raise ScannerError(f"scanimage could not start: {exc}", message_vi=GONE_VI,
                           status="missing") from exc
    finally:
        if batch is not None:
            batch.kill()
        shutil.rmtree(spool, ignore_errors=True)
    if not stored:
        assert error is not None
        emit(ScanProgress(state="error", message=str(error), message_vi=error.message_vi or ""))
        raise error
    pdf = None
    if assemble_pdf:
        emit(ScanProgress(state="assembling", page=len(stored)))
        pdf = assemble_component_pdf(store, request.dossier_id, request.component,
                                     actor=request.actor)
    result = ScanResult(pages=tuple(stored), pdf=pdf, requested=request.pages, error=error,
                        feeder_empty=feeder_empty, seconds=time.monotonic() - started)
    if error is not None:
        emit(ScanProgress(state="error", page=len(stored), message=str(error),
                          message_vi=error.message_vi or ""))
    emit(ScanProgress(state="done", page=len(stored), percent=100.0))
    return result


def assemble_component_pdf(store: PageSink, dossier_id: str, component: str, *, actor: str) -> StoredPage:
    """Assemble the component's image pages into one PDF page (replacing its previous PDF)."""
    import img2pdf

    pages = store.pages(dossier_id)
    images = [b"".join(store.read_page(dossier_id, p.index)) for p in pages
              if p.component == component and p.media_type.startswith("image/")]
    if not images:
        raise ValidationError("component", f"component {component} has no scanned pages",
                              message_vi="Thành phần hồ sơ chưa có trang quét nào.")
    pdf = img2pdf.convert(images)
    old = [p.index for p in pages if p.component == component and p.media_type == "application/pdf"]
    for index in sorted(old, reverse=True):
        store.remove_page(dossier_id, index, actor=actor)
    return store.add_page(dossier_id, pdf, component=component, media_type="application/pdf",
                          actor=actor)
