"""pytest plugin (registered by the ``[testing]`` extra): fixtures that run the local sandbox.

``notification_sandbox`` - one running :class:`~notification_constructs.testing.Sandbox` per test session
(its server log goes to ``<basetemp>/notification-sandbox.log``). Deploy your own stack into it with
``notification_sandbox.deploy(...)``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .sandbox import Sandbox


@pytest.fixture(scope="session")
def notification_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """A sandbox server for the whole session, stopped at its end."""
    log = tmp_path_factory.getbasetemp() / "notification-sandbox.log"
    with Sandbox(log_file=log) as sandbox:
        yield sandbox
