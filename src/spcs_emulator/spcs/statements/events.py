"""``SELECT * FROM TABLE(<service>!SPCS_GET_EVENTS([START_TIME => t] [, END_TIME => t]))``.

Columns and types as documented (docs: sql-reference/functions/spcs_get_events): TIMESTAMP
(TIMESTAMP_NTZ, UTC), SEVERITY, EVENT_NAME, EVENT_DETAILS (OBJECT), INSTANCE_ID (NUMBER),
CONTAINER_NAME, RECORD (OBJECT), RECORD_ATTRIBUTES (OBJECT). MONITOR on the service is required.
START_TIME defaults to one day ago, END_TIME to now. The time arguments take a timestamp string or the
few expressions such calls use: CURRENT_TIMESTAMP() / SYSDATE() and DATEADD(unit, n, <time>).
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from spcs_emulator import errors
from spcs_emulator.account.registry import StatementContext
from spcs_emulator.results import Column, Result, table
from spcs_emulator.spcs.statements.common import control_plane
from spcs_emulator.sql import ast

EVENT_COLUMNS = (
    Column("TIMESTAMP", "timestamp_ntz"),
    Column("SEVERITY"),
    Column("EVENT_NAME"),
    Column("EVENT_DETAILS", "object"),
    Column("INSTANCE_ID", "fixed"),
    Column("CONTAINER_NAME"),
    Column("RECORD", "object"),
    Column("RECORD_ATTRIBUTES", "object"),
)
# The service table functions Snowflake has; only the events are emulated.
SERVICE_FUNCTIONS = ("SPCS_GET_EVENTS", "SPCS_GET_LOGS", "SPCS_GET_METRICS")
_UNITS = {
    "SECOND": 1,
    "SECONDS": 1,
    "MINUTE": 60,
    "MINUTES": 60,
    "HOUR": 3600,
    "HOURS": 3600,
    "DAY": 86400,
    "DAYS": 86400,
}


def select_service_function(ctx: StatementContext, stmt: ast.SelectServiceFunction) -> Result:
    if stmt.function not in SERVICE_FUNCTIONS:
        raise errors.SnowflakeError(
            2140, "42601", f"SQL compilation error:\nUnknown function {stmt.service}!{stmt.function}"
        )
    if stmt.function != "SPCS_GET_EVENTS":
        raise errors.not_emulated(f"{stmt.function}")
    service = ctx.lookup(ast.SERVICE, stmt.service)
    ctx.require(service, "MONITOR")
    now = time.time()
    args = dict(stmt.args)
    unknown = set(args) - {"START_TIME", "END_TIME"}
    if unknown:
        raise errors.wrong_function_arguments(
            f"SPCS_GET_EVENTS takes START_TIME and END_TIME, not {', '.join(sorted(unknown))}"
        )
    start = _time_of(args["START_TIME"], now) if "START_TIME" in args else now - 86400
    end = _time_of(args["END_TIME"], now) if "END_TIME" in args else now
    events = control_plane(ctx).records[service.fqn].between(start, end)
    rows = [
        (
            dt.datetime.fromtimestamp(e.timestamp, dt.UTC).replace(tzinfo=None),
            e.severity,
            e.name,
            e.details,
            e.instance_id,
            e.container,
            e.record,
            e.attributes,
        )
        for e in sorted(events, key=lambda e: e.timestamp, reverse=True)  # newest first, as the docs show
    ]
    return table(EVENT_COLUMNS, rows, select=True)


def _time_of(value: Any, now: float) -> float:
    """Epoch seconds of a time argument; a Snowflake error for anything else."""
    if isinstance(value, ast.FunctionCall):
        if value.name in ("CURRENT_TIMESTAMP", "SYSDATE", "LOCALTIMESTAMP") and not value.args:
            return now
        if value.name in ("DATEADD", "TIMESTAMPADD") and len(value.args) == 3:
            unit, amount, base = value.args
            word = (
                unit.last
                if isinstance(unit, ast.Name)
                else unit.value
                if isinstance(unit, ast.Ident)
                else unit
            )
            unit_name = str(word).upper()
            if unit_name in _UNITS and isinstance(amount, int | float) and not isinstance(amount, bool):
                return _time_of(base, now) + amount * _UNITS[unit_name]
    if isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value.strip())
        except ValueError:
            raise errors.SnowflakeError(100035, "22007", f"Timestamp '{value}' is not recognized") from None
        # TIMESTAMP_LTZ: a time without a zone is the session's, which is UTC here.
        return (parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)).timestamp()
    raise errors.not_emulated(f"this expression as a time argument of SPCS_GET_EVENTS: {value!r}")
