"""The argon2id cost of clerk passwords: one profile for the box (accounts made on it) and for the
hub (accounts it publishes on the feed, which the box verifies).

OWASP's password-storage profile of 12 MiB, 3 passes, 1 lane (listed there as an equal defence to
its 19 MiB / 2 and 46 MiB / 1 profiles: the same cost to an attacker, less memory). argon2-cffi's
default (RFC 9106's second option, 64 MiB, 3 passes, 4 lanes) held 64 MiB for every login and,
at import, for the dummy hash: on a box with a memory budget of 80 MB that alone was over it
(docs/security.md, "Passwords").
"""

ARGON2_TIME_COST = 3
ARGON2_MEMORY_KIB = 12 * 1024
ARGON2_PARALLELISM = 1
