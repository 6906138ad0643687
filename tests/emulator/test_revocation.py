"""Access that is taken away is gone: DROP USER, DISABLED = TRUE and REVOKE ROLE reach sessions that are
already open, both on the SQL endpoint and at the ingress (through the real connector; runtime and ingress
are test doubles, the ingress's decision is the control plane's real authorizer); an S3 upload grant dies
with the session, the privilege and the stage that allowed it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import snowflake.connector
from snowflake.connector.errors import DatabaseError, ProgrammingError

from milvus_spcs.target import token_of
from milvus_spcs.waits import Probe, wait_for
from spcs_emulator.emulator import Emulator
from spcs_emulator.protocol.app import STAGE_BUCKET, STAGE_GRANT_SECONDS
from spcs_emulator.spcs.runtime_api import IngressRoute
from tests.emulator.fakes import FakeIngress, FakeRuntime
from tests.emulator.guide import run_guide_setup
from tests.emulator.sql import rows, wait_status
from tests.emulator.stage_user import grant_as_mallory

USER, PASSWORD, ROLE = "MILVUS_USER", "milvususerok", "MILVUS_ROLE"
SESSION_ENDED = 390104  # "User must login again to access the service."
ROLE_NOT_ASSIGNED = 3013  # "Requested role 'X' is not assigned to the executing user."


@pytest.fixture
def ingress() -> FakeIngress:
    return FakeIngress()


@pytest.fixture
def emulator(tmp_path: Path, ingress: FakeIngress) -> Iterator[Emulator]:
    with Emulator(runtime=FakeRuntime(), ingress=ingress, state_dir=tmp_path / "state") as emu:
        yield emu


@pytest.fixture
def admin(emulator: Emulator):
    conn = snowflake.connector.connect(**emulator.connection_parameters())
    cur = conn.cursor()
    run_guide_setup(emulator, cur)
    cur.execute("USE ROLE SYSADMIN")
    wait_status(cur, "JUPYTER", "RUNNING")
    cur.execute("GRANT SERVICE ROLE MILVUS_DEMO.PUBLIC.JUPYTER!ALL_ENDPOINTS_USAGE TO ROLE MILVUS_ROLE")
    cur.execute("USE ROLE ACCOUNTADMIN")
    yield cur
    conn.close()


@pytest.fixture
def user(emulator: Emulator, admin):
    conn = snowflake.connector.connect(**emulator.connection_parameters(user=USER, password=PASSWORD))
    yield conn
    conn.close()


@pytest.fixture
def route(ingress: FakeIngress, admin) -> IngressRoute:
    """The Jupyter endpoint's route, once the control plane has opened it."""

    def opened() -> Probe[IngressRoute]:
        found = [r for r in ingress.routes.values() if r.endpoint == "jupyter"]
        return Probe(bool(found), found[0] if found else None, state=sorted(ingress.routes))

    return wait_for(opened, what="the Jupyter ingress route", timeout=10, interval=0.05)


def errno_of(conn, sql: str) -> int:
    with pytest.raises(ProgrammingError) as info:
        conn.cursor().execute(sql)
    return info.value.errno


def allowed(route: IngressRoute, token: str) -> bool:
    return route.authorize(token)[0]


def test_before_any_change_the_session_works_and_passes_the_ingress(user, route: IngressRoute) -> None:
    assert rows(user.cursor(), "SELECT CURRENT_ROLE() AS R")[0]["R"] == ROLE
    assert allowed(route, str(token_of(user)))


def test_drop_user_ends_the_open_session_everywhere(admin, user, route: IngressRoute) -> None:
    token = str(token_of(user))
    admin.execute(f"DROP USER {USER}")
    assert not allowed(route, token)
    assert errno_of(user, "SELECT 1") == SESSION_ENDED


