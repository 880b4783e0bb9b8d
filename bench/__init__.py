"""Benchmarks: `motcua bench NAME --json`."""
