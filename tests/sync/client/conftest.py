"""Fixtures for the box-side sync tests: a real hub over loopback, behind the fault proxy."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/sync: faultproxy
