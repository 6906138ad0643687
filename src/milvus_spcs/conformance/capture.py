"""One statement's answer through the real connector, scrubbed: its columns ("name TYPE", in order)
and rows, or its refusal (code, SQLSTATE, message)."""

from __future__ import annotations

from typing import Any

from snowflake.connector import constants
from snowflake.connector.errors import Error

from milvus_spcs.conformance.scrub import Scrubber

# Re-exported for compatibility without being declared so (connector 4.x moved it to _internal).
FIELD_ID_TO_NAME: dict[int, str] = constants.FIELD_ID_TO_NAME  # type: ignore[attr-defined]


def error_answer(exc: Error, scrub: Scrubber) -> dict[str, Any]:
    message = str(getattr(exc, "raw_msg", None) or exc.msg or "")
    return {
        "error": {
            "code": f"{exc.errno:06d}" if exc.errno is not None else None,
            "sqlstate": exc.sqlstate,
            "message": scrub.text(message),
        }
    }


def capture(cursor: Any, sql: str, scrub: Scrubber) -> dict[str, Any]:
    """What ``sql`` answers on ``cursor``, in the shape of an observation's ``expect``."""
    try:
        cursor.execute(sql)
    except Error as exc:
        return error_answer(exc, scrub)
    # Column names too: SELECT SYSTEM$F('<db>...') names its column after the call.
    names = [scrub.text(d.name) for d in cursor.description]
    columns = [f"{n} {FIELD_ID_TO_NAME[d.type_code]}" for n, d in zip(names, cursor.description, strict=True)]
    rows = [{n: scrub.value(v) for n, v in zip(names, row, strict=True)} for row in cursor.fetchall()]
    return {"columns": columns, "rows": rows, "row_count": len(rows)}
