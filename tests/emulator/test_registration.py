"""The account stands without SPCS, and SPCS extends it only through registration (docs/architecture.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from spcs_emulator.account.engine import Account
from spcs_emulator.errors import SnowflakeError
from spcs_emulator.protocol.backend import LoginRequest
from spcs_emulator.results import Result
from spcs_emulator.spcs.control import ControlPlane
from spcs_emulator.spcs.registration import register_spcs
from tests.emulator.fakes import FakeIngress, FakeRuntime


def _admin(account: Account):
    session = account.login(LoginRequest(account="x", login_name="ADMIN", password="pw"))

    def sql(text: str) -> Result:
        result = account.execute(session, text)
        assert isinstance(result, Result)
        return result

    return sql


@pytest.mark.parametrize(
    "statement",
    [
        "CREATE COMPUTE POOL P MIN_NODES = 1 MAX_NODES = 1 INSTANCE_FAMILY = CPU_X64_XS",
        "SHOW COMPUTE POOLS",
        "CALL SYSTEM$GET_SERVICE_DNS_DOMAIN('D.PUBLIC')",
    ],
)
def test_an_account_without_spcs_knows_nothing_of_it(tmp_path: Path, statement: str) -> None:
    sql = _admin(Account(admin_password="pw", state_dir=tmp_path))
    sql("CREATE DATABASE D")
    with pytest.raises(SnowflakeError) as info:
        sql(statement)
    assert info.value.errno in (9999, 2140)  # not emulated / unknown function: never a fake success


def test_registering_spcs_adds_its_kinds_functions_and_listings(tmp_path: Path) -> None:
    account = Account(admin_password="pw", state_dir=tmp_path)
    control = ControlPlane(account.state, runtime=FakeRuntime(), ingress=FakeIngress())
    register_spcs(account, control)
    sql = _admin(account)
    sql("CREATE DATABASE D")
    sql("CREATE COMPUTE POOL P MIN_NODES = 1 MAX_NODES = 1 INSTANCE_FAMILY = CPU_X64_XS")
    assert [row[0] for row in sql("SHOW COMPUTE POOLS").rows] == ["P"]
    assert account.state.extensions.get(ControlPlane) is control
    # The account's own SHOW still answers through the SPCS listing that wraps it.
    assert [row[1] for row in sql("SHOW DATABASES").rows] == ["D"]
    assert sql("CALL SYSTEM$GET_SERVICE_DNS_DOMAIN('D.PUBLIC')").rows[0][0]


def test_a_missing_extension_is_named(tmp_path: Path) -> None:
    account = Account(admin_password="pw", state_dir=tmp_path)
    with pytest.raises(LookupError, match="no ControlPlane"):
        account.state.extensions.get(ControlPlane)
