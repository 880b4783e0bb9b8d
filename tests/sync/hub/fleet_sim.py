"""Simulated fleets for the metrics and fleet-page tests: stations written through the hub's
own storage interface (registration, enrollment, heartbeats), as real boxes would leave them."""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sync.hub.storage import HubStorage, NewStation
from sync.protocol import key_id, new_token, parse_heartbeat, token_sha256

AGENCIES = ("000.00.06.H56", "000.00.07.H56", "000.00.08.H56")
KINDS = ("branch", "commune", "mobile", "popup")
GB = 1 << 30


@dataclass(frozen=True)
class Fleet:
    ids: list[str]
    silent: str          # no contact for three days
    scanner_broken: str  # its scanner reports an error
    behind: str          # runs an older version
    disk_low: str        # 5 % free


def beat(**over) -> dict:
    body = {"pending": 2, "oldest_unsynced_age_s": 600, "disk_free_bytes": 20 * GB, "disk_total_bytes": 32 * GB,
            "versions": {"motcua": "0.2.0"}, "devices": {"scanner": "ready", "card_reader": "ready"},
            "feed_seq": 1, "clock_offset_ms": 120, "sync_errors": {}}
    body.update(over)
    return parse_heartbeat(body)  # what the hub's handler stores: validated first


def enroll(storage: HubStorage, station_id: str, *, agency: str, kind: str, now: int, index: int) -> None:
    token = new_token()
    storage.add_station(NewStation(station_id=station_id, agency_code=agency, name=f"Điểm tiếp nhận số {index}",
                                   kind=kind, partition_index=index // len(AGENCIES), partition_size=20),
                        token_sha256=token_sha256(token), token_expires_at=now + 86400_000, now=now)
    pub = Ed25519PrivateKey.generate().public_key().public_bytes_raw()
    storage.enroll(station_id, token_sha256=token_sha256(token), public_key=pub, key_id=key_id(pub), now=now)


def populate(storage: HubStorage, n: int, *, now: int) -> Fleet:
    ids = [f"st-{i:04d}" for i in range(n)]
    special = {"silent": ids[n // 3], "scanner_broken": ids[(2 * n) // 3], "behind": ids[n // 2 + 1],
               "disk_low": ids[n // 4]}
    for i, sid in enumerate(ids):
        enroll(storage, sid, agency=AGENCIES[i % len(AGENCIES)], kind=KINDS[i % len(KINDS)], now=now, index=i)
        if sid == special["silent"]:
            storage.touch(sid, now=now - 3 * 86400_000, heartbeat=beat(pending=7, oldest_unsynced_age_s=4000))
        elif sid == special["scanner_broken"]:
            storage.touch(sid, now=now - 60_000, heartbeat=beat(devices={"scanner": "error", "card_reader": "ready"},
                                                                 sync_errors={"transport": 3}))
        elif sid == special["behind"]:
            storage.touch(sid, now=now - 60_000, heartbeat=beat(versions={"motcua": "0.1.9"}))
        elif sid == special["disk_low"]:
            storage.touch(sid, now=now - 60_000, heartbeat=beat(disk_free_bytes=GB * 16 // 10, disk_total_bytes=32 * GB))
        else:
            storage.touch(sid, now=now - 60_000, heartbeat=beat())
    return Fleet(ids=ids, **special)


def warn(storage: HubStorage, station_id: str, codes: list[str], *, now: int, **over) -> None:
    """A heartbeat carrying the box's offline guardrail warnings (sync/client/_guardrails.py)."""
    storage.touch(station_id, now=now - 60_000, heartbeat=beat(warnings=codes, **over))
