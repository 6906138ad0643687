"""Ingress: no credentials -> redirect to login; the run user's token -> Jupyter answers; a user
without endpoint access -> refused."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from milvus_spcs.stack.spcs_plan import StackState, create_outsider, drop_outsider
from milvus_spcs.stack.sql_runner import SqlRunner
from milvus_spcs.target import Target

pytestmark = pytest.mark.spcs


def test_no_credentials_is_redirected_to_a_login(ingress_url: str) -> None:
    response = requests.get(f"{ingress_url}/api/status", allow_redirects=False, timeout=30)
    assert response.status_code in (301, 302, 303, 307), (
        f"expected a login redirect, got {response.status_code}"
    )


def test_the_run_user_reaches_the_jupyter_api(ingress_url: str, run_user_token: str) -> None:
    response = requests.get(
        f"{ingress_url}/api/contents",
        headers={"Authorization": f'Snowflake Token="{run_user_token}"'},
        timeout=30,
    )
    assert response.status_code == 200
    assert "TestMilvus.ipynb" in {item["name"] for item in response.json()["content"]}


@pytest.fixture
def outsider_token(spcs_target: Target, spcs_sql: SqlRunner, spcs_stack: StackState) -> Iterator[str]:
    """A user with no endpoint access, labelled with the run: dropped after, and by 90_teardown.sql
    (down, janitor) should this fixture never get to it."""
    password = create_outsider(spcs_sql, spcs_stack)
    try:
        conn, token = spcs_target.session_token(spcs_stack.names.outsider, password)
        yield token
        conn.close()
    finally:
        drop_outsider(spcs_sql, spcs_stack.names)


def test_a_user_without_endpoint_access_is_refused(ingress_url: str, outsider_token: str) -> None:
    response = requests.get(
        f"{ingress_url}/api/status",
        headers={"Authorization": f'Snowflake Token="{outsider_token}"'},
        allow_redirects=False,
        timeout=30,
    )
    assert response.status_code in (401, 403)
