"""The account never names SPCS (docs/architecture.md): SPCS declares its kinds, words and privileges
and registers them; the account derives its tables (namespaces, message words, grantable privileges)
from whatever kinds are registered."""

from __future__ import annotations

import ast as pyast
import re
from collections import Counter
from pathlib import Path

import pytest

from spcs_emulator.account.engine import Account
from spcs_emulator.errors import SnowflakeError
from spcs_emulator.protocol.backend import LoginRequest
from spcs_emulator.results import Result
from spcs_emulator.spcs.control import ControlPlane
from spcs_emulator.spcs.registration import register_spcs
from tests.emulator.fakes import FakeIngress, FakeRuntime

EMULATOR = Path(__file__).resolve().parents[2] / "src" / "spcs_emulator"
ACCOUNT = EMULATOR / "account"

# How SPCS's kinds, words and privileges are spelled in code, messages and SQL (case-sensitive: prose
# that explains by example in lower case is not naming). ``ast.SERVICE``, ``"CREATE SERVICE"``,
# ``"BIND SERVICE ENDPOINT"`` and ``ast.ServiceRoleName`` all contain SERVICE.
SPCS_SPELLINGS = (
    r"COMPUTE[ _]POOL",
    r"IMAGE[ _]REPOSITOR",
    r"\bSNAPSHOTS?\b",
    r"\bSERVICES?\b",
    r"\bServiceRole",
    r"\bENDPOINTS?\b",
    r"Compute pool",
    r"Image [Rr]epositor",
    r"\bService\b",
    r"\bSnapshot\b",
)
SPCS_NAMES = re.compile("|".join(SPCS_SPELLINGS))


def spcs_names_in(source: str) -> list[tuple[int, str]]:
    return [(n, line.strip()) for n, line in enumerate(source.splitlines(), 1) if SPCS_NAMES.search(line)]


@pytest.mark.parametrize(
    "line",
    [
        "ast.COMPUTE_POOL: ('USAGE', 'OPERATE', 'MONITOR', 'MODIFY'),",
        '("CREATE COMPUTE POOL", SYSADMIN),',
        '"BIND SERVICE ENDPOINT",',
        "if kind == ast.SERVICE:",
        "if isinstance(stmt.role, ast.ServiceRoleName):",
        "role_key = ServiceRole(service.fqn, stmt.role.role)",
        "{ast.STAGE, ast.IMAGE_REPOSITORY, ast.SERVICE, ast.NETWORK_RULE, ast.SECRET, ast.SNAPSHOT}",
        '"CREATE IMAGE REPOSITORY",',
        'ast.IMAGE_REPOSITORY: "Image repository",',
        'ast.COMPUTE_POOL: "Compute pool",',
        'ast.SNAPSHOT: "Snapshot",',
        'raise errors.does_not_exist("Service role", name)',
    ],
)
def test_the_check_recognises_what_the_account_used_to_name(line: str) -> None:
    assert spcs_names_in(line)


@pytest.mark.parametrize(
    "line",
    [
        'str(props.get("OAUTH_CLIENT", "")).upper() != "SNOWSERVICES_INGRESS"',
        '"region type cloud notification_channel storage_integration endpoint owner_role_type "',
        "# a stage's files go, a warehouse stops",
    ],
)
def test_the_check_passes_what_is_the_accounts_own(line: str) -> None:
    assert not spcs_names_in(line)


def test_the_account_names_no_spcs_kind_word_or_privilege() -> None:
    found = {
        str(path.relative_to(EMULATOR)): hits
        for path in sorted(ACCOUNT.rglob("*.py"))
        if (hits := spcs_names_in(path.read_text()))
    }
    assert not found, f"account/ names SPCS (declare it in spcs/ and register it): {found}"


def test_no_two_modules_give_one_kinds_table_name() -> None:
    """Two different things were once named ACCOUNT_KINDS (kind words in objects.py, declarations in
    engine.py): a module-level ``*_KINDS`` name is bound in one module of the emulator only."""
    bound: Counter[str] = Counter()
    for path in EMULATOR.rglob("*.py"):
        for node in pyast.parse(path.read_text()).body:
            targets = node.targets if isinstance(node, pyast.Assign) else []
            if isinstance(node, pyast.AnnAssign):
                targets = [node.target]
            bound.update({t.id for t in targets if isinstance(t, pyast.Name) and t.id.endswith("_KINDS")})
    assert [name for name, count in bound.items() if count > 1] == []


def _admin(account: Account):
    session = account.login(LoginRequest(account="x", login_name="ADMIN", password="pw"))

    def sql(text: str) -> Result:
        result = account.execute(session, text)
        assert isinstance(result, Result)
        return result

    return sql


def _spcs_account(tmp_path: Path) -> Account:
    account = Account(admin_password="pw", state_dir=tmp_path)
    register_spcs(account, ControlPlane(account.state, runtime=FakeRuntime(), ingress=FakeIngress()))
    return account


@pytest.mark.parametrize("privilege", ["BIND SERVICE ENDPOINT", "CREATE COMPUTE POOL"])
def test_spcs_account_privileges_come_with_spcs(tmp_path: Path, privilege: str) -> None:
    alone = _admin(Account(admin_password="pw", state_dir=tmp_path / "alone"))
    with pytest.raises(SnowflakeError, match="Invalid privilege"):
        alone(f"GRANT {privilege} ON ACCOUNT TO ROLE SYSADMIN")
    assert privilege not in [row[1] for row in alone("SHOW GRANTS ON ACCOUNT").rows]
    spcs = _admin(_spcs_account(tmp_path / "spcs"))
    spcs(f"GRANT {privilege} ON ACCOUNT TO ROLE USERADMIN")


