"""Errors of the provisioning layer: inventories, bundles, first boot and the box's lifecycle."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from core.errors import MotcuaError


class ProvisioningError(MotcuaError):
    """Base of every provisioning error."""


class KeysMissingError(ProvisioningError):
    """The provisioning directory has no provisioning key or no trust anchors."""


class BundleError(ProvisioningError):
    """A provisioning bundle is malformed, tampered with, signed by another key or expired."""


class FirstbootError(ProvisioningError):
    """First boot cannot go on (no bundle found, a step failed)."""


class EnrollmentError(ProvisioningError):
    """The hub refused the enrollment (token used, expired or unknown): retrying will not help."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RowError:
    """One problem in an inventory file: its row (1 = header), its column and what is wrong."""

    row: int
    column: str
    message: str

    def __str__(self) -> str:
        return f"row {self.row}, column {self.column}: {self.message}"


class InventoryError(ProvisioningError):
    """The inventory sheet has errors; every one of them is listed, nothing was written."""

    def __init__(self, errors: Sequence[RowError], *, source: str = "inventory") -> None:
        self.errors = tuple(errors)
        lines = "\n".join(f"  {e}" for e in self.errors)
        super().__init__(
            f"{source}: {len(self.errors)} error(s), nothing was written:\n{lines}",
            message_vi=f"Bảng kê thiết bị có {len(self.errors)} lỗi; chưa ghi gì.",
        )
