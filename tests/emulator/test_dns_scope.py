"""Service DNS is scoped as on SPCS: short names resolve within the schema, full names everywhere.

Two runs in two databases may each have a ``MILVUS`` service; each run's containers must reach their
own by the short name ``milvus``, never the other run's.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import snowflake.connector

from milvus_spcs.waits import Probe, wait_for
from spcs_emulator.emulator import Emulator
from spcs_emulator.spcs import dns
from spcs_emulator.spcs.processes import descendants
from tests.emulator.images import publish
from tests.emulator.local_runtime import environ, require_nss_wrapper
from tests.emulator.sql import rows, wait_status

RESOLVE = (
    "import json, socket, sys\n"
    "out = {}\n"
    "for name in sys.argv[1:]:\n"
    "    try:\n"
    "        out[name] = socket.gethostbyname(name)\n"
    "    except socket.gaierror:\n"
    "        out[name] = None\n"
    "print(json.dumps(out))\n"
)


def test_short_names_come_only_from_the_search_domain() -> None:
    hosts = {
        "milvus.aaaa.svc.spcs.internal": "127.0.0.10",
        "milvus.bbbb.svc.spcs.internal": "127.0.0.11",
        "lonely.aaaa.svc.spcs.internal": "127.0.0.12",
    }
    in_b = dns.scoped_hosts(hosts, "bbbb.svc.spcs.internal")
    assert in_b == {**hosts, "milvus": "127.0.0.11"}
    in_a = dns.scoped_hosts(hosts, "aaaa.svc.spcs.internal")
    assert in_a == {**hosts, "milvus": "127.0.0.10", "lonely": "127.0.0.12"}
    assert dns.scoped_hosts(hosts, "") == hosts


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[Emulator]:
    with Emulator(state_dir=tmp_path / "state") as emu:
        yield emu


def spec(port: int) -> str:
    return (
        '{"spec": {"containers": [{"name": "db", "image": "/d1/public/r/lite:1"}], '
        f'"endpoints": [{{"name": "grpc", "port": {port}, "protocol": "TCP"}}]}}}}'
    )


def container_environment(emu: Emulator, fqn: tuple[str, str, str]) -> dict[str, str]:
    """The environment of the container's own process, read from /proc as the kernel holds it."""
    top = emu.control.services[fqn].instances[0].containers["db"].pid
    assert top is not None

    def container_process() -> Probe[dict[str, str]]:
        envs = [environ(pid) for pid in (top, *descendants(top))]  # the top one may be its watchdog
        found = [env for env in envs if dns.MECHANISM_ENV in env]
        return Probe(bool(found), found[0] if found else None, state=f"{len(envs)} processes")

    env = wait_for(container_process, what=f"the process of {fqn}", timeout=30, interval=0.05)
    assert env is not None
    return env


def resolve_in(env: dict[str, str], *names: str) -> dict[str, str | None]:
    done = subprocess.run(
        [sys.executable, "-c", RESOLVE, *names], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


@pytest.mark.slow
def test_a_short_name_resolves_to_the_service_of_the_containers_own_schema(emulator: Emulator) -> None:
    require_nss_wrapper()
    conn = snowflake.connector.connect(**emulator.connection_parameters())
    cur = conn.cursor()
    for sql in (
        "CREATE DATABASE D1",
        "CREATE IMAGE REPOSITORY D1.PUBLIC.R",
        "CREATE DATABASE D2",
        "CREATE COMPUTE POOL P MIN_NODES=1 MAX_NODES=1 INSTANCE_FAMILY=CPU_X64_XS",
    ):
        cur.execute(sql)
    url = rows(cur, "SHOW IMAGE REPOSITORIES IN SCHEMA D1.PUBLIC")[0]["repository_url"]
    publish(emulator, f"{url}/lite:1", "milvus-lite")
    # Run A's Milvus first: with one global table, its short name would win everywhere.
    cur.execute(f"CREATE SERVICE D1.PUBLIC.MILVUS IN COMPUTE POOL P FROM SPECIFICATION $${spec(19548)}$$")
    cur.execute(f"CREATE SERVICE D2.PUBLIC.MILVUS IN COMPUTE POOL P FROM SPECIFICATION $${spec(19549)}$$")
    # A service only of schema A (its image never published: it fails, but its name is registered).
    unpublished = spec(19550).replace("lite:1", "missing:1")
    cur.execute(f"CREATE SERVICE D1.PUBLIC.LONELY IN COMPUTE POOL P FROM SPECIFICATION $${unpublished}$$")
    wait_status(cur, "D1.PUBLIC.MILVUS", "RUNNING", timeout=120)
    wait_status(cur, "D2.PUBLIC.MILVUS", "RUNNING", timeout=120)
    services = emulator.control.services
    a, b = services[("D1", "PUBLIC", "MILVUS")], services[("D2", "PUBLIC", "MILVUS")]
    lonely = services[("D1", "PUBLIC", "LONELY")]
    conn.close()
    assert a.dns_name.split(".")[0] == b.dns_name.split(".")[0] == "milvus"
    assert a.ip != b.ip

    names = ("milvus", "lonely", a.dns_name, b.dns_name, lonely.dns_name)
    in_b = resolve_in(container_environment(emulator, ("D2", "PUBLIC", "MILVUS")), *names)
    assert in_b == {
        "milvus": b.ip,  # its own schema's service, not run A's
        "lonely": None,  # another schema's short name does not resolve
        a.dns_name: a.ip,  # fully qualified names reach every service
        b.dns_name: b.ip,
        lonely.dns_name: lonely.ip,
    }
    in_a = resolve_in(container_environment(emulator, ("D1", "PUBLIC", "MILVUS")), *names)
    assert in_a == {
        "milvus": a.ip,
        "lonely": lonely.ip,
        a.dns_name: a.ip,
        b.dns_name: b.ip,
        lonely.dns_name: lonely.ip,
    }
