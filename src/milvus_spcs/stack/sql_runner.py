"""Run rendered statements on a target, one connection per call (steps run in parallel, each with the
roles its file switches to), logging only redacted SQL."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from milvus_spcs.sqlfiles import redact
from milvus_spcs.target import Target

log = logging.getLogger(__name__)


class SqlRunner:
    def __init__(self, target: Target, secrets: Sequence[str]) -> None:
        self.target = target
        self.secrets = [s for s in (*secrets, *target.secrets()) if s]

    def run(self, statements: Sequence[str]) -> list[list[dict[str, Any]]]:
        """Execute in order on one fresh connection; each statement's rows as dicts."""
        results = []
        conn = self.target.connect()
        try:
            cur = conn.cursor()
            for statement in statements:
                log.info("sql: %s", redact(statement, self.secrets))
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
        return self.run(statements)[-1]
