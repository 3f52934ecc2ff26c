"""Fixtures for the sandbox's own tests: one sandbox server per test module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from notification_constructs.testing.sandbox import Sandbox


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    log = Path(tmp_path_factory.mktemp("sandbox")) / "server.log"
    with Sandbox(log_file=log) as running:
        yield running
