"""watchd: a monitoring and alerting daemon for managed hosting."""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from collections.abc import Sequence
from types import ModuleType

__version__ = "0.1.0"

_EXTRAS = ("rich", "greenlet")


class _LeanStructlog(importlib.abc.MetaPathFinder):
    """structlog imports rich (with pygments: about 6 MB, for pretty tracebacks) and greenlet when they
    happen to be installed (a test environment has both). watchd logs JSON or plain lines and its
    memory per host matters, so while structlog itself is being imported those two look absent;
    code that wants rich can still import it afterwards. Nothing is imported here."""

    def find_spec(
        self, name: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if name != "structlog":
            return None
        sys.meta_path.remove(self)
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return spec
        run = spec.loader.exec_module

        def exec_module(module: ModuleType) -> None:
            blocked = [n for n in _EXTRAS if n not in sys.modules]
            for n in blocked:
                sys.modules[n] = None  # type: ignore[assignment]  # `import rich` raises ImportError
            try:
                run(module)
            finally:
                for n in blocked:
                    del sys.modules[n]

        spec.loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


if "structlog" not in sys.modules:
    sys.meta_path.insert(0, _LeanStructlog())
