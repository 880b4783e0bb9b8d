"""A box's life after first boot: station key rotation (docs/sync-protocol.md §5.4).

Rotation is crash-safe: the new key is kept (sealed under a key derived from the current station
key) before the hub is asked, so a lost answer or a power cut between the hub's swap and the local
swap never strands the box. The next run finds the pending key, checks which key the hub holds
(a signed ``GET /v1/station`` with the new key) and finishes or repeats the rotation.

Revocation (``motcua hub revoke``) and the wipe it commands are obeyed by the sync client
(``sync.client.SyncClient.wipe``); a replacement box is issued with ``provision replace``.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ._errors import ProvisioningError

logger = logging.getLogger(__name__)

class _FixedNow:
    """The hub clock with ``now()`` held still, so the proof and the request carry one timestamp."""

    def __init__(self, clock: Any) -> None:
        self._clock = clock
        self.at = clock.now()

    def now(self) -> float:
        return self.at

    def release(self) -> None:
        self.at = self._clock.now()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._clock, name)


async def _rotate(*, base: str, ca: str | None, clock: Any, station_id: str, old: Ed25519PrivateKey,
                  new: Ed25519PrivateKey, timeout_seconds: float) -> str:
    from sync.client import HubTransport
    from sync.client._transport import Identity
    from sync.errors import ApiError
    from sync.protocol import b64e, key_id, public_key_raw, rotation_message

    new_b64 = b64e(public_key_raw(new))
    fixed = _FixedNow(clock)
    async with HubTransport(base, ca_file=ca, clock=fixed, timeout_seconds=timeout_seconds,
                            identity=Identity(station_id=station_id, key=old)) as transport:
        for attempt in (1, 2):
            ts = int(fixed.now() * 1000)
            proof = b64e(new.sign(rotation_message(station_id, new_b64, ts)))
            try:
                answer = await transport.call("POST", "/v1/keys/rotate",
                                              json_body={"new_public_key": new_b64, "proof": proof})
                return str(answer.json()["key_id"])
            except ApiError as exc:
                if exc.code == "clock_skew" and attempt == 1:
                    fixed.release()  # the transport has corrected the offset from this answer
                    continue
                if exc.code != "bad_signature":
                    raise
                break
    # The hub does not take the old key: maybe an earlier rotation went through and its answer
    # was lost. Ask with the new key.
    async with HubTransport(base, ca_file=ca, clock=clock, timeout_seconds=timeout_seconds,
                            identity=Identity(station_id=station_id, key=new)) as transport:
        await transport.call("GET", "/v1/station")
    return key_id(public_key_raw(new))


def rotate_station_key(settings, *, passphrase: str | None = None) -> str:
    """Make a new station key, register it with the hub (signed by the current key), switch to it."""
    import os

    from edge.store import Store
    from sync.client import SyncClient

    with Store.open(settings, passphrase=passphrase or os.environ.get("MOTCUA_PASSPHRASE")) as store:
        client = SyncClient(settings=settings, store=store)
        client.require_ready()  # enrolled, not revoked: say so plainly otherwise
        old = store.station_signing_key()
        # Kept (wrapped by the station key) before the hub is asked, so a power cut mid-rotation
        # leaves a key the next run can finish with.
        new = store.pending_signing_key()
        if new is None:
            new = Ed25519PrivateKey.generate()
            store.set_pending_signing_key(new)
        ca = client.state.get("sync.ca_file") or settings.sync.ca_file or None
        try:
            kid = asyncio.run(_rotate(base=client.hub_url, ca=ca, clock=client.clock, station_id=client.station_id,
                                      old=old, new=new, timeout_seconds=settings.sync.request_timeout_seconds))
        except Exception as exc:
            raise ProvisioningError(f"key rotation did not complete ({exc}); the new key is kept and the next "
                                    "'motcua provision rotate-key' finishes it") from exc

        def adopt(_conn: object) -> None:  # both keys change in one write, or neither
            store.set_station_signing_key(new)
            store.set_pending_signing_key(None)

        store.write(adopt)
        store.audit("station.key_rotated", actor="it", details={"key_id": kid})
        logger.info("station key rotated to %s", kid)
        return kid
