"""A small reference receiver standing in for the city's dossier system (docs/city-connector.md).

It checks each event's HMAC-SHA256 signature itself (with the standard library, not the hub's
code), keeps one copy per ``Idempotency-Key`` and counts every delivery. ``mode``: ``up``;
``down`` (503 to everything); ``ack_lost`` (records the event, then answers 500, as when the
answer is lost on the way back).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class CityReceiver:
    def __init__(self, secret: bytes) -> None:
        self.secret = secret
        self.mode = "up"
        self.events: dict[str, dict] = {}
        self.deliveries: list[str] = []
        self.bad_signatures = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if receiver.mode == "down":
                    return self._answer(503)
                fields = dict(p.split("=", 1) for p in self.headers.get("X-Motcua-City-Signature", "").split(","))
                mac = hmac.new(receiver.secret, f"{fields.get('t')}.".encode() + body, hashlib.sha256).hexdigest()
                if not hmac.compare_digest(mac, fields.get("v1", "")):
                    receiver.bad_signatures += 1
                    return self._answer(401)
                key = self.headers["Idempotency-Key"]
                receiver.deliveries.append(key)
                receiver.events.setdefault(key, json.loads(body))  # a duplicate is harmless
                self._answer(500 if receiver.mode == "ack_lost" else 200)

            def _answer(self, status: int) -> None:
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/events"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> CityReceiver:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