def test_a_recreated_user_does_not_revive_the_old_session(admin, user, route: IngressRoute) -> None:
    token = str(token_of(user))
    admin.execute(f"DROP USER {USER}")
    admin.execute(f"CREATE USER {USER} PASSWORD = '{PASSWORD}' DEFAULT_ROLE = {ROLE}")
    admin.execute(f"GRANT ROLE {ROLE} TO USER {USER}")
    assert not allowed(route, token)
    assert errno_of(user, "SELECT 1") == SESSION_ENDED


def test_disabling_a_user_ends_its_session_and_refuses_its_login(
    emulator: Emulator, admin, user, route: IngressRoute
) -> None:
    token = str(token_of(user))
    admin.execute(f"ALTER USER {USER} SET DISABLED = TRUE")
    assert not allowed(route, token)
    assert errno_of(user, "SELECT 1") == SESSION_ENDED
    with pytest.raises(DatabaseError, match="User access disabled"):
        snowflake.connector.connect(**emulator.connection_parameters(user=USER, password=PASSWORD))
    with pytest.raises(DatabaseError, match="Incorrect username or password"):  # no hint to a guesser
        snowflake.connector.connect(**emulator.connection_parameters(user=USER, password="wrong"))


def test_a_disabled_users_programmatic_access_token_is_refused_at_the_ingress(
    admin, route: IngressRoute
) -> None:
    pat = rows(admin, f"ALTER USER {USER} ADD PROGRAMMATIC ACCESS TOKEN T1 ROLE_RESTRICTION = '{ROLE}'")[0]
    assert allowed(route, pat["token_secret"])
    admin.execute(f"ALTER USER {USER} SET DISABLED = TRUE")
    assert route.authorize(pat["token_secret"]) == (False, None, f"user {USER} is disabled")
    admin.execute(f"ALTER USER {USER} SET DISABLED = FALSE")
    assert allowed(route, pat["token_secret"])


def test_a_pat_of_a_revoked_role_is_refused_at_the_ingress(admin, route: IngressRoute) -> None:
    pat = rows(admin, f"ALTER USER {USER} ADD PROGRAMMATIC ACCESS TOKEN T1 ROLE_RESTRICTION = '{ROLE}'")[0]
    admin.execute(f"REVOKE ROLE {ROLE} FROM USER {USER}")
    assert not allowed(route, pat["token_secret"])


def test_revoking_the_current_role_makes_it_unusable(admin, user, route: IngressRoute) -> None:
    token = str(token_of(user))
    admin.execute(f"REVOKE ROLE {ROLE} FROM USER {USER}")
    assert route.authorize(token) == (False, None, f"role {ROLE} is no longer granted to user {USER}")
    with pytest.raises(ProgrammingError) as info:
        user.cursor().execute("SHOW DATABASES")
    assert (info.value.errno, info.value.sqlstate) == (ROLE_NOT_ASSIGNED, "42501")
    assert f"Requested role '{ROLE}' is not assigned to the executing user" in info.value.msg
    cur = user.cursor()  # the session itself lives on: it may pick a role it still holds
    cur.execute("USE ROLE PUBLIC")
    assert rows(cur, "SELECT CURRENT_ROLE() AS R")[0]["R"] == "PUBLIC"
    assert not allowed(route, token)  # PUBLIC has no service role of the endpoint


def test_a_role_held_only_through_the_hierarchy_goes_with_it(admin, user, route: IngressRoute) -> None:
    admin.execute("CREATE ROLE TEAM")
    admin.execute(f"REVOKE ROLE {ROLE} FROM USER {USER}")
    admin.execute(f"GRANT ROLE {ROLE} TO ROLE TEAM")
    admin.execute(f"GRANT ROLE TEAM TO USER {USER}")
    cur = user.cursor()
    cur.execute(f"USE ROLE {ROLE}")  # held through TEAM
    assert allowed(route, str(token_of(user)))
    admin.execute(f"REVOKE ROLE {ROLE} FROM ROLE TEAM")
    assert not allowed(route, str(token_of(user)))
    assert errno_of(user, "SELECT CURRENT_ROLE()") == ROLE_NOT_ASSIGNED


