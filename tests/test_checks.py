"""The SPCS suites' checks fail, naming the port, when a spec makes 9091 or 2379 public: run against
the endpoints of a service the emulator created from such a spec."""

from __future__ import annotations

from pathlib import Path

import pytest
import snowflake.connector

from milvus_spcs.checks import grant_differences, public_endpoint_problems
from spcs_emulator.emulator import Emulator
from tests.emulator.fakes import FakeIngress, FakeRuntime

BAD_SPEC = """
spec:
  containers:
  - name: milvus
    image: /d/public/r/milvus:v2.6.10
  endpoints:
  - {name: grpc, port: 19530, protocol: TCP}
  - {name: health, port: 9091, public: true}
  - {name: etcd, port: 2379, public: true, protocol: HTTP}
"""


@pytest.fixture
def bad_endpoints(tmp_path: Path) -> list[dict]:
    with Emulator(runtime=FakeRuntime(), ingress=FakeIngress(), state_dir=tmp_path) as emu:
        conn = snowflake.connector.connect(**emu.connection_parameters())
        cur = conn.cursor()
        for sql in (
            "CREATE DATABASE D",
            "CREATE IMAGE REPOSITORY R",
            "CREATE COMPUTE POOL P MIN_NODES=1 MAX_NODES=1 INSTANCE_FAMILY=CPU_X64_XS",
            f"CREATE SERVICE MILVUS IN COMPUTE POOL P FROM SPECIFICATION $${BAD_SPEC}$$",
            "SHOW ENDPOINTS IN SERVICE MILVUS",
        ):
            cur.execute(sql)
        names = [d[0] for d in cur.description]
        rows = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
        conn.close()
    return rows


def test_public_9091_and_2379_fail_the_endpoint_check_naming_the_ports(bad_endpoints: list[dict]) -> None:
    problems = public_endpoint_problems("MILVUS", bad_endpoints)
    assert len(problems) == 2
    assert any("port 9091 public" in p and "CVE-2026-26190" in p for p in problems)
    assert any("port 2379 public" in p and "etcd" in p for p in problems)


def test_grant_differences_name_missing_and_unexpected_grants() -> None:
    expected = {("USAGE", "DATABASE", "D"), ("READ", "STAGE", "D.PUBLIC.S")}
    actual = {("USAGE", "DATABASE", "D"), ("OWNERSHIP", "DATABASE", "D")}
    assert grant_differences(expected, actual) == [
        "missing grant: ('READ', 'STAGE', 'D.PUBLIC.S')",
        "unexpected grant: ('OWNERSHIP', 'DATABASE', 'D')",
    ]
