"""The shared core of Trạm Một Cửa: rules both the box and the city hub follow.

Dependency-free (standard library only) and importing nothing of ``edge``, ``sync`` or
``provisioning``: every other package may import it, it imports none of them.
"""
