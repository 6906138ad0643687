"""``POST /oauth/token`` on the SQL endpoint's server: a key-pair JWT or a programmatic access token
exchanged for a token of one public endpoint (tutorial "Access the public endpoint programmatically";
reference/snowflake.md §4.4).

The form (``application/x-www-form-urlencoded``), as the samples send it:

- ``grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer``, ``assertion=<key-pair JWT>``;
- ``grant_type=urn:ietf:params:oauth:grant-type:token-exchange``, ``subject_token=<PAT>``,
  ``subject_token_type=programmatic_access_token``;
- ``scope=[session:role:<ROLE> ]<endpoint host>``: the host as SHOW ENDPOINTS gives it, and optionally
  the role the token acts with (granted to the user; a PAT's role restriction must allow it).

The answer is the token itself as the body's text (the samples read ``response.text``). A refusal is
HTTP 400 with OAuth's error word (RFC 6749 §5.2) and Snowflake's JSON envelope; the envelope's exact
content for this endpoint is not documented, so that shape is the emulator's own. No field of the form
is ever logged or echoed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import parse_qs

from aiohttp import web

from spcs_emulator.account.auth import is_disabled, key_pair_user, role_usable
from spcs_emulator.account.objects import User
from spcs_emulator.account.state import AccountState
from spcs_emulator.errors import SnowflakeError
from spcs_emulator.spcs.endpoint_tokens import EndpointTokens
from spcs_emulator.spcs.identity import pat_owner

if TYPE_CHECKING:
    from spcs_emulator.spcs.control import ControlPlane

PATH = "/oauth/token"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
PAT_TOKEN_TYPE = "programmatic_access_token"
ROLE_SCOPE = "session:role:"
# A form of a JWT or a PAT and a scope is well under 16 KiB; the bound is the emulator's own.
MAX_FORM_BYTES = 16 * 1024

# An endpoint host (as SHOW ENDPOINTS gives it) -> (service fqn, endpoint name), or None.
EndpointFinder = Callable[[str], tuple[tuple[str, ...], str] | None]


class OAuthError(Exception):
    """A refusal: ``error`` is RFC 6749's word, ``message`` says why (never a credential)."""

    def __init__(self, error: str, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.error, self.message, self.code = error, message, code

    @classmethod
    def of(cls, error: str, snowflake: SnowflakeError) -> OAuthError:
        return cls(error, snowflake.message, snowflake.errno)

    def response(self) -> web.Response:
        body = {
            "data": None,
            "message": self.message,
            "code": None if self.code is None else str(self.code),
            "success": False,
            "error": self.error,
        }
        return web.json_response(body, status=400)


def public_endpoint_at(control: ControlPlane, host: str) -> tuple[tuple[str, ...], str] | None:
    """The open public endpoint whose ingress host is ``host`` (call with the account lock held)."""
    wanted = host.strip().lower()
    for fqn, state in control.services.items():
        for endpoint, address in state.ingress.items():
            if address.lower() == wanted:
                return fqn, endpoint
    return None


@dataclass(frozen=True)
class _Scope:
    role: str | None
    host: str


def _scope(text: str) -> _Scope:
    roles = [word for word in text.split() if word.lower().startswith(ROLE_SCOPE)]
    hosts = [word for word in text.split() if not word.lower().startswith(ROLE_SCOPE)]
    if len(roles) > 1 or len(hosts) != 1:
        raise OAuthError("invalid_scope", "The scope names one endpoint host and at most one session:role.")
    role = roles[0][len(ROLE_SCOPE) :] if roles else None
    if role is not None and not role:
        raise OAuthError("invalid_scope", "The scope's session:role names no role.")
    # Unquoted role names fold to upper case, as everywhere in Snowflake.
    folded = (
        None if role is None else role[1:-1] if role.startswith('"') and role.endswith('"') else role.upper()
    )
    return _Scope(folded, hosts[0])


def _form(body: bytes) -> dict[str, str]:
    try:
        fields = parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(body))
    except (UnicodeDecodeError, ValueError):
        raise OAuthError("invalid_request", "The request body is not a form.") from None
    if any(len(values) > 1 for values in fields.values()):  # RFC 6749 §3.2: each parameter at most once
        raise OAuthError("invalid_request", "A request parameter was given more than once.")
    return {name: values[0] for name, values in fields.items()}


def _required(form: dict[str, str], name: str) -> str:
    value = form.get(name, "")
    if not value:
        raise OAuthError("invalid_request", f"The request has no {name}.")
    return value


def _subject(account: AccountState, form: dict[str, str]) -> tuple[User, str | None]:
    """(user, role restriction) of the credential the form presents."""
    grant_type = _required(form, "grant_type")
    if grant_type == JWT_BEARER:
        try:
            return key_pair_user(account, _required(form, "assertion")), None
        except SnowflakeError as error:
            raise OAuthError.of("invalid_grant", error) from None
    if grant_type == TOKEN_EXCHANGE:
        if _required(form, "subject_token_type") != PAT_TOKEN_TYPE:
            raise OAuthError("invalid_request", f"The subject_token_type must be {PAT_TOKEN_TYPE}.")
        owner = pat_owner(account, _required(form, "subject_token"))
        if owner is None:
            raise OAuthError("invalid_grant", "Programmatic access token is invalid.", 394400)
        return owner
    raise OAuthError("unsupported_grant_type", "The grant_type is not supported.")


def exchange(
    account: AccountState, tokens: EndpointTokens, find: EndpointFinder, form: dict[str, str]
) -> str:
    """The endpoint token for a form, or OAuthError (call with the account lock held)."""
    user, restriction = _subject(account, form)
    if is_disabled(user):  # only after the credential: a disabled user is not revealed to guessers
        raise OAuthError("invalid_grant", "User access disabled. Contact your local system administrator.")
    scope = _scope(_required(form, "scope"))
    role = scope.role or restriction
    if restriction is not None and role != restriction:
        raise OAuthError(
            "invalid_scope", f"The programmatic access token is restricted to role {restriction}."
        )
    if role is not None and not role_usable(account, user.name, role):
        raise OAuthError("invalid_scope", f"Role '{role}' is not granted to this user.")
    found = find(scope.host)
    if found is None:
        raise OAuthError("invalid_scope", f"No public endpoint has the host '{scope.host}'.")
    service, endpoint = found
    return tokens.issue(user.name, role, service, endpoint, scope.host.strip().lower())


def add_token_exchange_routes(
    app: web.Application, account: AccountState, tokens: EndpointTokens, find: EndpointFinder
) -> None:
    async def token(request: web.Request) -> web.Response:
        if request.content_type != "application/x-www-form-urlencoded":
            return OAuthError(
                "invalid_request", "The body must be application/x-www-form-urlencoded."
            ).response()
        body = await request.content.read(MAX_FORM_BYTES + 1)
        if len(body) > MAX_FORM_BYTES:
            return OAuthError("invalid_request", "The request body is too large.").response()

        def decide() -> str:
            with account.lock:
                return exchange(account, tokens, find, _form(body))

        try:
            issued = await asyncio.get_running_loop().run_in_executor(None, decide)
        except OAuthError as refused:
            return refused.response()
        return web.Response(text=issued, content_type="text/plain")

    app.router.add_post(PATH, token)
