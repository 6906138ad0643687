"""Errors the harness raises on purpose, each saying what went wrong and how to fix it."""

from __future__ import annotations


class HarnessError(Exception):
    """Base class for every error the harness raises deliberately."""


class PreflightError(HarnessError):
    """A precondition is missing; raised before anything is created."""

    def __init__(self, problem: str, remedies: list[str] | tuple[str, ...] = ()) -> None:
        self.problem = problem
        self.remedies = tuple(remedies)
        text = problem
        if self.remedies:
            text += "\n" + "\n".join(f"  - {remedy}" for remedy in self.remedies)
        super().__init__(text)


class WaitTimeout(HarnessError):
    """A wait ran out of time; says what it waited for and the last state it saw."""

    def __init__(self, what: str, timeout: float, last_state: str, attempts: int) -> None:
        self.what = what
        self.timeout = timeout
        self.last_state = last_state
        self.attempts = attempts
        super().__init__(
            f"timed out after {timeout:.1f}s ({attempts} checks) waiting for {what}; last state: {last_state}"
        )


class WaitFailed(HarnessError):
    """The awaited thing reached a state it cannot recover from (e.g. a process exited)."""
