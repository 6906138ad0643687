"""Errors as Snowflake sends them: errno, SQL state and message text (reference/snowflake.md §7).

Every failure the emulator reports is a :class:`SnowflakeError`; the protocol layer turns it into the
``{"success": false, "code": ..., "message": ..., "data": {"sqlState": ...}}`` body the connector
raises as ``ProgrammingError``. Statements the emulator does not implement raise
:func:`not_emulated`: never a fake success.
"""

from __future__ import annotations


class SnowflakeError(Exception):
    """``errno`` as Snowflake numbers it (2003, not "002003"), ``sqlstate`` 5 characters."""

    def __init__(self, errno: int, sqlstate: str, message: str) -> None:
        self.errno = errno
        self.sqlstate = sqlstate
        self.message = message
        super().__init__(f"{errno:06d} ({sqlstate}): {message}")

    @property
    def code(self) -> str:
        return f"{self.errno:06d}"


def compilation(text: str, *, errno: int = 2003, sqlstate: str = "02000") -> SnowflakeError:
    return SnowflakeError(errno, sqlstate, f"SQL compilation error:\n{text}")


def does_not_exist(kind: str, name: str) -> SnowflakeError:
    """002003 (02000): ``Service 'X' does not exist or not authorized.`` Also used for objects the
    current role cannot see, exactly as Snowflake answers (it does not reveal existence)."""
    return compilation(f"{kind} '{name}' does not exist or not authorized.")


def already_exists(kind: str, name: str) -> SnowflakeError:
    """002002 (42710); the snow CLI keys on errno 2002."""
    return compilation(f"Object '{name}' already exists.", errno=2002, sqlstate="42710")


def insufficient_privileges(kind: str, name: str) -> SnowflakeError:
    """003001 (42501): ``Insufficient privileges to operate on compute pool 'P'.``"""
    return SnowflakeError(
        3001, "42501", f"SQL access control error:\nInsufficient privileges to operate on {kind} '{name}'."
    )


def syntax_error(line: int, position: int, unexpected: str) -> SnowflakeError:
    """001003 (42000): ``syntax error line 1 at position 8 unexpected 'FOO'.``"""
    return compilation(
        f"syntax error line {line} at position {position} unexpected '{unexpected}'.",
        errno=1003,
        sqlstate="42000",
    )


def incompatible_options(first: str, second: str) -> SnowflakeError:
    """001004 (0A000) ``options IF NOT EXISTS and OR REPLACE are incompatible.``: the two together, in
    one CREATE (as an account answers; feast-dev/feast#3589 quotes the error)."""
    return compilation(f"options {first} and {second} are incompatible.", errno=1004, sqlstate="0A000")


def unsupported_feature(feature: str) -> SnowflakeError:
    """000002 (0A000) ``Unsupported feature 'UNSET'.`` (ALTER IMAGE REPOSITORY ... UNSET; the Terraform
    provider's integration test on an account, SNOW-2070753)."""
    return SnowflakeError(2, "0A000", f"Unsupported feature '{feature}'.")


def invalid(text: str) -> SnowflakeError:
    """A statement that parses but is refused (bad value, platform rule): 002xxx family, 22023."""
    return SnowflakeError(2043, "22023", f"SQL compilation error:\n{text}")


def not_emulated(what: str) -> SnowflakeError:
    """The statement is valid Snowflake SQL that this emulator does not implement (errno 9999, as fakesnow)."""
    return SnowflakeError(
        9999,
        "0A000",
        f"Unsupported feature: {what} is not emulated by spcs-emulator (see docs/emulator-coverage.md).",
    )


# -- the catalogue: every refusal the emulator gives, by name (reference/snowflake.md §7) -----------------
# Grouped by where Snowflake gives them; the codes tests match on are constants.

SESSION_ENDED = 390104
INVALID_REGEX = 100048

# The wire protocol


def empty_statement() -> SnowflakeError:
    return SnowflakeError(900, "42000", "Empty SQL statement.")


# Login and sessions


def bad_credentials() -> SnowflakeError:
    return SnowflakeError(390100, "08004", "Incorrect username or password was specified.")


def authenticator_not_supported(method: str) -> SnowflakeError:
    return SnowflakeError(390100, "08004", f"Authenticator {method} is not supported by the emulator.")


def user_disabled() -> SnowflakeError:
    # A disabled user's login, as real logs show it through the connector: "250001 (08001): Failed to
    # connect to DB: <account>.snowflakecomputing.com:443. User access disabled. Contact your local system
    # administrator." (GS code 390101) [3P OpenMetadata's Snowflake troubleshooting page].
    return SnowflakeError(390101, "08004", "User access disabled. Contact your local system administrator.")


def jwt_invalid() -> SnowflakeError:
    return SnowflakeError(390144, "08004", "JWT token is invalid.")


def pat_invalid() -> SnowflakeError:
    return SnowflakeError(394400, "08004", "Programmatic access token is invalid.")


def login_role_not_granted(role: str) -> SnowflakeError:
    return SnowflakeError(
        390189,
        "08004",
        f"Role '{role}' specified in the connect string is not granted to this user. "
        "Contact your local system administrator, or attempt to login with another role, e.g. PUBLIC.",
    )


def session_ended() -> SnowflakeError:
    """A session that was ended because its user was dropped or disabled. Snowflake documents that
    DISABLED = TRUE blocks login and aborts the user's running queries [DOC CREATE/ALTER USER]; the code
    an open session then gets is unconfirmed. We answer as for any session Snowflake no longer knows:
    390104 "User must login again" (reference §7.3, fakesnow), which the connector does not try to renew
    (390112 would send it to RENEW with a master token that is gone too)."""
    return SnowflakeError(SESSION_ENDED, "08001", "User must login again to access the service.")


