"""Run rendered statements on a target, one connection per call (steps run in parallel, each with the
roles its file switches to), logging only redacted SQL.

A failing statement may carry a secret (CREATE USER ... PASSWORD = '...'), and so may the server's
message. Errors leave here redacted: the exception is rebuilt with every known secret replaced, raised
without the original chained to it, and the statements in the frames a traceback shows (pytest prints
every failing frame's arguments, into the terminal and the JUnit XML) are replaced by their redacted form.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Sequence
from typing import Any

from snowflake.connector.errors import Error as SnowflakeError

from milvus_spcs.errors import HarnessError
from milvus_spcs.sqlfiles import redact
from milvus_spcs.target import Target

log = logging.getLogger(__name__)


Around = Callable[[str], contextlib.AbstractContextManager[object]]


class SqlFailed(HarnessError):
    """A non-connector error while running SQL, its text redacted."""


def _redacted_snowflake_error(exc: SnowflakeError, secrets: Sequence[str]) -> SnowflakeError:
    def rebuilt(error_class: type[SnowflakeError]) -> SnowflakeError:
        return error_class(
            msg=redact(exc.raw_msg or "", secrets),
            errno=exc.errno,
            sqlstate=exc.sqlstate,
            sfqid=exc.sfqid,
            query=redact(exc.query, secrets) if exc.query else None,
            request_id=exc.request_id,
        )

    try:
        return rebuilt(type(exc))
    except TypeError:  # a subclass with its own constructor: the base class keeps errno and sqlstate
        return rebuilt(SnowflakeError)


def redacted_error(exc: BaseException, secrets: Sequence[str]) -> Exception:
    """A new exception like ``exc`` with every secret replaced by ****, carrying no chain. Connector
    errors keep their class, errno, sqlstate and query id, so callers can still branch on them."""
    if isinstance(exc, SnowflakeError):
        return _redacted_snowflake_error(exc, secrets)
    return SqlFailed(redact(f"{type(exc).__name__}: {exc}", secrets))


class SqlRunner:
    def __init__(self, target: Target, secrets: Sequence[str]) -> None:
        self.target = target
        self.secrets = [str(s) for s in (*secrets, *target.secrets()) if s]

    def redact(self, text: str) -> str:
        return redact(text, self.secrets)

    def run(self, statements: Sequence[str], *, around: Around | None = None) -> list[list[dict[str, Any]]]:
        """Execute in order on one fresh connection; each statement's rows as dicts. ``around``: a
        context each statement runs in, given its redacted text (progress of a long teardown)."""
        try:
            return self._execute(statements, around or (lambda statement: contextlib.nullcontext()))
        except Exception as exc:
            error = redacted_error(exc, self.secrets)
        # Outside the except block: the new error gets no __context__ (the original, unredacted).
        statements = [self.redact(s) for s in statements]  # what a traceback shows of this frame
        raise error

    def _execute(self, statements: Sequence[str], around: Around) -> list[list[dict[str, Any]]]:
        results = []
        conn = self.target.connect()
        try:
            cur = conn.cursor()
            for statement in statements:
                log.info("sql: %s", self.redact(statement))
                with around(self.redact(statement)):
                    cur.execute(statement)
                names = [d[0] for d in cur.description or []]
                results.append(
                    [dict(zip(names, row, strict=True)) for row in cur.fetchall()] if names else []
                )
        finally:
            conn.close()
        return results

    def query(self, *statements: str) -> list[dict[str, Any]]:
        """The rows of the last statement."""
        try:
            return self.run(statements)[-1]
        except Exception:
            statements = tuple(self.redact(s) for s in statements)  # this frame's arguments, redacted
            raise
