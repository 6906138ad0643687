"""A typed place for what other layers add to an account (the SPCS control plane): found by class,
never by a string key, so the account itself names none of them."""

from __future__ import annotations

from typing import Protocol, TypeVar, runtime_checkable

T = TypeVar("T")


@runtime_checkable
class Resettable(Protocol):
    def reset(self) -> None: ...


class Extensions:
    def __init__(self) -> None:
        self._by_type: dict[type, object] = {}

    def add(self, extension: object) -> None:
        self._by_type[type(extension)] = extension

    def get(self, kind: type[T]) -> T:
        """The extension of class ``kind``; LookupError when the account was built without it."""
        extension = self._by_type.get(kind)
        if not isinstance(extension, kind):
            raise LookupError(f"this account has no {kind.__name__}")
        return extension

    def reset(self) -> None:
        for extension in self._by_type.values():
            if isinstance(extension, Resettable):
                extension.reset()
