"""Shared by every test: the `requires_program` marker (tests/prerequisites.py)."""

from __future__ import annotations

import pytest
from prerequisites import require_program


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "requires_program(name, package): skip without program `name` (Debian `package`); "
        "fail instead when MIRRORWATCH_REQUIRE_ALL is set",
    )


def pytest_runtest_setup(item: pytest.Item) -> None:
    for mark in item.iter_markers("requires_program"):
        require_program(*mark.args)
