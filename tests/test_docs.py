"""Documentation stays in step with the code: every command, benchmark and config section."""

from __future__ import annotations

from pathlib import Path

import click

from bench.cli import available
from edge.cli import cli
from edge.config import known_sections

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_every_command_is_in_the_readme() -> None:
    names = cli.list_commands(click.Context(cli))  # the registered commands, loaded or not
    assert "status" in names and "hub" in names
    missing = [name for name in names if f"`{name}" not in README and f" {name} " not in README]
    assert missing == [], f"commands missing from README's command table: {missing}"


def test_every_benchmark_is_in_the_readme() -> None:
    assert [b for b in available() if f"`{b}`" not in README] == []


def test_every_config_section_is_in_the_readme() -> None:
    sections = known_sections()  # the configuration's own and the ones the installed packages register
    assert "web" in sections and "devices" in sections
    assert [s for s in sections if f"`{s}`" not in README] == []


def test_quick_start_has_exactly_the_two_commands_ci_runs() -> None:
    section = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    block = section.split("```sh", 1)[1].split("```", 1)[0]
    commands = [line.strip() for line in block.splitlines() if line.strip()]
    assert commands == ["./scripts/demo", "./scripts/test"]
    assert "./scripts/test" in (ROOT / ".ci" / "run").read_text()
