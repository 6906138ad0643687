"""What a reviewer found attacking the hardened emulator with the real connector; each test is the attack.

Credentials that are UNSET are gone, booleans given as strings mean what they say, an S3 upload grant
dies with its session and its stage, stage patterns cannot crash or stall the emulator, over-long names
are refused as SQL errors, LIST/REMOVE/PUT never follow a symlink, and PAT lifetimes stay in range.
"""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path

import pytest
import requests
import snowflake.connector
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from snowflake.connector.errors import DatabaseError, ProgrammingError

from spcs_emulator.emulator import Emulator
from spcs_emulator.paths import fqn_dir
from spcs_emulator.protocol.app import STAGE_BUCKET, STAGE_GRANT_SECONDS
from tests.emulator.test_account import rows

PASSWORD = "mallory-pw"
SESSION_ENDED = 390104


@pytest.fixture
def admin(admin):
    """ACCOUNTADMIN; user MALLORY with role APP, which holds READ and WRITE on stage D.PUBLIC.FILES."""
    for sql in (
        "CREATE DATABASE D",
        "CREATE STAGE D.PUBLIC.FILES",
        "CREATE ROLE APP",
        f"CREATE USER MALLORY PASSWORD = '{PASSWORD}' DEFAULT_ROLE = APP",
        "GRANT ROLE APP TO USER MALLORY",
        "GRANT USAGE ON DATABASE D TO ROLE APP",
        "GRANT USAGE ON SCHEMA D.PUBLIC TO ROLE APP",
        "GRANT READ, WRITE ON STAGE D.PUBLIC.FILES TO ROLE APP",
    ):
        admin.execute(sql)
    return admin


def mallory_params(emulator: Emulator) -> dict:
    params = emulator.connection_parameters(user="mallory", password=PASSWORD)
    return {**params, "role": "APP", "database": "D", "schema": "PUBLIC"}


@pytest.fixture
def mallory(emulator: Emulator, admin):
    conn = snowflake.connector.connect(**mallory_params(emulator))
    yield conn.cursor()
    conn.close()


def refused(cur, sql: str) -> ProgrammingError:
    with pytest.raises(ProgrammingError) as info:
        cur.execute(sql)
    return info.value


def user_row(admin, name: str = "MALLORY") -> dict:
    return next(r for r in rows(admin, "SHOW USERS") if r["name"] == name)


# -- 1. UNSET of a credential or a typed property resets it -------------------------------------------


