"""ALTER USER ... ADD / REMOVE PROGRAMMATIC ACCESS TOKEN."""

from __future__ import annotations

import datetime as dt
import secrets

from spcs_emulator import errors
from spcs_emulator.account.auth import is_disabled
from spcs_emulator.account.context import Context
from spcs_emulator.account.objects import AccessToken, User
from spcs_emulator.account.registry import StatementContext
from spcs_emulator.account.show import columns
from spcs_emulator.results import Result, status, table
from spcs_emulator.sql import ast

# DAYS_TO_EXPIRY runs from 1 to the maximum the authentication policy allows [DOC ALTER USER ... ADD
# PROGRAMMATIC ACCESS TOKEN]; without a policy that maximum is 365 days. The errno Snowflake gives for a
# value outside the range is unconfirmed: 002043 (22023) as for any value a statement refuses.
DEFAULT_DAYS = 15
MAX_DAYS = 365


def _days_to_expiry(value: object) -> int:
    """The token's lifetime in days, refused before anything is created unless a whole 1..365."""
    text = str(value).strip()
    if isinstance(value, bool) or not text.lstrip("+-").isdigit() or not 1 <= int(text) <= MAX_DAYS:
        raise errors.invalid(
            f"invalid value [{text[:40]}] for parameter 'DAYS_TO_EXPIRY': expected a whole number of days "
            f"from 1 to {MAX_DAYS}"
        )
    return int(text)


def alter_tokens(ctx: Context, user: User, stmt: ast.Alter) -> Result:
    # A user may manage its own tokens; otherwise ownership of the user is needed.
    if user.name != ctx.session.user:
        ctx.require_owner(user)
    name = (stmt.token_name or "").upper()
    if stmt.action == "REMOVE PAT":
        if user.tokens.pop(name, None) is None:
            raise errors.does_not_exist("Programmatic access token", name)
        return status()
    if name in user.tokens:
        raise errors.already_exists("Programmatic access token", name)
    props = {k: v.value if isinstance(v, ast.Ident) else v for k, v in stmt.properties.items()}
    unknown = set(props) - {
        "ROLE_RESTRICTION",
        "DAYS_TO_EXPIRY",
        "MINS_TO_BYPASS_NETWORK_POLICY_REQUIREMENT",
        "COMMENT",
    }
    if unknown:
        raise errors.compilation(
            f"invalid property '{sorted(unknown)[0]}' for 'PROGRAMMATIC ACCESS TOKEN'",
            errno=1008,
            sqlstate="22023",
        )
    role = props.get("ROLE_RESTRICTION")
    role = str(role).upper() if role else None
    if role and role not in ctx.state.access.granted_roles(user.name):
        raise errors.does_not_exist("Role", role)
    days = _days_to_expiry(props.get("DAYS_TO_EXPIRY", DEFAULT_DAYS))
    bypass = props.get("MINS_TO_BYPASS_NETWORK_POLICY_REQUIREMENT")
    secret = secrets.token_urlsafe(48)
    user.tokens[name] = AccessToken(
        secret,
        role,
        dt.datetime.now(dt.UTC) + dt.timedelta(days=days),
        comment=None if props.get("COMMENT") is None else str(props["COMMENT"]),
        created_by=ctx.session.user,
        mins_to_bypass_network_policy=bypass if isinstance(bypass, int) else None,
    )
    return table(columns("token_name token_secret"), [(name, secret)])


TOKEN_COLUMNS = columns(
    "name user_name role_restriction expires_at:ts status comment created_on:ts created_by "
    "mins_to_bypass_network_policy_requirement:int rotated_to"
)
# SHOW lists tokens that expired within this many days too (docs: show-user-programmatic-access-tokens).
EXPIRED_LISTED_DAYS = 30


def _token_status(user: User, token: AccessToken, now: dt.datetime) -> str:
    """ACTIVE, EXPIRED, or DISABLED while the user may not log in (docs: the status column)."""
    if token.expires_at <= now:
        return "EXPIRED"
    return "DISABLED" if is_disabled(user) else "ACTIVE"


def show_tokens(ctx: StatementContext, stmt: ast.ShowTokens) -> Result:
    """SHOW USER PROGRAMMATIC ACCESS TOKENS [FOR USER u]: the session's own user needs nothing, another
    user's tokens need MODIFY on that user (or its ownership)."""
    name = stmt.user or ast.Name((ctx.session.user,))
    user = ctx.lookup(ast.USER, name)
    if user.name != ctx.session.user:
        ctx.require(user, "MODIFY")
    assert isinstance(user, User)
    now = dt.datetime.now(dt.UTC)
    rows = []
    for token_name, token in user.tokens.items():
        if token.expires_at <= now - dt.timedelta(days=EXPIRED_LISTED_DAYS):
            continue
        state = _token_status(user, token, now)
        rows.append(
            (
                token_name,
                user.name,
                token.role,
                token.expires_at,
                state,
                token.comment,
                token.created_on,
                token.created_by,
                token.mins_to_bypass_network_policy,
                None,  # rotated_to: ROTATE is not emulated
            )
        )
    return table(TOKEN_COLUMNS, rows)
