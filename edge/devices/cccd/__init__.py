"""CCCD (Vietnamese citizen ID card): QR payload parsing and chip reading (ICAO 9303)."""
