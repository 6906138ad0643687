"""ALTER COMPUTE POOL ... UNSET (what `snow spcs compute-pool unset` sends) puts the CREATE default back;
it once removed the property, and every later SHOW or DESCRIBE of the pool was an HTTP 500."""

from __future__ import annotations

import pytest
from snowflake.connector.errors import ProgrammingError

from tests.emulator.test_account import rows


@pytest.fixture
def pool(admin):
    admin.execute(
        "CREATE COMPUTE POOL P MIN_NODES=1 MAX_NODES=1 INSTANCE_FAMILY=CPU_X64_XS AUTO_SUSPEND_SECS=60 "
        "AUTO_RESUME=FALSE COMMENT='c'"
    )
    return admin


def test_unset_puts_the_defaults_back_and_show_and_describe_still_answer(pool) -> None:
    pool.execute("ALTER COMPUTE POOL P UNSET AUTO_SUSPEND_SECS, AUTO_RESUME, COMMENT")
    (shown,) = rows(pool, "SHOW COMPUTE POOLS LIKE 'P'")
    (described,) = rows(pool, "DESCRIBE COMPUTE POOL P")
    for row in (shown, described):
        assert (row["auto_suspend_secs"], row["auto_resume"], row["comment"]) == (3600, "true", None)


def test_a_required_property_cannot_be_unset(pool) -> None:
    with pytest.raises(ProgrammingError, match="MIN_NODES"):
        pool.execute("ALTER COMPUTE POOL P UNSET MIN_NODES")
    (shown,) = rows(pool, "SHOW COMPUTE POOLS LIKE 'P'")
    assert shown["min_nodes"] == 1
