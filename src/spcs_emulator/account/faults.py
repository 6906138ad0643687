"""Fault injection: make the next statement matching a pattern fail (control API, tests)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from spcs_emulator import errors


@dataclass
class StatementFault:
    pattern: re.Pattern[str]
    errno: int
    sqlstate: str
    message: str
    remaining: int


class Faults:
    def __init__(self) -> None:
        self.statement_faults: list[StatementFault] = []

    def fail_statement(
        self,
        pattern: str,
        *,
        message: str = "Injected failure.",
        errno: int = 1234,
        sqlstate: str = "XX000",
        times: int = 1,
    ) -> None:
        """The next ``times`` statements whose text matches ``pattern`` (regex, case-insensitive) fail."""
        self.statement_faults.append(
            StatementFault(re.compile(pattern, re.IGNORECASE | re.DOTALL), errno, sqlstate, message, times)
        )

    def check_statement(self, sql: str) -> None:
        for fault in self.statement_faults:
            if fault.remaining > 0 and fault.pattern.search(sql):
                fault.remaining -= 1
                if fault.remaining == 0:
                    self.statement_faults.remove(fault)
                raise errors.SnowflakeError(fault.errno, fault.sqlstate, fault.message)

    def clear(self) -> None:
        self.statement_faults.clear()
