"""Fixtures for provisioning tests: a provisioning directory with real keys and inventories."""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge.store import CityPrivateKey
from provisioning import ProvisioningKeys, init_keys

HEADER = ("serial", "station_name", "agency_code", "kind", "address", "hub_url")
AGENCIES = ("000.00.06.H56", "000.00.07.H56", "000.00.53.H48")
KINDS = ("branch", "commune", "mobile", "popup")


def inventory_rows(n: int, *, hub_url: str = "http://127.0.0.1:9", prefix: str = "PI") -> list[dict[str, str]]:
    return [{"serial": f"{prefix}{i:05d}", "station_name": f"Điểm tiếp nhận Phường Đông Sơn {i}",
             "agency_code": AGENCIES[i % len(AGENCIES)], "kind": KINDS[i % len(KINDS)],
             "address": f"{i} Lê Lợi, Thanh Hóa", "hub_url": hub_url} for i in range(n)]


def write_inventory(path: Path, rows: Sequence[dict[str, str]], header: Sequence[str] = HEADER) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(header), extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture
def anchor_files(tmp_path: Path) -> dict[str, Path]:
    """A city key pair and a receipt key, as a hub would hold them."""
    base = tmp_path / "anchors-src"
    base.mkdir()
    city = CityPrivateKey.generate("X25519")
    (base / "city-private.json").write_text(json.dumps(city.to_json()))
    (base / "city.pub").write_text(json.dumps(city.public().to_json()))
    receipt = Ed25519PrivateKey.generate()
    (base / "receipt.pub").write_bytes(receipt.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    return {"city": base / "city.pub", "city_private": base / "city-private.json", "receipt": base / "receipt.pub"}


@pytest.fixture
def prov_keys(tmp_path: Path, anchor_files: dict[str, Path]) -> ProvisioningKeys:
    keys, created = init_keys(tmp_path / "keys", receipt_key=anchor_files["receipt"], city_key=anchor_files["city"])
    assert created
    return keys
