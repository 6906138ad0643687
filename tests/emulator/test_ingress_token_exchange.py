"""Programmatic access to a public endpoint as Snowflake's tutorial documents it ("Access the public
endpoint programmatically"): a session token or a PAT sent as ``Authorization: Snowflake Token=...``,
or a key-pair JWT or a PAT exchanged at ``POST /oauth/token`` for a token scoped to one endpoint's host.
Everything else is refused, at the exchange or at the ingress.

Real HTTP throughout (requests): the emulator's SQL endpoint answers the exchange, its real ingress
proxy decides (the control plane's authorizer), and an echo server stands in for the containers.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
import requests
import snowflake.connector
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from milvus_spcs.target import token_of
from milvus_spcs.waits import Probe, wait_for
from spcs_emulator.emulator import Emulator
from spcs_emulator.spcs.ingress import IngressProxy
from spcs_emulator.spcs.runtime_api import IngressRoute
from tests.emulator.fakes import FakeRuntime
from tests.emulator.guide import run_guide_setup
from tests.emulator.sql import rows, wait_status
from tests.emulator.upstream import UpstreamServer

USER, PASSWORD, ROLE = "MILVUS_USER", "milvususerok", "MILVUS_ROLE"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
UPSTREAM_IP = "127.0.0.9"
OTHER_SPEC = """spec:
  containers:
  - name: web
    image: /milvus_demo/public/milvus_repo/jupyter:latest
  endpoints:
  - name: ui
    port: 8080
    public: true
"""


class Echo(UpstreamServer):
    """Every container: answers who the ingress says the caller is."""

    def __init__(self) -> None:
        super().__init__(UPSTREAM_IP)

    def routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/{tail:.*}", self._who)

    async def _who(self, request: web.Request) -> web.Response:
        return web.json_response({"user": request.headers.get("Sf-Context-Current-User")})


class EchoIngress(IngressProxy):
    """The real ingress proxy, with every route's target replaced by the echo server."""

    def __init__(self, echo: Echo) -> None:
        super().__init__()
        self.echo = echo

    def open(self, route: IngressRoute) -> str:
        target = dataclasses.replace(
            route, target_host=self.echo.ip, target_port=self.echo.port, upstream_secret=None, targets=None
        )
        return super().open(target)


@dataclasses.dataclass
class Setup:
    emulator: Emulator
    admin: Any  # a cursor of ACCOUNTADMIN
    jupyter: str  # the Jupyter endpoint's host, as SHOW ENDPOINTS gives it
    other: str  # another service's public endpoint, which the user may use too
    key: rsa.RSAPrivateKey  # the user's key pair
    pat: str  # the user's PAT, unrestricted
    token_url: str


@pytest.fixture(scope="module")
def echo() -> Iterator[Echo]:
    server = Echo()
    yield server
    server.stop()


def public_host(cur: Any, service: str) -> str:
    def opened() -> Probe[str]:
        url = str(rows(cur, f"SHOW ENDPOINTS IN SERVICE MILVUS_DEMO.PUBLIC.{service}")[0]["ingress_url"])
        return Probe(url.startswith("127."), url, state=url)

    return wait_for(opened, what=f"{service}'s ingress URL", timeout=10, interval=0.05)


@pytest.fixture
def setup(tmp_path: Path, echo: Echo) -> Iterator[Setup]:
    with Emulator(runtime=FakeRuntime(), ingress=EchoIngress(echo), state_dir=tmp_path / "state") as emu:
        conn = snowflake.connector.connect(**emu.connection_parameters())
        cur = conn.cursor()
        run_guide_setup(emu, cur)
        cur.execute("USE ROLE SYSADMIN")
        cur.execute(
            "CREATE SERVICE MILVUS_DEMO.PUBLIC.OTHER IN COMPUTE POOL JUPYTER_COMPUTE_POOL "
            f"FROM SPECIFICATION $${OTHER_SPEC}$$"
        )
        for service in ("JUPYTER", "OTHER"):
            wait_status(cur, f"MILVUS_DEMO.PUBLIC.{service}", "RUNNING")
            cur.execute(f"GRANT SERVICE ROLE MILVUS_DEMO.PUBLIC.{service}!ALL_ENDPOINTS_USAGE TO ROLE {ROLE}")
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        cur.execute("USE ROLE ACCOUNTADMIN")
        cur.execute(f"ALTER USER {USER} SET RSA_PUBLIC_KEY = '{public_key_b64(key)}'")
        pat = rows(cur, f"ALTER USER {USER} ADD PROGRAMMATIC ACCESS TOKEN EXCHANGE_ME")[0]["token_secret"]
        yield Setup(
            emu,
            cur,
            public_host(cur, "JUPYTER"),
            public_host(cur, "OTHER"),
            key,
            pat,
            f"http://127.0.0.1:{emu.port}/oauth/token",
        )
        conn.close()