def _key_pair() -> tuple[str, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    private_der = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return base64.b64encode(public_der).decode(), private_der


def _jwt_login(emulator: Emulator, private_der: bytes):
    params = emulator.connection_parameters(user="mallory")
    params.pop("password")
    return snowflake.connector.connect(**params, authenticator="SNOWFLAKE_JWT", private_key=private_der)


@pytest.mark.parametrize("slot", ["RSA_PUBLIC_KEY", "RSA_PUBLIC_KEY_2"])
def test_unset_rsa_public_key_refuses_later_key_pair_logins(emulator: Emulator, admin, slot: str) -> None:
    public, private = _key_pair()
    admin.execute(f"ALTER USER MALLORY SET {slot} = '{public}'")
    _jwt_login(emulator, private).close()
    open_session = _jwt_login(emulator, private)
    admin.execute(f"ALTER USER MALLORY UNSET {slot}")
    assert user_row(admin)["has_rsa_public_key"] == "false"
    with pytest.raises(DatabaseError, match="JWT token is invalid"):
        _jwt_login(emulator, private)
    # Only later logins are refused: the session already open goes on.
    assert rows(open_session.cursor(), "SELECT CURRENT_USER() AS U")[0]["U"] == "MALLORY"
    open_session.close()


def test_unset_password_refuses_later_password_logins(emulator: Emulator, admin, mallory) -> None:
    admin.execute("ALTER USER MALLORY UNSET PASSWORD")
    assert user_row(admin)["has_password"] == "false"
    with pytest.raises(DatabaseError, match="Incorrect username or password"):
        snowflake.connector.connect(**mallory_params(emulator))
    assert rows(mallory, "SELECT CURRENT_USER() AS U")[0]["U"] == "MALLORY"


def test_unset_default_role_and_secondary_roles_restore_the_defaults(admin) -> None:
    admin.execute("ALTER USER MALLORY SET DEFAULT_SECONDARY_ROLES = ()")
    admin.execute("ALTER USER MALLORY UNSET DEFAULT_ROLE, DEFAULT_SECONDARY_ROLES")
    row = user_row(admin)
    assert (row["default_role"], row["default_secondary_roles"]) == (None, '["ALL"]')


def test_unset_disabled_enables_the_user_again(emulator: Emulator, admin) -> None:
    admin.execute("ALTER USER MALLORY SET DISABLED = TRUE")
    admin.execute("ALTER USER MALLORY UNSET DISABLED")
    snowflake.connector.connect(**mallory_params(emulator)).close()


def test_unset_of_an_unknown_user_property_is_refused(admin) -> None:
    err = refused(admin, "ALTER USER MALLORY UNSET NO_SUCH_THING")
    assert (err.errno, err.sqlstate) == (1008, "22023")


# -- 2. booleans given as strings mean what they say ----------------------------------------------------


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


# -- 3. an S3 upload grant dies with its session, its privilege and its stage ---------------------------

LOGIN = "/session/v1/login-request?databaseName=&schemaName=&warehouse=&roleName=APP"


def _post(emulator: Emulator, path: str, body: dict, token: str | None = None) -> requests.Response:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f'Snowflake Token="{token}"'
    url = f"http://127.0.0.1:{emulator.port}{path}"
    return requests.post(url, data=json.dumps(body).encode(), headers=headers, timeout=60)


def _grant_as_mallory(emulator: Emulator, tmp_path: Path, path: str = "") -> tuple[str, str]:
    """(session token, grant) of a PUT, asked for over plain HTTP as an attacker would."""
    data = {"ACCOUNT_NAME": "x", "LOGIN_NAME": "MALLORY", "PASSWORD": PASSWORD}
    token = _post(emulator, LOGIN, {"data": data}).json()["data"]["token"]
    payload = tmp_path / "grant.txt"
    payload.write_text("x")
    sql = f"PUT 'file://{payload}' @D.PUBLIC.FILES{path} AUTO_COMPRESS=FALSE"
    answer = _post(emulator, "/queries/v1/query-request", {"sqlText": sql}, token)
    return token, answer.json()["data"]["stageInfo"]["path"].strip("/")


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


@pytest.mark.parametrize("revocation", sorted(REVOCATIONS))
def test_an_upload_grant_dies_with_what_allowed_it(
    emulator: Emulator, admin, tmp_path: Path, revocation
) -> None:
    token, grant = _grant_as_mallory(emulator, tmp_path)
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


# -- 4. a stage PATTERN cannot crash or stall the emulator -------------------------------------------------

INVALID_REGEX = 100048  # "Invalid regular expression" (2201B)


@pytest.mark.parametrize("statement", ["LIST @FILES PATTERN = '('", "REMOVE @FILES PATTERN = '[a-'"])
def test_a_bad_pattern_is_a_sql_error(mallory, tmp_path: Path, statement: str) -> None:
    payload = tmp_path / "keep.txt"
    payload.write_text("keep")
    mallory.execute(f"PUT 'file://{payload}' @FILES AUTO_COMPRESS=FALSE")
    err = refused(mallory, statement)
    assert (err.errno, err.sqlstate) == (INVALID_REGEX, "2201B")
    assert [r["name"] for r in rows(mallory, "LIST @FILES")] == ["files/keep.txt"]


def test_a_catastrophic_pattern_stops_at_its_time_limit(mallory, tmp_path: Path) -> None:
    payload = tmp_path / ("a" * 40 + "b")
    payload.write_text("x")
    mallory.execute(f"PUT 'file://{payload}' @FILES AUTO_COMPRESS=FALSE")
    started = time.monotonic()
    err = refused(mallory, "LIST @FILES PATTERN = '(a|aa)+$'")
    assert time.monotonic() - started < 5
    assert (err.errno, err.sqlstate) == (INVALID_REGEX, "2201B")
    assert "time limit" in err.msg


def test_an_over_long_pattern_is_refused(mallory) -> None:
    err = refused(mallory, f"LIST @FILES PATTERN = '{'a' * 5000}'")
    assert (err.errno, err.sqlstate) == (INVALID_REGEX, "2201B")


def test_a_good_pattern_still_filters(mallory, tmp_path: Path) -> None:
    for name in ("one.csv", "two.txt"):
        (tmp_path / name).write_text(name)
        mallory.execute(f"PUT 'file://{tmp_path / name}' @FILES AUTO_COMPRESS=FALSE")
    assert [r["name"] for r in rows(mallory, "LIST @FILES PATTERN = '.*[.]csv'")] == ["files/one.csv"]


# -- 5. over-long names are refused as SQL errors, not HTTP 500s ---------------------------------------

LONG = "x" * 300


@pytest.mark.parametrize(
    "statement",
    [
        f"CREATE SERVICE S IN COMPUTE POOL P FROM @FILES SPECIFICATION_FILE = '{LONG}'",
        f"CREATE SERVICE S IN COMPUTE POOL P FROM @FILES SPECIFICATION_FILE = 'a/{'b' * 5000}'",
        f"CREATE SERVICE S IN COMPUTE POOL P FROM @FILES/{LONG} SPECIFICATION_FILE = 's.yaml'",
        f"LIST @FILES/{LONG}",
        f"REMOVE @FILES/{LONG}",
        f"LIST @FILES/{'/'.join(['d' * 200] * 30)}",
    ],
    ids=["spec-file", "spec-file-path", "spec-stage-path", "list", "remove", "list-total-length"],
)
def test_over_long_stage_paths_are_refused(admin, statement: str) -> None:
    admin.execute("CREATE COMPUTE POOL P MIN_NODES=1 MAX_NODES=1 INSTANCE_FAMILY=CPU_X64_XS")
    admin.execute("USE SCHEMA D.PUBLIC")
    err = refused(admin, statement)
    assert (err.errno, err.sqlstate) == (2043, "22023")


def test_put_into_an_over_long_path_is_refused(mallory, tmp_path: Path) -> None:
    payload = tmp_path / "p.txt"
    payload.write_text("x")
    err = refused(mallory, f"PUT 'file://{payload}' @FILES/{LONG} AUTO_COMPRESS=FALSE")
    assert (err.errno, err.sqlstate) == (2043, "22023")


def test_the_s3_stand_in_refuses_an_over_long_key(emulator: Emulator, admin, tmp_path: Path) -> None:
    _, grant = _grant_as_mallory(emulator, tmp_path)
    url = f"http://127.0.0.1:{emulator.port}/{STAGE_BUCKET}/{grant}/{LONG}"
    answer = requests.put(url, data=b"x", timeout=10)
    assert answer.status_code == 400, answer.text
    assert "KeyTooLong" in answer.text


# -- 6. LIST, REMOVE and uploads never follow a symlink ------------------------------------------------


@pytest.fixture
def planted(emulator: Emulator, admin, tmp_path: Path) -> Path:
    """A host file a same-uid process linked into the stage (as files/leak.txt and files/dir/...)."""
    host = tmp_path / "host-secret.txt"
    host.write_text("host secret\n")
    stage = fqn_dir(emulator.state_dir / "stages", ("D", "PUBLIC", "FILES"))
    (stage / "leak.txt").symlink_to(host)
    (stage / "dir").symlink_to(tmp_path)
    return host


def test_list_does_not_follow_symlinks(mallory, planted: Path) -> None:
    assert rows(mallory, "LIST @FILES") == []
    assert rows(mallory, "LIST @FILES/dir") == []


def test_remove_does_not_follow_symlinks(mallory, planted: Path) -> None:
    assert rows(mallory, "REMOVE @FILES") == []
    assert planted.read_text() == "host secret\n"


def test_put_does_not_write_through_a_symlinked_directory(mallory, planted: Path, tmp_path: Path) -> None:
    payload = tmp_path / "upload" / "p.txt"
    payload.parent.mkdir()
    payload.write_text("x")
    err = refused(mallory, f"PUT 'file://{payload}' @FILES/dir AUTO_COMPRESS=FALSE")
    assert (err.errno, err.sqlstate) == (2043, "22023")


def test_an_upload_does_not_write_through_a_symlink_planted_after_the_grant(
    emulator: Emulator, admin, tmp_path: Path
) -> None:
    """The grant's directory is swapped for a symlink to a host directory after the PUT was granted."""
    _, grant = _grant_as_mallory(emulator, tmp_path, "/sub")
    stage = fqn_dir(emulator.state_dir / "stages", ("D", "PUBLIC", "FILES"))
    outside = tmp_path / "outside"
    outside.mkdir()
    (stage / "sub").rmdir()
    (stage / "sub").symlink_to(outside)
    url = f"http://127.0.0.1:{emulator.port}/{STAGE_BUCKET}/{grant}/x.txt"
    assert requests.put(url, data=b"owned", timeout=10).status_code in (400, 403)
    assert list(outside.iterdir()) == []


# -- 7. a programmatic access token lives 1 to 365 days -------------------------------------------------


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