def test_dropping_the_current_role_makes_it_unusable(admin, user) -> None:
    admin.execute("USE ROLE SECURITYADMIN")
    admin.execute(f"DROP ROLE {ROLE}")
    assert errno_of(user, "SELECT 1") == ROLE_NOT_ASSIGNED


def test_other_users_sessions_are_untouched(emulator: Emulator, admin, user, route: IngressRoute) -> None:
    admin.execute(f"CREATE USER BOB PASSWORD = 'bob-pw' DEFAULT_ROLE = {ROLE}")
    admin.execute(f"GRANT ROLE {ROLE} TO USER BOB")
    bob = snowflake.connector.connect(**emulator.connection_parameters(user="BOB", password="bob-pw"))
    try:
        admin.execute(f"DROP USER {USER}")
        assert rows(bob.cursor(), "SELECT CURRENT_USER() AS U")[0]["U"] == "BOB"
        assert allowed(route, str(token_of(bob)))
        assert rows(admin, "SELECT CURRENT_USER() AS U")[0]["U"] == "ADMIN"
    finally:
        bob.close()


def test_a_role_named_like_a_service_role_opens_no_endpoint(
    emulator: Emulator, admin, route: IngressRoute
) -> None:
    """The red team's look-alike (issue 16, item 2): USERADMIN creates a role whose name is the
    service role's text and grants it to itself; the ingress must still refuse."""
    admin.execute("CREATE USER MALLORY PASSWORD = 'mallorypass1' DEFAULT_ROLE = USERADMIN")
    admin.execute("GRANT ROLE USERADMIN TO USER MALLORY")
    conn = snowflake.connector.connect(
        **emulator.connection_parameters(user="MALLORY", password="mallorypass1")
    )
    try:
        cur = conn.cursor()
        look_alike = '"MILVUS_DEMO.PUBLIC.JUPYTER!ALL_ENDPOINTS_USAGE"'
        cur.execute(f"CREATE ROLE {look_alike}")
        cur.execute(f"GRANT ROLE {look_alike} TO USER MALLORY")
        cur.execute(f"USE ROLE {look_alike}")
        assert route.authorize(str(token_of(conn))) == (
            False,
            "MALLORY",
            "user MALLORY has no role with access to endpoint jupyter",
        )
        granted = rows(cur, "SHOW GRANTS TO USER MALLORY")
        assert {r["granted_on"] for r in granted} == {"ROLE"}
    finally:
        conn.close()
    # The real service role still opens it.
    admin.execute("GRANT SERVICE ROLE MILVUS_DEMO.PUBLIC.JUPYTER!ALL_ENDPOINTS_USAGE TO USER MALLORY")
    with snowflake.connector.connect(
        **emulator.connection_parameters(user="MALLORY", password="mallorypass1")
    ) as again:
        assert allowed(route, str(token_of(again)))


def test_a_role_restricted_token_logs_in_with_that_role_only(
    emulator: Emulator, admin, route: IngressRoute
) -> None:
    """Issue 16, item 3: a PAT restricted to a role without endpoint access was refused at the
    ingress, but a SQL login with it got secondary roles ALL and USE ROLE of any granted role, and
    that session's token passed the ingress. Snowflake: the restriction role only, no secondary
    roles (docs: sql-reference/sql/alter-user-add-programmatic-access-token)."""
    admin.execute("CREATE ROLE VIEWER")
    admin.execute(f"GRANT ROLE VIEWER TO USER {USER}")
    pat = rows(admin, f"ALTER USER {USER} ADD PROGRAMMATIC ACCESS TOKEN T1 ROLE_RESTRICTION = 'VIEWER'")[0]
    assert not allowed(route, pat["token_secret"])
    params = emulator.connection_parameters(user=USER)
    params.pop("password")
    with snowflake.connector.connect(
        **params, authenticator="PROGRAMMATIC_ACCESS_TOKEN", token=pat["token_secret"]
    ) as conn:
        cur = conn.cursor()
        assert rows(cur, "SELECT CURRENT_ROLE() AS R")[0]["R"] == "VIEWER"
        assert not allowed(route, str(token_of(conn)))  # MILVUS_ROLE is not among its roles
        assert errno_of(conn, f"USE ROLE {ROLE}") == 3013  # exists, not within the restriction
        cur.execute("USE SECONDARY ROLES ALL")
        assert not allowed(route, str(token_of(conn)))


