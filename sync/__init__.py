"""Sync between boxes and the city hub: protocol, client reconciler and reference hub."""
