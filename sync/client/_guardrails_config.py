"""The ``[guardrails]`` configuration section: a site's policy for a box that is offline for long.

Imports nothing but the standard library: the composition root loads it with the registrations.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class GuardrailsConfig:
    """Warnings for a box offline for long; intake is never frozen by them."""

    catalog_max_age_days: int = 30    # procedure catalog not refreshed from the city for this long
    holidays_max_age_days: int = 30   # holiday / working-day table
    clerks_max_age_days: int = 30     # clerk accounts
    unsynced_max_age_days: int = 7    # oldest dossier not yet at the city: suggest a transfer
    disk_warn_days: int = 14          # warn when the disk holds fewer days at this week's pace
    scan_reserve_mb: int = 200        # scans are refused only when they would eat into this reserve
    default_page_kb: int = 1024       # page size assumed before any page was stored this week


__all__ = ["GuardrailsConfig"]