def test_an_unrestricted_token_logs_in_with_every_granted_role(
    emulator: Emulator, admin, route: IngressRoute
) -> None:
    """Without ROLE_RESTRICTION a PAT session is an ordinary one: its default role, secondary roles
    ALL, USE ROLE of any granted role."""
    admin.execute("CREATE ROLE VIEWER")
    admin.execute(f"GRANT ROLE VIEWER TO USER {USER}")
    pat = rows(admin, f"ALTER USER {USER} ADD PROGRAMMATIC ACCESS TOKEN T2")[0]
    params = emulator.connection_parameters(user=USER)
    params.pop("password")
    with snowflake.connector.connect(
        **params, authenticator="PROGRAMMATIC_ACCESS_TOKEN", token=pat["token_secret"]
    ) as conn:
        cur = conn.cursor()
        cur.execute("USE ROLE VIEWER")
        assert allowed(route, str(token_of(conn)))  # MILVUS_ROLE, a secondary role, has the access


# -- an S3 upload grant dies with its session, its privilege and its stage -----------------------------------


def _upload(emulator: Emulator, grant: str, name: str) -> int:
    url = f"http://127.0.0.1:{emulator.port}/{STAGE_BUCKET}/{grant}/{name}"
    return requests.put(url, data=b"owned", timeout=10).status_code


def _logout(emulator: Emulator, admin, token: str) -> None:
    headers = {"Authorization": f'Snowflake Token="{token}"'}
    url = f"http://127.0.0.1:{emulator.port}/session?delete=true"
    assert requests.post(url, headers=headers, timeout=10).status_code == 200


REVOCATIONS = {
    "revoke write": lambda emu, admin, token: admin.execute(
        "REVOKE WRITE ON STAGE D.PUBLIC.FILES FROM ROLE APP"
    ),
    "revoke role": lambda emu, admin, token: admin.execute("REVOKE ROLE APP FROM USER MALLORY"),
    "drop user": lambda emu, admin, token: admin.execute("DROP USER MALLORY"),
    "disable user": lambda emu, admin, token: admin.execute("ALTER USER MALLORY SET DISABLED = TRUE"),
    "drop and re-create the stage": lambda emu, admin, token: (
        admin.execute("DROP STAGE D.PUBLIC.FILES"),
        admin.execute("CREATE STAGE D.PUBLIC.FILES"),
    ),
    "log out": _logout,
}


@pytest.mark.usefixtures("stage_user")
@pytest.mark.parametrize("revocation", sorted(REVOCATIONS))
def test_an_upload_grant_dies_with_what_allowed_it(
    emulator: Emulator, admin, tmp_path: Path, revocation
) -> None:
    token, grant = grant_as_mallory(emulator, tmp_path)
    assert _upload(emulator, grant, "before.txt") == 200
    REVOCATIONS[revocation](emulator, admin, token)
    assert _upload(emulator, grant, "after.txt") == 403
    if revocation in ("revoke write", "revoke role"):  # the grant is gone for good, not only while revoked
        admin.execute("GRANT ROLE APP TO USER MALLORY")
        admin.execute("GRANT WRITE ON STAGE D.PUBLIC.FILES TO ROLE APP")
        assert _upload(emulator, grant, "after.txt") == 403
    stages = emulator.state_dir / "stages"
    assert not [p for p in stages.rglob("after.txt")]


def test_upload_grants_are_short_lived() -> None:
    assert STAGE_GRANT_SECONDS <= 600