def test_a_fresh_account_grants_role_by_role_whichever_layer_registered_them(tmp_path: Path) -> None:
    account = _spcs_account(tmp_path)
    expected = [
        ("CREATE USER", "USERADMIN"),
        ("CREATE ROLE", "USERADMIN"),
        ("MANAGE GRANTS", "SECURITYADMIN"),
        ("CREATE WAREHOUSE", "SYSADMIN"),
        ("CREATE DATABASE", "SYSADMIN"),
        ("CREATE COMPUTE POOL", "SYSADMIN"),
        ("CREATE INTEGRATION", "ACCOUNTADMIN"),
        ("CREATE COMPUTE POOL", "ACCOUNTADMIN"),
        ("BIND SERVICE ENDPOINT", "PUBLIC"),
    ]
    listed = _admin(account)("SHOW GRANTS ON ACCOUNT")
    assert [(row[1], row[5]) for row in listed.rows] == expected
    account.reset()
    listed = _admin(account)("SHOW GRANTS ON ACCOUNT")
    assert [(row[1], row[5]) for row in listed.rows] == expected


def test_grant_all_on_a_schema_adds_create_of_each_kind_registered_in_it(tmp_path: Path) -> None:
    sql = _admin(_spcs_account(tmp_path))
    sql("CREATE DATABASE D")
    sql("CREATE ROLE R")
    sql("GRANT ALL ON SCHEMA D.PUBLIC TO ROLE R")
    granted = [row[1] for row in sql("SHOW GRANTS ON SCHEMA D.PUBLIC").rows if row[5] == "R"]
    assert granted == [
        "USAGE",
        "MONITOR",
        "MODIFY",
        "CREATE TABLE",
        "CREATE VIEW",
        "CREATE STAGE",
        "CREATE FUNCTION",
        "CREATE PROCEDURE",
        "CREATE SECRET",
        "CREATE NETWORK RULE",
        "CREATE IMAGE REPOSITORY",
        "CREATE SERVICE",
        "CREATE SNAPSHOT",
    ]


def test_kind_words_and_namespaces_come_from_the_registered_declarations(tmp_path: Path) -> None:
    account = _spcs_account(tmp_path)
    kinds = account.state.kinds
    assert kinds.word("COMPUTE POOL") == "Compute pool"
    assert kinds.word("EXTERNAL ACCESS INTEGRATION") == "Integration"
    assert kinds.namespace("COMPUTE POOL") == "account"
    assert kinds.namespace("SERVICE") == "schema"
    assert kinds.namespace("SCHEMA") == "database"
    assert [k for k in ("DATABASE", "SCHEMA", "SERVICE", "WAREHOUSE") if kinds.is_container(k)] == [
        "DATABASE",
        "SCHEMA",
    ]
    sql = _admin(account)
    with pytest.raises(SnowflakeError, match="Compute pool 'NOPE' does not exist"):
        sql("DESCRIBE COMPUTE POOL NOPE")


def test_the_control_plane_drives_its_runtime_through_the_protocol_only() -> None:
    # No optional runtime methods found by name: each runtime (process, docker, the tests' fakes) has
    # every method of runtime_api.Runtime, and the control plane calls them directly.
    from spcs_emulator.spcs.docker_runtime import DockerRuntime
    from spcs_emulator.spcs.runtime import LocalRuntime
    from spcs_emulator.spcs.runtime_api import Runtime

    tree = pyast.parse((EMULATOR / "spcs" / "control.py").read_text())
    found_by_name = [
        node.lineno
        for node in pyast.walk(tree)
        if isinstance(node, pyast.Call)
        and isinstance(node.func, pyast.Name)
        and node.func.id in ("getattr", "hasattr")
        and node.args
        and "runtime" in pyast.unparse(node.args[0])
    ]
    assert found_by_name == [], f"control.py looks runtime methods up by name at lines {found_by_name}"
    protocol = {name for name in vars(Runtime) if not name.startswith("_")}
    assert {"launch", "update_hosts", "forget_service", "shutdown"} <= protocol
    for runtime in (LocalRuntime, DockerRuntime, FakeRuntime):
        assert protocol <= set(dir(runtime)), (runtime.__name__, protocol - set(dir(runtime)))


def test_spcs_registers_its_show_listings_and_wraps_no_account_handler(tmp_path: Path) -> None:
    # SHOW listings have a registry of their own (Registry.show_listings): SPCS adds its listings
    # there instead of wrapping the account's SHOW handler.
    from spcs_emulator.spcs.statements.show import SPCS_LISTINGS

    source = (EMULATOR / "spcs" / "registration.py").read_text()
    assert "ast.Show:" not in source
    assert ".handler(" not in source
    account = _spcs_account(tmp_path)
    assert account.registry.show_listings == SPCS_LISTINGS
    assert account.registry.show_listing("SERVICE CONTAINERS", "SERVICE") is not None
    assert account.registry.show_listing("JOB SERVICES", "COMPUTE POOL") is not None  # under any scope
    assert account.registry.show_listing("SERVICE CONTAINERS", None) is None  # needs IN SERVICE
    assert account.registry.show_listing("DATABASES", None) is None  # a kind's own listing
