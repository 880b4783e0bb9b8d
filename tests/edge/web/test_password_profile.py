"""One argon2id profile for clerk passwords, on the box and at the hub (core.passwords)."""

from __future__ import annotations

import subprocess
import sys

from argon2 import PasswordHasher, extract_parameters

from core.passwords import ARGON2_MEMORY_KIB, ARGON2_PARALLELISM, ARGON2_TIME_COST
from edge.web import accounts


def test_the_box_hashes_with_the_profile_and_still_verifies_older_hashes() -> None:
    params = extract_parameters(accounts.hash_password("mat-khau-1"))
    assert (params.memory_cost, params.time_cost, params.parallelism) == (12 * 1024, 3, 1)
    assert (params.memory_cost, params.time_cost, params.parallelism) == (ARGON2_MEMORY_KIB, ARGON2_TIME_COST,
                                                                          ARGON2_PARALLELISM)
    older = PasswordHasher().hash("mat-khau-1")  # argon2-cffi's default, 64 MiB: what boxes stored before
    assert extract_parameters(older).memory_cost == 64 * 1024
    attempt = accounts.LoginAttempt(username="a", password_hash=older, exists=True, disabled=False, role="clerk",
                                    failures=1)
    assert accounts.verify_password(attempt, "mat-khau-1")
    assert not accounts.verify_password(attempt, "mat-khau-2")


def test_importing_the_accounts_module_hashes_nothing() -> None:
    """The dummy hash (for unknown users) is made at the first login, not when the daemon starts."""
    code = ("import argon2; calls = []; orig = argon2.PasswordHasher.hash\n"
            "argon2.PasswordHasher.hash = lambda self, *a, **k: calls.append(1) or orig(self, *a, **k)\n"
            "import edge.web.accounts\nprint(len(calls))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "0"
