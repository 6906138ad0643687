"""A user sets its own key pair (ALTER USER <self> SET RSA_PUBLIC_KEY), as ACCOUNTADMIN and as a user
holding no privilege on its user, and then logs in with that key; another user's key stays its owner's
to set."""

from __future__ import annotations

import base64

import pytest
import snowflake.connector
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from snowflake.connector.errors import ProgrammingError

from spcs_emulator.emulator import Emulator
from tests.emulator.sql import rows

PASSWORD = "bob-pw"


def _key_pair() -> tuple[str, bytes]:
    """(the public key as ALTER USER takes it, the private key as the connector takes it)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    private = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return base64.b64encode(public).decode(), private


def _key_login(emulator: Emulator, user: str, private: bytes) -> str:
    params = emulator.connection_parameters(user=user)
    params.pop("password")
    with snowflake.connector.connect(**params, authenticator="SNOWFLAKE_JWT", private_key=private) as conn:
        return str(rows(conn.cursor(), "SELECT CURRENT_USER() AS U")[0]["U"])


@pytest.fixture
def bob(emulator: Emulator, admin):
    """BOB, created by USERADMIN (its owner), holding role APP only: no privilege on any user."""
    admin.execute("USE ROLE USERADMIN")
    admin.execute("CREATE ROLE APP")
    admin.execute(f"CREATE USER BOB PASSWORD = '{PASSWORD}' DEFAULT_ROLE = APP")
    admin.execute("CREATE USER CAROL PASSWORD = 'carol-pw'")
    admin.execute("GRANT ROLE APP TO USER BOB")
    admin.execute("USE ROLE ACCOUNTADMIN")
    params = emulator.connection_parameters(user="bob", password=PASSWORD)
    conn = snowflake.connector.connect(**{**params, "role": "APP"})
    yield conn.cursor()
    conn.close()


def test_accountadmin_sets_its_own_key_and_logs_in_with_it(emulator: Emulator, admin) -> None:
    public, private = _key_pair()
    admin.execute(f"ALTER USER ADMIN SET RSA_PUBLIC_KEY = '{public}'")
    assert _key_login(emulator, "admin", private) == "ADMIN"
    rotated, rotated_private = _key_pair()
    admin.execute(f"ALTER USER ADMIN SET RSA_PUBLIC_KEY_2 = '{rotated}'")
    admin.execute("ALTER USER ADMIN UNSET RSA_PUBLIC_KEY")
    assert _key_login(emulator, "admin", rotated_private) == "ADMIN"


def test_a_user_sets_its_own_key_without_any_privilege_on_itself(emulator: Emulator, bob) -> None:
    public, private = _key_pair()
    bob.execute(f"ALTER USER BOB SET RSA_PUBLIC_KEY = '{public}'")
    assert _key_login(emulator, "bob", private) == "BOB"
    bob.execute("ALTER USER BOB UNSET RSA_PUBLIC_KEY")
    with pytest.raises(snowflake.connector.errors.DatabaseError):
        _key_login(emulator, "bob", private)


def test_another_users_key_and_ones_own_other_properties_stay_the_owners(emulator: Emulator, bob) -> None:
    public, _ = _key_pair()
    refusals = {
        f"ALTER USER CAROL SET RSA_PUBLIC_KEY = '{public}'": (2003, "02000"),  # not even visible to BOB
        "ALTER USER CAROL UNSET RSA_PUBLIC_KEY": (2003, "02000"),
        f"ALTER USER BOB SET RSA_PUBLIC_KEY = '{public}' DISABLED = FALSE": (3001, "42501"),
        "ALTER USER BOB SET PASSWORD = 'changed-pw'": (3001, "42501"),
        "ALTER USER BOB SET DAYS_TO_EXPIRY = 1": (3001, "42501"),
    }
    for sql, expected in refusals.items():
        with pytest.raises(ProgrammingError) as refused:
            bob.execute(sql)
        assert (refused.value.errno, refused.value.sqlstate) == expected, sql
    bob.execute("ALTER USER BOB SET DEFAULT_ROLE = APP")  # documented as one's own to change
