"""Access control through the real connector: role hierarchy, grants, visibility, login methods."""

from __future__ import annotations

import base64
import hashlib
import time

import jwt
import pytest
import requests
import snowflake.connector
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from snowflake.connector.errors import DatabaseError, ProgrammingError

from spcs_emulator.emulator import Emulator
from tests.emulator.sql import rows

GRANTS_TO_COLUMNS = [
    "created_on",
    "privilege",
    "granted_on",
    "name",
    "granted_to",
    "grantee_name",
    "grant_option",
    "granted_by",
]


@pytest.fixture
def admin(admin):
    for sql in (
        "CREATE ROLE APP",
        "CREATE USER ALICE PASSWORD = 'alice-pw' DEFAULT_ROLE = APP",
        "GRANT ROLE APP TO USER ALICE",
        "CREATE DATABASE D",
        "CREATE WAREHOUSE W",
    ):
        admin.execute(sql)
    return admin


def alice(emulator: Emulator, **extra):
    return snowflake.connector.connect(
        **{**emulator.connection_parameters(user="alice", password="alice-pw"), **extra}
    )


def error_of(cur, sql: str) -> tuple[int, str]:
    with pytest.raises(ProgrammingError) as info:
        cur.execute(sql)
    return info.value.errno, info.value.sqlstate


def test_show_grants_to_role_lists_exactly_what_was_granted(admin) -> None:
    admin.execute("GRANT USAGE ON DATABASE D TO ROLE APP")
    admin.execute("GRANT USAGE, MONITOR ON WAREHOUSE W TO ROLE APP WITH GRANT OPTION")
    admin.execute("SHOW GRANTS TO ROLE APP")
    assert [d[0] for d in admin.description] == GRANTS_TO_COLUMNS
    grants = {
        (r["privilege"], r["granted_on"], r["name"], r["grant_option"])
        for r in rows(admin, "SHOW GRANTS TO ROLE APP")
    }
    assert grants == {
        ("USAGE", "DATABASE", "D", "false"),
        ("USAGE", "WAREHOUSE", "W", "true"),
        ("MONITOR", "WAREHOUSE", "W", "true"),
    }
    admin.execute("REVOKE MONITOR ON WAREHOUSE W FROM ROLE APP")
    assert len(rows(admin, "SHOW GRANTS TO ROLE APP")) == 2


def test_show_grants_of_role_and_to_user(admin) -> None:
    of_role = rows(admin, "SHOW GRANTS OF ROLE APP")
    assert [(r["role"], r["granted_to"], r["grantee_name"]) for r in of_role] == [("APP", "USER", "ALICE")]
    to_user = rows(admin, "SHOW GRANTS TO USER ALICE")
    assert [(r["privilege"], r["granted_on"], r["name"]) for r in to_user] == [("USAGE", "ROLE", "APP")]


def test_role_without_privilege_sees_nothing_and_is_refused(emulator: Emulator, admin) -> None:
    conn = alice(emulator)
    cur = conn.cursor()
    assert rows(cur, "SELECT CURRENT_ROLE() AS R")[0]["R"] == "APP"
    assert rows(cur, "SHOW DATABASES") == []  # D exists, but APP holds nothing on it
    assert error_of(cur, "USE DATABASE D") == (2003, "02000")
    assert error_of(cur, "CREATE DATABASE E") == (3001, "42501")
    admin.execute("GRANT USAGE ON DATABASE D TO ROLE APP")
    cur.execute("USE DATABASE D")  # visible now, but the schema is not
    assert error_of(cur, "CREATE STAGE S") == (2003, "02000")
    admin.execute("GRANT USAGE ON SCHEMA D.PUBLIC TO ROLE APP")
    assert error_of(cur, "CREATE STAGE S") == (3001, "42501")
    admin.execute("GRANT CREATE STAGE ON SCHEMA D.PUBLIC TO ROLE APP")
    cur.execute("CREATE STAGE S")
    assert rows(cur, "SHOW STAGES")[0]["owner"] == "APP"
    conn.close()