def public_key_b64(key: rsa.RSAPrivateKey) -> str:
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode()


def key_pair_jwt(key: rsa.RSAPrivateKey, user: str = USER) -> str:
    """As the tutorial's generator: iss ACCOUNT.USER.SHA256:<fingerprint>, sub ACCOUNT.USER, RS256."""
    fingerprint = base64.b64encode(hashlib.sha256(base64.b64decode(public_key_b64(key))).digest()).decode()
    now = dt.datetime.now(dt.UTC)
    claims = {
        "iss": f"EMULATED.{user}.SHA256:{fingerprint}",
        "sub": f"EMULATED.{user}",
        "iat": now,
        "exp": now + dt.timedelta(minutes=59),
    }
    return jwt.encode(claims, key, algorithm="RS256")


def exchange(s: Setup, **form: str) -> requests.Response:
    return requests.post(s.token_url, data=form, timeout=10)


def with_jwt(s: Setup, scope: str, key: rsa.RSAPrivateKey | None = None) -> requests.Response:
    return exchange(s, grant_type=JWT_BEARER, assertion=key_pair_jwt(key or s.key), scope=scope)


def with_pat(s: Setup, scope: str, pat: str | None = None) -> requests.Response:
    return exchange(
        s,
        grant_type=TOKEN_EXCHANGE,
        subject_token=pat or s.pat,
        subject_token_type="programmatic_access_token",
        scope=scope,
    )


def call(host: str, token: str) -> requests.Response:
    return requests.get(
        f"http://{host}/api/status",
        headers={"Authorization": f'Snowflake Token="{token}"'},
        allow_redirects=False,
        timeout=10,
    )


def issued(response: requests.Response) -> str:
    assert response.status_code == 200, response.text
    return response.text


def assert_refused(response: requests.Response, why: str) -> None:
    assert response.status_code == 403, response.text
    assert why in response.text


def assert_oauth_error(response: requests.Response, error: str, *secrets: str) -> None:
    assert response.status_code == 400, response.text
    body = response.json()
    assert (body["error"], body["success"], body["data"]) == (error, False, None)
    assert body["message"]
    for secret in secrets:
        assert secret not in response.text


# -- accepted, as the tutorial's three options ---------------------------------------------------------


def test_a_session_token_is_sent_as_is(setup: Setup) -> None:
    conn = snowflake.connector.connect(**setup.emulator.connection_parameters(user=USER, password=PASSWORD))
    try:
        response = call(setup.jupyter, str(token_of(conn)))
    finally:
        conn.close()
    assert response.status_code == 200
    assert response.json() == {"user": USER}


def test_a_pat_is_sent_as_is(setup: Setup) -> None:
    response = call(setup.jupyter, setup.pat)
    assert response.status_code == 200
    assert response.json() == {"user": USER}


def test_a_key_pair_jwt_is_exchanged_for_a_token_of_the_endpoint(setup: Setup) -> None:
    token = issued(with_jwt(setup, setup.jupyter))
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["exp"] > claims["iat"]  # the samples renew at the token's own exp
    response = call(setup.jupyter, token)
    assert response.status_code == 200
    assert response.json() == {"user": USER}


def test_a_pat_is_exchanged_for_a_token_of_the_endpoint(setup: Setup) -> None:
    response = call(setup.jupyter, issued(with_pat(setup, setup.jupyter)))
    assert response.status_code == 200
    assert response.json() == {"user": USER}


def test_a_session_role_in_the_scope_is_the_role_the_token_acts_with(setup: Setup) -> None:
    token = issued(with_pat(setup, f"session:role:{ROLE.lower()} {setup.jupyter}"))
    assert call(setup.jupyter, token).status_code == 200
    setup.admin.execute(f"REVOKE ROLE {ROLE} FROM USER {USER}")
    assert_refused(call(setup.jupyter, token), f"role {ROLE} is no longer granted")


# -- refused at the ingress -----------------------------------------------------------------------------


def test_a_raw_key_pair_jwt_is_refused_by_the_ingress(setup: Setup) -> None:
    assert_refused(call(setup.jupyter, key_pair_jwt(setup.key)), "invalid or expired")


def test_a_password_is_refused_by_the_ingress(setup: Setup) -> None:
    assert_refused(call(setup.jupyter, PASSWORD), "invalid or expired")


