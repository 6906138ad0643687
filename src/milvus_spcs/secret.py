"""A string that never shows itself: tracebacks, reprs and f-string debugging print `****`.

pytest renders the arguments of failing frames with repr(); credentials passed around as plain
strings would then land in terminal output and JUnit XML. ``str(secret)`` still gives the value.
"""

from __future__ import annotations


class Secret(str):
    __slots__ = ()

    def __repr__(self) -> str:
        return "Secret('****')"
