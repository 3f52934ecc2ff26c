"""The handlers' one entry to Powertools ``Logger`` / ``Metrics``, with its JMESPath helpers loaded on first use.

``aws_lambda_powertools.logging.logger`` imports ``aws_lambda_powertools.utilities.jmespath_utils`` at
module level, and that module imports ``typing_extensions`` (for one ``@deprecated``): a ~4,000-line
module compiled at every cold start (the Lambda asset ships no ``__pycache__``) that the AWS SDK never
imports - 45-60 ms of the order writer's cold start, measured with ``bench/cold_start.py --importtime``.
The Logger only calls ``jmespath_utils.query`` for ``inject_lambda_context(correlation_id_path=...)``,
which no handler uses.

So before Powertools is imported, :func:`defer_jmespath_utils` puts a *deferred* module object for it into
``sys.modules``: it has the module's import metadata (``__spec__``, ``__file__``, ``__path__``), so
``from aws_lambda_powertools.utilities import jmespath_utils`` takes it as imported, and the module's code
runs in it at the first access to anything else (a module-level ``__getattr__``, PEP 562) - a
``correlation_id_path`` still works, it just pays the import then. This is the standard library's
:class:`importlib.util.LazyLoader` idea, except that ``LazyLoader`` also loads on the ``__spec__`` look-up
every ``import`` statement makes (https://docs.python.org/3/library/importlib.html#importlib.util.LazyLoader),
which would load it at once here. Nothing else changes: the structured Logger, ``inject_lambda_context``
and the EMF Metrics are the real Powertools ones. When Powertools is already imported, or the installed
version no longer has the module where expected, nothing is deferred (the eager import then applies).

Import ``Logger``, ``Metrics`` and ``MetricUnit`` from here, before anything else imports Powertools (the
shell does; elsewhere ``from aws_lambda_powertools import Logger`` belongs under ``TYPE_CHECKING``).
"""

from __future__ import annotations

import sys
from importlib.machinery import PathFinder
from importlib.util import find_spec, module_from_spec
from types import ModuleType
from typing import Any

JMESPATH_UTILS = "aws_lambda_powertools.utilities.jmespath_utils"


class DeferredModule(ModuleType):
    """A module whose code runs at the first look-up of a name it does not have yet."""

    def __getattr__(self, name: str) -> Any:  # only called for names missing from the module's namespace
        spec = self.__spec__
        if spec is None or spec.loader is None:  # pragma: no cover - made by module_from_spec(spec)
            raise AttributeError(name)
        # From here on an ordinary module (also while its code runs: its own look-ups must not recurse).
        self.__class__ = ModuleType  # type: ignore[assignment]
        try:
            spec.loader.exec_module(self)
        except BaseException:
            sys.modules.pop(spec.name, None)  # as a failed import does: the next import starts afresh
            raise
        return getattr(self, name)


def defer_jmespath_utils() -> ModuleType | None:
    """Put a :class:`DeferredModule` for :data:`JMESPATH_UTILS` into ``sys.modules``; it, or ``None`` when
    nothing was deferred (Powertools already imported, or the module not found)."""
    if "aws_lambda_powertools" in sys.modules or JMESPATH_UTILS in sys.modules:
        return None
    # find_spec() of a submodule would import its parent packages (all of Powertools): search their
    # directories as the path-based finder does.
    spec = find_spec("aws_lambda_powertools")
    for name in ("aws_lambda_powertools.utilities", JMESPATH_UTILS):
        if spec is None or not spec.submodule_search_locations:
            return None
        spec = PathFinder.find_spec(name, spec.submodule_search_locations)
    if spec is None or spec.loader is None:
        return None
    module = module_from_spec(spec)  # the import metadata only: nothing of the module runs yet
    module.__class__ = DeferredModule
    sys.modules[JMESPATH_UTILS] = module
    return module


_deferred = defer_jmespath_utils()

# isort: split
import aws_lambda_powertools.utilities  # noqa: E402 - must follow the deferral
from aws_lambda_powertools import Logger, Metrics  # noqa: E402
from aws_lambda_powertools.metrics import MetricUnit  # noqa: E402

if _deferred is not None and not hasattr(aws_lambda_powertools.utilities, "jmespath_utils"):
    # The Logger's import found it in sys.modules, so the package attribute an eager import sets is missing.
    aws_lambda_powertools.utilities.jmespath_utils = _deferred  # type: ignore[attr-defined]

__all__ = ["JMESPATH_UTILS", "DeferredModule", "Logger", "MetricUnit", "Metrics", "defer_jmespath_utils"]