def test_a_token_scoped_to_another_endpoint_is_refused(setup: Setup) -> None:
    token = issued(with_jwt(setup, setup.other))
    assert call(setup.other, token).status_code == 200
    assert_refused(call(setup.jupyter, token), f"issued for another endpoint ({setup.other})")


def test_an_expired_endpoint_token_is_refused(setup: Setup) -> None:
    token = issued(with_pat(setup, setup.jupyter))
    tokens = setup.emulator.endpoint_tokens
    tokens.clock = lambda: dt.datetime.now(dt.UTC).timestamp() + tokens.lifetime + 1
    assert_refused(call(setup.jupyter, token), "expired")


def test_an_endpoint_token_not_signed_by_the_emulator_is_refused(setup: Setup) -> None:
    claims = jwt.decode(issued(with_pat(setup, setup.jupyter)), options={"verify_signature": False})
    forged = jwt.encode(
        {**claims, "sub": "ACCOUNTADMIN_USER"}, "a guessed key, 32 bytes or longer", algorithm="HS256"
    )
    assert_refused(call(setup.jupyter, forged), "invalid or expired")


def test_an_endpoint_token_of_a_disabled_user_is_refused(setup: Setup) -> None:
    token = issued(with_jwt(setup, setup.jupyter))
    setup.admin.execute(f"ALTER USER {USER} SET DISABLED = TRUE")
    assert_refused(call(setup.jupyter, token), "disabled")


def test_an_endpoint_token_is_no_session_token(setup: Setup) -> None:
    token = issued(with_jwt(setup, setup.jupyter))
    response = requests.post(
        f"http://127.0.0.1:{setup.emulator.port}/queries/v1/query-request",
        json={"sqlText": "SELECT 1"},
        headers={"Authorization": f'Snowflake Token="{token}"'},
        timeout=10,
    )
    assert response.json()["success"] is False


# -- refused at the exchange ----------------------------------------------------------------------------


def test_an_unsupported_grant_type_is_refused(setup: Setup) -> None:
    response = exchange(setup, grant_type="password", username=USER, password=PASSWORD, scope=setup.jupyter)
    assert_oauth_error(response, "unsupported_grant_type", PASSWORD)


def test_a_jwt_signed_by_another_key_is_refused(setup: Setup) -> None:
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert_oauth_error(with_jwt(setup, setup.jupyter, stranger), "invalid_grant")


def test_an_unknown_pat_is_refused(setup: Setup) -> None:
    guess = "not-a-pat-" + "x" * 40
    assert_oauth_error(with_pat(setup, setup.jupyter, guess), "invalid_grant", guess)


def test_a_disabled_users_credential_is_refused(setup: Setup) -> None:
    setup.admin.execute(f"ALTER USER {USER} SET DISABLED = TRUE")
    assert_oauth_error(with_pat(setup, setup.jupyter), "invalid_grant", setup.pat)


@pytest.mark.parametrize(
    "scope",
    [
        "127.0.0.1:1",  # no public endpoint there
        "",  # no endpoint at all
        "session:role:MILVUS_ROLE",  # a role, no endpoint
        "{jupyter} {other}",  # two endpoints
        "session:role:ACCOUNTADMIN {jupyter}",  # a role the user is not granted
    ],
)
def test_a_scope_that_names_no_single_endpoint_or_an_ungranted_role_is_refused(
    setup: Setup, scope: str
) -> None:
    response = with_pat(setup, scope.format(jupyter=setup.jupyter, other=setup.other))
    if scope:
        assert_oauth_error(response, "invalid_scope", setup.pat)
    else:
        assert_oauth_error(response, "invalid_request", setup.pat)


def test_a_pat_restricted_to_a_role_gets_no_token_for_another(setup: Setup) -> None:
    setup.admin.execute(f"GRANT ROLE SYSADMIN TO USER {USER}")
    restricted = rows(
        setup.admin, f"ALTER USER {USER} ADD PROGRAMMATIC ACCESS TOKEN NARROW ROLE_RESTRICTION = '{ROLE}'"
    )[0]["token_secret"]
    assert_oauth_error(
        with_pat(setup, f"session:role:SYSADMIN {setup.jupyter}", restricted), "invalid_scope", restricted
    )
    assert call(setup.jupyter, issued(with_pat(setup, setup.jupyter, restricted))).status_code == 200


def test_a_form_is_required(setup: Setup) -> None:
    response = requests.post(
        setup.token_url, json={"grant_type": JWT_BEARER, "scope": setup.jupyter}, timeout=10
    )
    assert_oauth_error(response, "invalid_request")
