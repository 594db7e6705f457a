"""Named registries: one per kind of building block (models, generators, methods, ...).

A registry maps a name to a factory. ``get`` fails with the list of known names and a
"did you mean" suggestion, so a typo on the command line is one readable error line.
"""
from __future__ import annotations

import difflib
from typing import Callable, Iterator, TypeVar

from dfkd.core.errors import DfkdError

F = TypeVar("F", bound=Callable)


class UnknownNameError(DfkdError):
    """A name that is not in a registry."""


class Registry:
    """A dictionary of factories with helpful lookup errors."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._factories: dict[str, Callable] = {}

    def register(self, name: str | None = None) -> Callable[[F], F]:
        """Decorator: ``@MODELS.register("lenet5")`` (defaults to the function's name)."""

        def decorator(factory: F) -> F:
            key = name or factory.__name__
            if key in self._factories:
                raise ValueError(f"{self.kind} {key!r} is registered twice")
            self._factories[key] = factory
            return factory

        return decorator

    def add(self, name: str, factory: Callable) -> None:
        """Register ``factory`` under ``name`` without a decorator."""
        self.register(name)(factory)

    def unregister(self, name: str) -> Callable:
        """Remove ``name`` and return its factory (a test registering a method of its own)."""
        return self._factories.pop(name)

    def get(self, name: str) -> Callable:
        """Return the factory registered as ``name`` or raise :class:`UnknownNameError`."""
        try:
            return self._factories[name]
        except KeyError:
            raise UnknownNameError(self.unknown_message(name)) from None

    def unknown_message(self, name: str) -> str:
        close = difflib.get_close_matches(name, self._factories, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        return f"unknown {self.kind} {name!r}.{hint} Known: {', '.join(self.names())}."

    def names(self) -> list[str]:
        return sorted(self._factories)

    def __contains__(self, name: object) -> bool:
        return name in self._factories

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._factories)


MODELS = Registry("model")
GENERATORS = Registry("generator")
DATASETS = Registry("dataset")
