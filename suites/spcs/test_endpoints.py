"""Endpoints: only Jupyter is public; Milvus gRPC (19530), metrics (9091) and etcd (2379) never are."""

from __future__ import annotations

import pytest

from milvus_spcs.checks import public_endpoint_problems
from milvus_spcs.stack.service_status import ENDPOINT_PROVISIONING_TEXT, is_true
from milvus_spcs.stack.spcs_plan import StackState
from milvus_spcs.stack.sql_runner import SqlRunner

pytestmark = pytest.mark.spcs


def endpoints(spcs_sql: SqlRunner, stack: StackState, service: str) -> list[dict]:
    names = stack.names
    return spcs_sql.query(
        "USE ROLE SYSADMIN", f"SHOW ENDPOINTS IN SERVICE {names.database}.{names.schema}.{service}"
    )


@pytest.mark.parametrize("service", ["milvus_service", "jupyter_service"])
def test_no_forbidden_port_is_public(spcs_sql: SqlRunner, spcs_stack: StackState, service: str) -> None:
    name = getattr(spcs_stack.names, service)
    assert public_endpoint_problems(name, endpoints(spcs_sql, spcs_stack, name)) == []


def test_only_the_jupyter_endpoint_is_public_and_has_an_ingress_host(
    spcs_sql: SqlRunner, spcs_stack: StackState
) -> None:
    names = spcs_stack.names
    public = [
        (service, e["name"], e["ingress_url"])
        for service in (names.milvus_service, names.jupyter_service)
        for e in endpoints(spcs_sql, spcs_stack, service)
        if is_true(e["is_public"])  # BOOLEAN on an account and here; compared by value
    ]
    assert [(s, n) for s, n, _ in public] == [(names.jupyter_service, "jupyter")]
    url = public[0][2]
    assert url
    assert ENDPOINT_PROVISIONING_TEXT not in url
    assert " " not in url


def test_milvus_is_reachable_only_inside(spcs_sql: SqlRunner, spcs_stack: StackState) -> None:
    milvus = {e["name"]: e for e in endpoints(spcs_sql, spcs_stack, spcs_stack.names.milvus_service)}
    assert milvus, "Milvus declares its gRPC endpoint for service-to-service traffic"
    assert all(not e["ingress_url"] for e in milvus.values())
