"""What the benchmarks contribute: the ``bench`` command."""

from __future__ import annotations


def _bench():
    from .cli import bench_command

    return bench_command


def register(registry) -> None:
    registry.add_command("bench", _bench,
                         help="Run benchmark NAME (or --all) against a baseline measured in the same run, interleaved.")
