"""A property's value means what it says, or the statement is refused before anything changes (through
the real connector): booleans given as strings (``DISABLED = 'TRUE'``) disable the user and end its
sessions, in every kind that has boolean properties; other values are refused; a programmatic access
token lives 1 to 365 days."""

from __future__ import annotations

import pytest
import snowflake.connector
from snowflake.connector.errors import DatabaseError

from spcs_emulator.emulator import Emulator
from tests.emulator.sql import refused, rows
from tests.emulator.stage_user import mallory_params, user_row

SESSION_ENDED = 390104

pytestmark = pytest.mark.usefixtures("stage_user")


# -- booleans given as strings mean what they say ------------------------------------------------------------


@pytest.mark.parametrize("value", ["'TRUE'", "'true'", "TRUE"])
def test_disabled_given_as_a_string_disables_and_ends_sessions(
    emulator: Emulator, admin, mallory, value: str
) -> None:
    admin.execute(f"ALTER USER MALLORY SET DISABLED = {value}")
    assert user_row(admin)["disabled"] == "true"
    assert refused(mallory, "SELECT 1").errno == SESSION_ENDED
    with pytest.raises(DatabaseError, match="User access disabled"):
        snowflake.connector.connect(**mallory_params(emulator))
    admin.execute("ALTER USER MALLORY SET DISABLED = 'FALSE'")
    snowflake.connector.connect(**mallory_params(emulator)).close()


def test_create_user_disabled_as_a_string_cannot_log_in(emulator: Emulator, admin) -> None:
    admin.execute("CREATE USER EVE PASSWORD = 'eve-pw' DISABLED = 'true'")
    assert user_row(admin, "EVE")["disabled"] == "true"
    with pytest.raises(DatabaseError, match="User access disabled"):
        snowflake.connector.connect(**emulator.connection_parameters(user="eve", password="eve-pw"))


@pytest.mark.parametrize("value", ["'maybe'", "'2'", "42"])
def test_a_boolean_property_refuses_other_values(admin, mallory, value: str) -> None:
    err = refused(admin, f"ALTER USER MALLORY SET DISABLED = {value}")
    assert (err.errno, err.sqlstate) == (2043, "22023")
    assert "DISABLED" in err.msg
    assert user_row(admin)["disabled"] == "false"
    assert rows(mallory, "SELECT 1 AS X")[0]["X"] == 1


def test_other_kinds_read_string_booleans_too(admin) -> None:
    admin.execute(
        "CREATE COMPUTE POOL P MIN_NODES=1 MAX_NODES=1 INSTANCE_FAMILY=CPU_X64_XS AUTO_RESUME = 'FALSE'"
    )
    assert rows(admin, "SHOW COMPUTE POOLS")[0]["auto_resume"] == "false"
    admin.execute("ALTER COMPUTE POOL P SET AUTO_RESUME = 'true'")
    assert rows(admin, "SHOW COMPUTE POOLS")[0]["auto_resume"] == "true"
    err = refused(admin, "ALTER COMPUTE POOL P SET AUTO_RESUME = 'sometimes'")
    assert (err.errno, err.sqlstate) == (2043, "22023")


# -- a programmatic access token lives 1 to 365 days ---------------------------------------------------------


@pytest.mark.parametrize("days", ["-5", "0", "366", "100000", "'soon'", "1.5"])
def test_pat_days_to_expiry_out_of_range_is_refused(admin, days: str) -> None:
    err = refused(admin, f"ALTER USER MALLORY ADD PROGRAMMATIC ACCESS TOKEN T DAYS_TO_EXPIRY = {days}")
    assert (err.errno, err.sqlstate) == (2043, "22023")
    assert "DAYS_TO_EXPIRY" in err.msg
    # Nothing was created: the same name is still free.
    rows(admin, "ALTER USER MALLORY ADD PROGRAMMATIC ACCESS TOKEN T DAYS_TO_EXPIRY = 1")


@pytest.mark.parametrize("days", ["1", "365"])
def test_pat_days_to_expiry_in_range_is_accepted(admin, days: str) -> None:
    token = rows(admin, f"ALTER USER MALLORY ADD PROGRAMMATIC ACCESS TOKEN T DAYS_TO_EXPIRY = {days}")[0]
    assert token["token_name"] == "T"
