"""sd_notify(3): tell systemd we are ready, or what we are doing, over $NOTIFY_SOCKET."""

from __future__ import annotations

import contextlib
import logging
import os
import socket

logger = logging.getLogger(__name__)


def sd_notify(*lines: str) -> bool:
    """Send ``READY=1``, ``STATUS=…`` etc. Returns False when not run by systemd."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]
    message = "\n".join(lines).encode()
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
        try:
            sock.connect(address)
            sock.sendall(message)
        except OSError as exc:
            logger.warning("sd_notify to %s failed: %s", address, exc)
            return False
    return True


def status(text: str) -> None:
    with contextlib.suppress(OSError):
        sd_notify(f"STATUS={text}")
