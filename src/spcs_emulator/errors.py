"""Errors as Snowflake sends them: errno, SQL state and message text (reference/snowflake.md §7).

Every failure the emulator reports is a :class:`SnowflakeError`; the protocol layer turns it into the
``{"success": false, "code": ..., "message": ..., "data": {"sqlState": ...}}`` body the connector
raises as ``ProgrammingError``. Statements the emulator does not implement raise
:func:`not_emulated`: never a fake success.
"""

from __future__ import annotations


class SnowflakeError(Exception):
    """``errno`` as Snowflake numbers it (2003, not "002003"), ``sqlstate`` 5 characters."""

    def __init__(self, errno: int, sqlstate: str, message: str) -> None:
        self.errno = errno
        self.sqlstate = sqlstate
        self.message = message
        super().__init__(f"{errno:06d} ({sqlstate}): {message}")

    @property
    def code(self) -> str:
        return f"{self.errno:06d}"


def compilation(text: str, *, errno: int = 2003, sqlstate: str = "02000") -> SnowflakeError:
    return SnowflakeError(errno, sqlstate, f"SQL compilation error:\n{text}")


def does_not_exist(kind: str, name: str) -> SnowflakeError:
    """002003 (02000): ``Service 'X' does not exist or not authorized.`` Also used for objects the
    current role cannot see, exactly as Snowflake answers (it does not reveal existence)."""
    return compilation(f"{kind} '{name}' does not exist or not authorized.")


def already_exists(kind: str, name: str) -> SnowflakeError:
    """002002 (42710); the snow CLI keys on errno 2002."""
    return compilation(f"Object '{name}' already exists.", errno=2002, sqlstate="42710")


def insufficient_privileges(kind: str, name: str) -> SnowflakeError:
    """003001 (42501): ``Insufficient privileges to operate on compute pool 'P'.``"""
    return SnowflakeError(
        3001, "42501", f"SQL access control error:\nInsufficient privileges to operate on {kind} '{name}'."
    )


def syntax_error(line: int, position: int, unexpected: str) -> SnowflakeError:
    """001003 (42000): ``syntax error line 1 at position 8 unexpected 'FOO'.``"""
    return compilation(
        f"syntax error line {line} at position {position} unexpected '{unexpected}'.",
        errno=1003,
        sqlstate="42000",
    )


def invalid(text: str) -> SnowflakeError:
    """A statement that parses but is refused (bad value, platform rule): 002xxx family, 22023."""
    return SnowflakeError(2043, "22023", f"SQL compilation error:\n{text}")


def not_emulated(what: str) -> SnowflakeError:
    """The statement is valid Snowflake SQL that this emulator does not implement (errno 9999, as fakesnow)."""
    return SnowflakeError(
        9999,
        "0A000",
        f"Unsupported feature: {what} is not emulated by spcs-emulator (see docs/emulator-coverage.md).",
    )
