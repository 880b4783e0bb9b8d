"""Bulk provisioning of boxes, first boot and enrollment, and the box's lifecycle.

IT runs ``motcua provision init`` once, then ``motcua provision batch inventory.csv`` for each
delivery of boxes; each box runs ``motcua firstboot`` from its bundle (docs/deploy.md).
"""

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
