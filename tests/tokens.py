"""A SoftHSM2 token for the signing tests (``bench._token`` makes it; SOFTHSM2_CONF in tmp)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from bench._token import TestToken, component_pdf, make_token, missing_tools

PIN = "PinMarker-7391"  # a marker: searched for on disk and in logs


@pytest.fixture
def token_factory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., TestToken]:
    """Make a token (``make_token`` keywords) in a private SoftHSM2 token directory; the process's
    SOFTHSM2_CONF points at it (the module is re-initialised before each use)."""
    if missing_tools():
        pytest.skip(f"SoftHSM2/OpenSC missing ({', '.join(missing_tools())}): Debian packages softhsm2 opensc")
    made: list[TestToken] = []

    def make(**kwargs) -> TestToken:
        kwargs.setdefault("pin", PIN)
        root = tmp_path / f"softhsm-{len(made)}"
        token = make_token(root, ca=kwargs.pop("ca", made[0].ca if made else None), **kwargs)
        monkeypatch.setenv("SOFTHSM2_CONF", str(token.conf))
        (root / "roots.pem").write_bytes(token.ca.pem())
        made.append(token)
        return token

    return make


def signing_section(token: TestToken, roots: Path | None = None) -> dict:
    return {"pkcs11_module": token.module, "token_label": token.token_label, "key_label": token.key_label,
            "trust_roots": str(roots or token.conf.parent / "roots.pem")}


__all__ = ["PIN", "component_pdf", "signing_section", "token_factory"]
