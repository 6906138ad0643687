"""ALTER ... UNSET puts the CREATE default back, through the real connector.

ALTER COMPUTE POOL ... UNSET (what `snow spcs compute-pool unset` sends) once removed the property, and
every later SHOW or DESCRIBE of the pool was an HTTP 500. ALTER USER ... UNSET of a credential (a key,
the password) refuses later logins with it, while sessions already open go on; UNSET of a setting
restores its default, and of an unknown property is refused."""

from __future__ import annotations

import base64

import pytest
import snowflake.connector
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from snowflake.connector.errors import DatabaseError, ProgrammingError

from spcs_emulator.emulator import Emulator
from tests.emulator.sql import refused, rows
from tests.emulator.stage_user import mallory_params, user_row


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


# -- ALTER USER ... UNSET: a credential is gone, a setting gets its default ----------------------------------


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


@pytest.mark.usefixtures("stage_user")
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


@pytest.mark.usefixtures("stage_user")
def test_unset_default_role_and_secondary_roles_restore_the_defaults(admin) -> None:
    admin.execute("ALTER USER MALLORY SET DEFAULT_SECONDARY_ROLES = ()")
    admin.execute("ALTER USER MALLORY UNSET DEFAULT_ROLE, DEFAULT_SECONDARY_ROLES")
    row = user_row(admin)
    assert (row["default_role"], row["default_secondary_roles"]) == (None, '["ALL"]')


@pytest.mark.usefixtures("stage_user")
def test_unset_disabled_enables_the_user_again(emulator: Emulator, admin) -> None:
    admin.execute("ALTER USER MALLORY SET DISABLED = TRUE")
    admin.execute("ALTER USER MALLORY UNSET DISABLED")
    snowflake.connector.connect(**mallory_params(emulator)).close()


@pytest.mark.usefixtures("stage_user")
def test_unset_of_an_unknown_user_property_is_refused(admin) -> None:
    err = refused(admin, "ALTER USER MALLORY UNSET NO_SUCH_THING")
    assert (err.errno, err.sqlstate) == (1008, "22023")
