"""pytest plugin (registered by the ``[testing]`` extra): fixtures that run the local sandbox.

``notification_sandbox`` - one running :class:`~notification_constructs.testing.Sandbox` per test session
(its server log goes to ``<basetemp>/notification-sandbox.log``). Deploy your own stack into it with
``notification_sandbox.deploy(...)``.

Loading the plugin also points jsii (the aws-cdk-lib runtime your tests synthesize with) at the Node.js
the ``[testing]`` extra installs (``JSII_NODE``, unless already set), the same one the CDK CLI runs on.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from ._cdk import find_node
from .sandbox import Sandbox

_node = find_node()
if _node is not None:
    os.environ.setdefault("JSII_NODE", str(_node))


@pytest.fixture(scope="session")
def notification_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """A sandbox server for the whole session, stopped at its end."""
    log = tmp_path_factory.getbasetemp() / "notification-sandbox.log"
    with Sandbox(log_file=log) as sandbox:
        yield sandbox
