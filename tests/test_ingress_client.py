"""The harness's ingress client: endpoint URLs as SHOW ENDPOINTS gives them (an account's bare host,
the emulator's loopback host:port), the Authorization header, and token exchanges against a running
emulator (its real ``/oauth/token``; runtime and ingress are test doubles). No credential in a repr
or an exception."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import jwt
import pytest
import snowflake.connector
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from milvus_spcs.ingress_client import (
    DirectToken,
    ExchangedToken,
    IngressAuthError,
    authorization,
    endpoint_host,
    endpoint_url,
)
from milvus_spcs.jupyter_client import JupyterOverIngress
from milvus_spcs.secret import Secret
from milvus_spcs.waits import Probe, wait_for
from spcs_emulator.emulator import Emulator
from tests.emulator.fakes import FakeIngress, FakeRuntime
from tests.emulator.guide import run_guide_setup
from tests.emulator.sql import rows, wait_status

ACCOUNT_HOST = "p6bye-myorg-myacct.snowflakecomputing.app"
USER = "MILVUS_USER"


@pytest.mark.parametrize(
    ("ingress_url", "url"),
    [
        (ACCOUNT_HOST, f"https://{ACCOUNT_HOST}"),  # an account's: a bare host, https
        (f" {ACCOUNT_HOST.upper()}\n", f"https://{ACCOUNT_HOST}"),
        (f"https://{ACCOUNT_HOST}/", f"https://{ACCOUNT_HOST}"),
        ("127.0.0.1:40001", "http://127.0.0.1:40001"),  # the emulator's: loopback host:port, http
        ("localhost:8888", "http://localhost:8888"),
        ("[::1]:8888", "http://[::1]:8888"),
        ("http://127.0.0.1:40001", "http://127.0.0.1:40001"),
    ],
)
def test_an_endpoint_url_from_show_endpoints(ingress_url: str, url: str) -> None:
    assert endpoint_url(ingress_url) == url
    assert endpoint_host(ingress_url) == url.split("://", 1)[1]


@pytest.mark.parametrize(
    "ingress_url",
    [
        "Endpoints provisioning in progress... check back in a few minutes",
        "",
        f"http://{ACCOUNT_HOST}",  # a token in clear over the network
        f"ftp://{ACCOUNT_HOST}",
        f"{ACCOUNT_HOST}/path",
        "user:pw@host.snowflakecomputing.app",
    ],
)
def test_what_is_no_endpoint_url_is_refused(ingress_url: str) -> None:
    with pytest.raises(IngressAuthError):
        endpoint_url(ingress_url)


def test_the_header_is_snowflakes_and_the_token_never_shows() -> None:
    token = "ver:1-hint:123-secretvalue"
    direct = DirectToken(Secret(token))
    assert authorization(direct) == {"Authorization": f'Snowflake Token="{token}"'}
    assert authorization(token) == authorization(direct)
    jupyter = JupyterOverIngress(ACCOUNT_HOST, token)
    assert jupyter.base_url == f"https://{ACCOUNT_HOST}"
    assert jupyter._headers()["Authorization"] == f'Snowflake Token="{token}"'
    for shown in (repr(direct), repr(jupyter), str(direct), f"{jupyter!r}"):
        assert token not in shown


@dataclass
class Account:
    emulator: Emulator
    host: str  # the Jupyter endpoint's, as SHOW ENDPOINTS gives it
    pat: str
    key_pem: bytes

    @property
    def url(self) -> str:
        return f"127.0.0.1:{self.emulator.port}"


@pytest.fixture
def account(tmp_path: Path) -> Iterator[Account]:
    with Emulator(runtime=FakeRuntime(), ingress=FakeIngress(), state_dir=tmp_path / "state") as emu:
        conn = snowflake.connector.connect(**emu.connection_parameters())
        cur = conn.cursor()
        run_guide_setup(emu, cur)
        cur.execute("USE ROLE SYSADMIN")
        wait_status(cur, "MILVUS_DEMO.PUBLIC.JUPYTER", "RUNNING")

        def opened() -> Probe[str]:
            url = str(rows(cur, "SHOW ENDPOINTS IN SERVICE MILVUS_DEMO.PUBLIC.JUPYTER")[0]["ingress_url"])
            return Probe(url.startswith("127."), url, state=url)

        host = wait_for(opened, what="the Jupyter ingress URL", timeout=10, interval=0.05)
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        public = key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        cur.execute("USE ROLE ACCOUNTADMIN")
        cur.execute(f"ALTER USER {USER} SET RSA_PUBLIC_KEY = '{base64.b64encode(public).decode()}'")
        pat = rows(cur, f"ALTER USER {USER} ADD PROGRAMMATIC ACCESS TOKEN HARNESS")[0]["token_secret"]
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        yield Account(emu, host, pat, pem)
        conn.close()


def scope_of(token: str) -> str:
    return str(jwt.decode(token, options={"verify_signature": False})["scope"])


def test_a_pat_is_exchanged_once_and_renewed_before_it_expires(account: Account) -> None:
    now = [1_000_000.0]
    exchanged = ExchangedToken.for_pat(account.url, account.host, account.pat)
    exchanged.clock = lambda: now[0]
    first = exchanged.token()
    assert scope_of(first) == account.host
    assert exchanged.token() is first  # kept while it is valid
    exp = jwt.decode(first, options={"verify_signature": False})["exp"]
    now[0] = float(exp)  # within the renewal margin of its own exp
    assert exchanged.token() != first
    assert account.pat not in repr(exchanged)


def test_a_key_pair_jwt_is_exchanged_with_the_role_in_the_scope(account: Account) -> None:
    exchanged = ExchangedToken.for_key_pair(
        account.url,
        account.host,
        account="emulated.us-east-1",
        user=USER.lower(),
        private_key=account.key_pem,
        role="MILVUS_ROLE",
    )
    assert exchanged.scope == f"session:role:MILVUS_ROLE {account.host}"
    claims = jwt.decode(exchanged.token(), options={"verify_signature": False})
    assert (claims["sub"], claims["role"], claims["scope"]) == (USER, "MILVUS_ROLE", account.host)
    jupyter = JupyterOverIngress(account.host, exchanged)  # the emulator's host:port: http
    assert jupyter.base_url == f"http://{account.host}"
    assert jupyter._headers()["Authorization"] == f'Snowflake Token="{exchanged.token()}"'


def test_a_refused_exchange_says_why_and_never_shows_the_credential(account: Account) -> None:
    stale = account.pat[::-1]
    with pytest.raises(IngressAuthError) as refused:
        ExchangedToken.for_pat(account.url, account.host, stale).token()
    assert "invalid_grant" in str(refused.value)
    assert stale not in str(refused.value)
    assert stale not in repr(refused.value)
    with pytest.raises(IngressAuthError, match="invalid_scope"):
        ExchangedToken.for_pat(account.url, "127.0.0.1:1", account.pat).token()