def test_grant_needs_ownership_or_manage_grants(emulator: Emulator, admin) -> None:
    admin.execute("CREATE ROLE OTHER")
    admin.execute("GRANT USAGE ON DATABASE D TO ROLE APP")
    conn = alice(emulator)
    assert error_of(conn.cursor(), "GRANT USAGE ON DATABASE D TO ROLE OTHER") == (3001, "42501")
    conn.close()
    admin.execute("USE ROLE SECURITYADMIN")  # MANAGE GRANTS
    admin.execute("GRANT USAGE ON DATABASE D TO ROLE OTHER")


def test_use_role_only_for_granted_roles_and_hierarchy_inherits(emulator: Emulator, admin) -> None:
    conn = alice(emulator)
    # An existing role not granted to the user: 003013, as on an account (errors.role_not_assigned);
    # one that does not exist: 002003.
    assert error_of(conn.cursor(), "USE ROLE SYSADMIN") == (3013, "42501")
    assert error_of(conn.cursor(), "USE ROLE NO_SUCH_ROLE") == (2003, "02000")
    conn.close()
    admin.execute("GRANT USAGE ON WAREHOUSE W TO ROLE APP")
    admin.execute("USE ROLE SYSADMIN")
    admin.execute("USE SECONDARY ROLES NONE")
    assert error_of(admin, "USE WAREHOUSE W") == (2003, "02000")
    admin.execute("USE ROLE ACCOUNTADMIN")
    admin.execute("GRANT ROLE APP TO ROLE SYSADMIN")
    admin.execute("USE ROLE SYSADMIN")
    admin.execute("USE WAREHOUSE W")  # SYSADMIN now inherits APP's USAGE
    admin.execute("USE ROLE ACCOUNTADMIN")
    assert error_of(admin, "GRANT ROLE SYSADMIN TO ROLE APP")[0] == 3014  # a cycle


def test_secondary_roles_all_adds_every_granted_role(emulator: Emulator, admin) -> None:
    admin.execute("CREATE ROLE READER")
    admin.execute("GRANT USAGE ON DATABASE D TO ROLE READER")
    admin.execute("GRANT ROLE READER TO USER ALICE")
    conn = alice(emulator)
    cur = conn.cursor()
    cur.execute("USE DATABASE D")  # through READER, a secondary role (default: ALL)
    cur.execute("USE SECONDARY ROLES NONE")
    assert error_of(cur, "USE DATABASE D") == (2003, "02000")
    conn.close()


def test_key_pair_login(emulator: Emulator, admin) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    admin.execute(f"ALTER USER ALICE SET RSA_PUBLIC_KEY = '{base64.b64encode(public_der).decode()}'")
    params = emulator.connection_parameters(user="alice")
    params.pop("password")
    private_der = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    conn = snowflake.connector.connect(**params, authenticator="SNOWFLAKE_JWT", private_key=private_der)
    assert rows(conn.cursor(), "SELECT CURRENT_USER() AS U")[0]["U"] == "ALICE"
    conn.close()
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    wrong = other.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(DatabaseError, match="JWT token is invalid"):
        snowflake.connector.connect(**params, authenticator="SNOWFLAKE_JWT", private_key=wrong)


def test_programmatic_access_token_login_with_role_restriction(emulator: Emulator, admin) -> None:
    token = rows(
        admin, "ALTER USER ALICE ADD PROGRAMMATIC ACCESS TOKEN CI ROLE_RESTRICTION = 'APP' DAYS_TO_EXPIRY = 1"
    )[0]
    assert token["token_name"] == "CI"
    params = emulator.connection_parameters(user="alice")
    params.pop("password")
    conn = snowflake.connector.connect(
        **params, authenticator="PROGRAMMATIC_ACCESS_TOKEN", token=token["token_secret"]
    )
    assert rows(conn.cursor(), "SELECT CURRENT_ROLE() AS R")[0]["R"] == "APP"
    conn.close()
    admin.execute("ALTER USER ALICE REMOVE PROGRAMMATIC ACCESS TOKEN CI")
    with pytest.raises(DatabaseError, match="Programmatic access token is invalid"):
        snowflake.connector.connect(
            **params, authenticator="PROGRAMMATIC_ACCESS_TOKEN", token=token["token_secret"]
        )


