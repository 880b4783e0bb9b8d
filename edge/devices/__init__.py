"""Peripherals: device registry, scanners, CCCD QR and chip readers."""