def role_not_assigned(role: str) -> SnowflakeError:
    """003013 (42501): Snowflake's answer to USE ROLE of a role not granted to the user (real logs: "003013
    (42501): SQL access control error: Requested role 'WORKROLE' is not assigned to the executing user.
    Specify another role to activate."); the emulator gives it for a current role revoked or dropped."""
    return SnowflakeError(
        3013,
        "42501",
        f"SQL access control error:\nRequested role '{role}' is not assigned to the executing user. "
        "Specify another role to activate.",
    )


def no_current(what: str) -> SnowflakeError:
    """090105 (22000): an unqualified name with no current database or schema."""
    return SnowflakeError(
        90105,
        "22000",
        f"Cannot perform operation. This session does not have a current {what}. "
        f"Call 'USE {what.upper()}', or use a qualified name.",
    )


# Access control


def insufficient_account_privileges(account: str, detail: str | None = None) -> SnowflakeError:
    """003001 (42501) on the account itself (CREATE <kind>, BIND SERVICE ENDPOINT)."""
    target = f": {detail}" if detail else f" '{account}'."
    return SnowflakeError(
        3001, "42501", f"SQL access control error:\nInsufficient privileges to operate on account{target}"
    )


def invalid_privilege(privilege: str, noun: str) -> SnowflakeError:
    return SnowflakeError(3011, "42601", f"SQL compilation error:\nInvalid privilege {privilege} for {noun}.")


def role_grant_cycle(role: str, grantee: str) -> SnowflakeError:
    return SnowflakeError(
        3014,
        "42601",
        f"SQL access control error:\nGranting role '{role}' to role '{grantee}' would create a cycle.",
    )


def cannot_drop_system_role(role: str) -> SnowflakeError:
    return SnowflakeError(3016, "42601", f"SQL access control error:\nCannot drop system role '{role}'.")


# Statements


def statement_too_large(why: str) -> SnowflakeError:
    """A statement refused before parsing (sql/limits.py). Snowflake documents no refusal (it runs
    longer text and truncates its history at 1 MB), so code and text are the emulator's own: 001003 as
    for what its compiler cannot read, with SQLSTATE 54000 (program limit exceeded)."""
    return SnowflakeError(1003, "54000", f"SQL compilation error:\nStatement too large to compile: {why}.")


def identifier_too_long(shown: str, length: int, limit: int) -> SnowflakeError:
    """An identifier over Snowflake's 255 characters [DOC identifiers-syntax]. Snowflake's own wording
    is unconfirmed; 002043 (22023) as for the emulator's other over-long names (paths.py)."""
    return invalid(f"Identifier '{shown}' is too long ({length:,} characters, at most {limit}).")


def unknown_function(name: str) -> SnowflakeError:
    return SnowflakeError(2140, "42601", f"SQL compilation error:\nUnknown function {name}")


def invalid_regex(pattern: str, why: str) -> SnowflakeError:
    shown = pattern if len(pattern) <= 80 else pattern[:80] + "..."
    return SnowflakeError(INVALID_REGEX, "2201B", f"Invalid regular expression: '{shown}', {why}")


def spec_file_missing(file: str, stage: str) -> SnowflakeError:
    return compilation(f"Specification file '{file}' does not exist in stage '{stage}'.")


# SPCS


def invalid_spec(message: str) -> SnowflakeError:
    """395018 (22023): a service specification (or an image name in it) SPCS refuses."""
    return SnowflakeError(395018, "22023", f"Invalid spec: {message}")


def stage_mount_v1() -> SnowflakeError:
    """Stage Mount V1, rejected since the 2026_08 bundle (bcr-2449)."""
    return SnowflakeError(395018, "22023", "stage mount v1 not supported, please use v2 instead")


def numeric_value_not_recognized(value: object) -> SnowflakeError:
    """A text where a number is expected: Snowflake's cast error, 100038 (22018)."""
    return SnowflakeError(100038, "22018", f"Numeric value '{value}' is not recognized")


def wrong_function_arguments(text: str) -> SnowflakeError:
    return SnowflakeError(1044, "42P13", f"SQL compilation error:\n{text}")


def container_not_running(container: str, instance_id: str, service: str) -> SnowflakeError:
    return SnowflakeError(
        391403,
        "22023",
        f"Container '{container}' of instance {instance_id} of service {service} is not running.",
    )


def pool_has_services(pool: str, count: int) -> SnowflakeError:
    return SnowflakeError(
        391415,
        "55000",
        f"Cannot drop compute pool {pool} because it has {count} service(s) or job(s) running. "
        f"Drop them first, or run ALTER COMPUTE POOL {pool} STOP ALL.",
    )


def service_has_block_volumes(service: str) -> SnowflakeError:
    return SnowflakeError(
        391417,
        "55000",
        f"Service {service} has block storage volumes; use DROP SERVICE {service} FORCE to drop it and its volumes.",
    )


def image_repository_name_quoted() -> SnowflakeError:
    """An image repository in a database or schema, or of a name, that must be quoted: its URL is a
    lower-cased path, so it must be an unquoted identifier (the message is Snowflake's, SNOW-2070746, in
    the Terraform provider's integration test; the error code is not given there: 002043 (22023) is the
    emulator's choice)."""
    return invalid("db, schema and repo names for an image repo must be unquoted identifiers")
