"""The shared core of Trạm Một Cửa: rules and formats both the box and the city hub follow.

Dependency-free: the standard library and ``cryptography`` only (a core dependency of the
project, for the sealed formats), and importing nothing of ``edge``, ``sync`` or
``provisioning``: every other package may import it, it imports none of them.

- ``core.codes``, ``core.vntime``: dossier codes and partitions, Vietnam time.
- ``core.errors``: :class:`~core.errors.MotcuaError`, the one base every layer's errors derive
  from, and the errors of the sealed formats.
- ``core.sealed``: the sealed formats (STREAM page cipher, sealed values and their associated
  data, the city's HPKE keys and seal).
- ``core.manifest``: the dossier manifest in its one shape (built by the box, opened by the city).
- ``core.fsutil``: durable file writes, private SQLite files.
"""
