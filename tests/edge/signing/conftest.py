"""The signing tests' SoftHSM2 token fixture."""

from tests.tokens import token_factory  # noqa: F401
