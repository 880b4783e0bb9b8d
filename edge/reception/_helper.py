"""Drawing the counter's PDFs in a short-lived helper process, so the daemon never loads reportlab.

reportlab, the glyph tables of the three DejaVu faces and the drawing module hold ~22 MB that a
process keeps for its life once it has drawn one receipt. The daemon (``motcua serve``) checks
the data itself (a clerk's mistake is answered at once, in Vietnamese), then runs
``python -m edge.reception._helper`` for each PDF: the child reads what it draws from its
standard input (a pickle of the receipt's or form's data and template: no key, no store, no
settings; its environment is only the interpreter's paths and locale), writes the PDF bytes to
its standard output and exits. Nothing is written to disk; a child that fails, is killed or
takes longer than ``timeout`` gives a :class:`ReceiptError` with a Vietnamese message and no
partial PDF. Its standard error is not logged (it may quote the citizen's data): only the exit
status and the error's type are.

The CLI and tests may call ``render_receipt`` / ``render_form`` in-process instead.
"""

from __future__ import annotations

import json
import logging
import os
import pickle
import subprocess
import sys
from typing import Any

from core.errors import MotcuaError

from ._forms import CounterFormData, FormTemplate, check_form, form_template
from ._receipt import ReceiptData, ReceiptError, check_receipt, vn_local

log = logging.getLogger(__name__)

#: Seconds a helper may take (here, x86-64: ~0.7 s a receipt, interpreter start and fonts included).
TIMEOUT = 60.0
_ENV_KEEP = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "PYTHONHASHSEED")
_FAILED_VI = "Không tạo được tệp PDF để in ({what}). Vui lòng thử lại; nếu vẫn lỗi, báo bộ phận kỹ thuật."


def _child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k in _ENV_KEEP}
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)  # the daemon's own import path
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def _run(kind: str, args: dict[str, Any], *, what: str, timeout: float) -> bytes:
    request = pickle.dumps((kind, args), protocol=pickle.HIGHEST_PROTOCOL)
    try:
        done = subprocess.run([sys.executable, "-m", __name__], input=request, capture_output=True,
                              timeout=timeout, env=_child_env(), check=False)
    except subprocess.TimeoutExpired:
        log.error("the PDF helper (%s) did not finish within %g s", kind, timeout)
        raise ReceiptError(f"the PDF helper ({kind}) did not finish within {timeout:g} s",
                           message_vi=_FAILED_VI.format(what=f"quá {timeout:g} giây")) from None
    except OSError as exc:
        log.error("the PDF helper (%s) could not start: %s", kind, type(exc).__name__)
        raise ReceiptError(f"the PDF helper ({kind}) could not start: {exc}",
                           message_vi=_FAILED_VI.format(what="không khởi động được")) from None
    if done.returncode == 0 and done.stdout.startswith(b"%PDF") and done.stdout.rstrip().endswith(b"%%EOF"):
        return done.stdout
    error: dict[str, Any] = {}
    if done.returncode == 2:  # the child's own report of a MotcuaError (its messages are ours)
        try:
            error = json.loads(done.stdout)
        except ValueError:
            error = {}
    log.error("the PDF helper (%s) failed: exit status %s, %s", kind, done.returncode, error.get("type", "no report"))
    if error.get("message_vi"):
        raise ReceiptError(f"the PDF helper ({kind}) failed: {error.get('message', '')}",
                           message_vi=error["message_vi"])
    raise ReceiptError(f"the PDF helper ({kind}) failed (exit status {done.returncode})",
                       message_vi=_FAILED_VI.format(what=what))


def render_receipt_apart(*, receipt: ReceiptData, template: FormTemplate | None = None,
                         timeout: float = TIMEOUT) -> bytes:
    """:func:`render_receipt` in a helper process: the same PDF, without reportlab in this one."""
    template = template or form_template("01", at=vn_local(receipt.received_at).date())
    check_receipt(receipt)  # a clerk's mistake is answered here, before any process starts
    return _run("receipt", {"receipt": receipt, "template": template}, what="giấy tiếp nhận", timeout=timeout)


def render_form_apart(template: FormTemplate, data: CounterFormData, *, timeout: float = TIMEOUT) -> bytes:
    """:func:`render_form` (form 02 or 03) in a helper process."""
    check_form(template, data)
    return _run("form", {"template": template, "data": data}, what=f"phiếu mẫu {template.number}", timeout=timeout)


def _main() -> int:
    """The child: one request on stdin, the PDF on stdout (exit 0) or a report (exit 2)."""
    out = sys.stdout.buffer
    try:
        kind, args = pickle.loads(sys.stdin.buffer.read())
        from . import _draw

        pdf = _draw.render_receipt(**args) if kind == "receipt" else _draw.render_form(args["template"], args["data"])
    except MotcuaError as exc:
        out.write(json.dumps({"type": type(exc).__name__, "message": str(exc),
                              "message_vi": getattr(exc, "message_vi", "")}).encode())
        return 2
    out.write(pdf)
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(_main())