def test_show_users_never_shows_credentials(admin) -> None:
    admin.execute("ALTER USER ALICE SET RSA_PUBLIC_KEY = 'MIIBfake'")
    user = next(r for r in rows(admin, "SHOW USERS") if r["name"] == "ALICE")
    assert (user["has_password"], user["has_rsa_public_key"]) == ("true", "true")
    assert "alice-pw" not in repr(user)
    assert "MIIBfake" not in repr(rows(admin, "DESCRIBE USER ALICE"))


@pytest.mark.parametrize(
    "other_kind",
    ["WAREHOUSE", "ROLE", "COMPUTE POOL"],
)
def test_dropping_an_object_named_like_a_database_keeps_the_databases_grants(admin, other_kind: str) -> None:
    """Issue 16, item 6: CREATE then DROP of a warehouse (or role, or pool) named like a victim's
    database removed every grant inside that database, OWNERSHIP included."""
    admin.execute("CREATE SCHEMA D.S")
    admin.execute("GRANT USAGE ON SCHEMA D.S TO ROLE APP")
    before = {(r["privilege"], r["grantee_name"]) for r in rows(admin, "SHOW GRANTS ON SCHEMA D.S")}
    assert ("OWNERSHIP", "ACCOUNTADMIN") in before
    extra = (
        " MIN_NODES = 1 MAX_NODES = 1 INSTANCE_FAMILY = CPU_X64_XS" if other_kind == "COMPUTE POOL" else ""
    )
    admin.execute(f"CREATE {other_kind} D{extra}")
    admin.execute(f"DROP {other_kind} D")
    after = {(r["privilege"], r["grantee_name"]) for r in rows(admin, "SHOW GRANTS ON SCHEMA D.S")}
    assert after == before


def _jwt_for_alice(key: rsa.RSAPrivateKey, public_b64: str, *, issued: float, expires: float) -> str:
    fingerprint = base64.b64encode(hashlib.sha256(base64.b64decode(public_b64)).digest()).decode()
    claims = {
        "iss": f"EMULATED.ALICE.SHA256:{fingerprint}",
        "sub": "EMULATED.ALICE",
        "iat": issued,
        "exp": expires,
    }
    return jwt.encode(claims, key, algorithm="RS256")


@pytest.mark.parametrize(
    ("what", "issued", "expires", "accepted"),
    [  # ids by name: a time-dependent value would differ between xdist workers
        pytest.param("an hour from now", 0, 3600, True, id="an hour from now"),
        pytest.param("expiring in 2100", 0, 4102444800 - time.time(), False, id="expiring in 2100"),
        pytest.param(
            "issued 30 days ago", -30 * 86400, 86400, False, id="issued 30 days ago, expiring tomorrow"
        ),
        pytest.param("issued an hour ahead", 3600, 3660, False, id="issued an hour ahead"),
    ],
)
def test_key_pair_jwts_live_an_hour_at_most(
    emulator: Emulator, admin, what: str, issued: float, expires: float, accepted: bool
) -> None:
    """Issue 16, item 15: a JWT with exp in 2100 or an iat 30 days old was accepted."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    public_b64 = base64.b64encode(public_der).decode()
    admin.execute(f"ALTER USER ALICE SET RSA_PUBLIC_KEY = '{public_b64}'")
    now = time.time()
    token = _jwt_for_alice(key, public_b64, issued=now + issued, expires=now + expires)
    data = {
        "ACCOUNT_NAME": "EMULATED",
        "LOGIN_NAME": "ALICE",
        "AUTHENTICATOR": "SNOWFLAKE_JWT",
        "TOKEN": token,
    }
    answer = requests.post(
        f"http://127.0.0.1:{emulator.port}/session/v1/login-request",
        json={"data": data},
        timeout=30,
    ).json()
    assert answer["success"] is accepted, (what, answer.get("message"))
