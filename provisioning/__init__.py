"""Bulk provisioning of boxes, first boot and enrollment, and the box's lifecycle.

IT runs ``motcua provision init`` once, then ``motcua provision batch inventory.csv`` for each
delivery of boxes; each box runs ``motcua firstboot`` from its bundle (docs/deploy.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.lazy import lazy_exports

if TYPE_CHECKING:
    from ._batch import (
        BatchResult,
        StationPlan,
        new_token,
        normalise_token,
        plan_batch,
        read_manifest,
        station_id_for,
        token_sha256,
        write_batch,
    )
    from ._bundle import BundlePayload, read_bundle, sign_bundle, verify_bundle
    from ._errors import (
        BundleError,
        EnrollmentError,
        FirstbootError,
        InventoryError,
        KeysMissingError,
        ProvisioningError,
        RowError,
    )
    from ._firstboot import STEPS, FirstbootOptions, FirstbootReport, find_bundle, run_firstboot
    from ._inventory import InventoryRow, parse_inventory, read_inventory
    from ._keys import (
        ProvisioningKeys,
        TrustAnchors,
        fingerprint,
        init_keys,
        load_keys,
        load_public_key,
    )
    from ._labels import Label, qr_payload, render_labels
    from ._partition import Assignment, Existing, assign_partitions, number_range
    from ._replace import replace_station

_LAZY: dict[str, tuple[str, str | None]] = {
    "BatchResult": ("._batch", "BatchResult"),
    "StationPlan": ("._batch", "StationPlan"),
    "new_token": ("._batch", "new_token"),
    "normalise_token": ("._batch", "normalise_token"),
    "plan_batch": ("._batch", "plan_batch"),
    "read_manifest": ("._batch", "read_manifest"),
    "station_id_for": ("._batch", "station_id_for"),
    "token_sha256": ("._batch", "token_sha256"),
    "write_batch": ("._batch", "write_batch"),
    "BundlePayload": ("._bundle", "BundlePayload"),
    "read_bundle": ("._bundle", "read_bundle"),
    "sign_bundle": ("._bundle", "sign_bundle"),
    "verify_bundle": ("._bundle", "verify_bundle"),
    "BundleError": ("._errors", "BundleError"),
    "EnrollmentError": ("._errors", "EnrollmentError"),
    "FirstbootError": ("._errors", "FirstbootError"),
    "InventoryError": ("._errors", "InventoryError"),
    "KeysMissingError": ("._errors", "KeysMissingError"),
    "ProvisioningError": ("._errors", "ProvisioningError"),
    "RowError": ("._errors", "RowError"),
    "STEPS": ("._firstboot", "STEPS"),
    "FirstbootOptions": ("._firstboot", "FirstbootOptions"),
    "FirstbootReport": ("._firstboot", "FirstbootReport"),
    "find_bundle": ("._firstboot", "find_bundle"),
    "run_firstboot": ("._firstboot", "run_firstboot"),
    "InventoryRow": ("._inventory", "InventoryRow"),
    "parse_inventory": ("._inventory", "parse_inventory"),
    "read_inventory": ("._inventory", "read_inventory"),
    "ProvisioningKeys": ("._keys", "ProvisioningKeys"),
    "TrustAnchors": ("._keys", "TrustAnchors"),
    "fingerprint": ("._keys", "fingerprint"),
    "init_keys": ("._keys", "init_keys"),
    "load_keys": ("._keys", "load_keys"),
    "load_public_key": ("._keys", "load_public_key"),
    "Label": ("._labels", "Label"),
    "qr_payload": ("._labels", "qr_payload"),
    "render_labels": ("._labels", "render_labels"),
    "Assignment": ("._partition", "Assignment"),
    "Existing": ("._partition", "Existing"),
    "assign_partitions": ("._partition", "assign_partitions"),
    "number_range": ("._partition", "number_range"),
    "replace_station": ("._replace", "replace_station"),
}

__all__ = [
    "STEPS",
    "Assignment",
    "BatchResult",
    "BundleError",
    "BundlePayload",
    "EnrollmentError",
    "Existing",
    "FirstbootError",
    "FirstbootOptions",
    "FirstbootReport",
    "InventoryError",
    "InventoryRow",
    "KeysMissingError",
    "Label",
    "ProvisioningError",
    "ProvisioningKeys",
    "RowError",
    "StationPlan",
    "TrustAnchors",
    "assign_partitions",
    "find_bundle",
    "fingerprint",
    "init_keys",
    "load_keys",
    "load_public_key",
    "new_token",
    "normalise_token",
    "number_range",
    "parse_inventory",
    "plan_batch",
    "qr_payload",
    "read_bundle",
    "read_inventory",
    "read_manifest",
    "render_labels",
    "replace_station",
    "run_firstboot",
    "sign_bundle",
    "station_id_for",
    "token_sha256",
    "verify_bundle",
    "write_batch",
]


# Names load on first use (PEP 562), so importing the package (or its _extension) is cheap.
__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
