"""What the emulator tests send through the real connector: a connection, a statement's rows as dicts
or the error it is refused with, and a wait for a service's status."""

from __future__ import annotations

import pytest
import snowflake.connector
from snowflake.connector.errors import ProgrammingError

from milvus_spcs.waits import Probe, wait_for
from spcs_emulator.emulator import Emulator


def connect(emu: Emulator, **overrides):
    return snowflake.connector.connect(**{**emu.connection_parameters(), **overrides})


def rows(cur, sql: str) -> list[dict]:
    cur.execute(sql)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def wait_status(cur, service: str, wanted: str, timeout: float = 10) -> None:
    def probe() -> Probe[None]:
        status = rows(cur, f"DESCRIBE SERVICE {service}")[0]["status"]
        return Probe(status == wanted, state=status)

    wait_for(probe, what=f"service {service} to be {wanted}", timeout=timeout, interval=0.05)


def refused(cur, sql: str) -> ProgrammingError:
    """The SQL error ``sql`` is answered with (the test fails if it succeeds)."""
    with pytest.raises(ProgrammingError) as info:
        cur.execute(sql)
    return info.value
