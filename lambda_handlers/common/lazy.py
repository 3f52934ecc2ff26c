"""One cached object per execution environment, built on first use (config read and validated then)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Lazy(Generic[T]):
    """``get()`` builds the value once with ``factory``; ``reset()`` forgets it or installs a prepared one."""

    def __init__(self, factory: Callable[[], T]) -> None:
        self._factory = factory
        self._value: T | None = None

    def get(self) -> T:
        if self._value is None:
            self._value = self._factory()
        return self._value

    def reset(self, value: T | None = None) -> None:
        self._value = value
