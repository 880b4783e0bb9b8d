"""asn1crypto's name maps made whole before pyHanko uses them.

asn1crypto builds an OID type's reverse map (name → OID) on its first use and never again, while
``asn1crypto.tsp``, ``asn1crypto.pdf`` and pyHanko add names to the forward maps when they are
imported. The box's signer and the hub's verifier both call it. On the box, the chip reader (``edge.devices.cccd``) parses CMS before anything imports
pyHanko, so without this the first signature fails on ``signing_certificate_v2``.
"""

from __future__ import annotations


def complete_oid_maps() -> None:
    """Add every registered name missing from an already-built reverse map (no name is removed)."""
    import asn1crypto.pdf
    import asn1crypto.tsp  # noqa: F401
    from asn1crypto import core

    pending = list(core.ObjectIdentifier.__subclasses__())
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        forward, reverse = cls.__dict__.get("_map"), cls.__dict__.get("_reverse_map")
        if forward and reverse is not None:
            for oid, name in forward.items():
                reverse.setdefault(name, oid)


__all__ = ["complete_oid_maps"]
