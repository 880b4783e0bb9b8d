"""Trạm Một Cửa edge appliance: local store, clerk web app, devices and sync client."""

__version__ = "0.1.0"
