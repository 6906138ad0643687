"""Pool and service state machines: driven tick by tick with a fake clock, and under the realistic
profile (scaled down) through the real connector, as a client's waits would see them."""

from __future__ import annotations

from pathlib import Path

import pytest
import snowflake.connector

from milvus_spcs.waits import Probe, wait_for
from spcs_emulator.account.engine import Account
from spcs_emulator.emulator import Emulator
from spcs_emulator.protocol.backend import LoginRequest
from spcs_emulator.spcs import images
from spcs_emulator.spcs.control import ControlPlane, NotFound
from spcs_emulator.spcs.lifecycle import ENDPOINT_PROVISIONING_TEXT, PROFILES
from spcs_emulator.spcs.registration import register_spcs
from tests.emulator.fakes import FakeIngress, FakeRuntime
from tests.emulator.images import publish
from tests.emulator.sql import rows

SPEC = (
    '{"spec": {"containers": [{"name": "web", "image": "/d/public/r/web:1"}], '
    '"endpoints": [{"name": "ui", "port": 8888, "public": true}]}}'
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def plane(tmp_path: Path):
    account = Account(admin_password="pw", state_dir=tmp_path)
    clock = Clock()
    runtime = FakeRuntime(initial_state="PENDING")
    cp = ControlPlane(account.state, runtime=runtime, ingress=FakeIngress(), profile="realistic", clock=clock)
    register_spcs(account, cp)
    session = account.login(LoginRequest(account="x", login_name="ADMIN", password="pw"))

    def sql(text: str):
        return account.execute(session, text)

    sql("CREATE SECURITY INTEGRATION I TYPE = OAUTH OAUTH_CLIENT = SNOWSERVICES_INGRESS ENABLED = TRUE")
    sql("CREATE DATABASE D")
    sql("CREATE IMAGE REPOSITORY R")
    repo = account.state.catalog.get("IMAGE REPOSITORY", ("D", "PUBLIC", "R"))
    from spcs_emulator.spcs import images

    images.publish(repo, images.parse_image("/d/public/r/web:1"), "jupyter", None, tmp_path)
    return account, cp, clock, runtime, sql


def state_of(sql, kind: str, name: str) -> str:
    result = sql(f"DESCRIBE {kind} {name}").as_dicts()[0]
    return result.get("state") or result["status"]


def test_pool_starts_then_idles_then_is_active_with_a_service(plane) -> None:
    _account, cp, clock, _runtime, sql = plane
    timing = PROFILES["realistic"]
    sql("CREATE COMPUTE POOL P MIN_NODES=1 MAX_NODES=1 INSTANCE_FAMILY=CPU_X64_XS")
    assert state_of(sql, "COMPUTE POOL", "P") == "STARTING"
    clock.now += timing.pool_start - 1
    cp.tick()
    assert state_of(sql, "COMPUTE POOL", "P") == "STARTING"
    clock.now += 1
    cp.tick()
    assert state_of(sql, "COMPUTE POOL", "P") == "IDLE"
    sql(f"CREATE SERVICE S IN COMPUTE POOL P FROM SPECIFICATION $${SPEC}$$")
    assert state_of(sql, "COMPUTE POOL", "P") == "ACTIVE"


def test_service_pending_running_endpoint_then_suspend(plane) -> None:
    _account, cp, clock, runtime, sql = plane
    timing = PROFILES["realistic"]
    sql("CREATE COMPUTE POOL P MIN_NODES=1 MAX_NODES=1 INSTANCE_FAMILY=CPU_X64_XS")
    sql(f"CREATE SERVICE S IN COMPUTE POOL P FROM SPECIFICATION $${SPEC}$$")
    assert state_of(sql, "SERVICE", "S") == "PENDING"
    clock.now += timing.pool_start + timing.service_schedule
    cp.tick()
    assert runtime.handles, "containers start once the pool is up and the service is scheduled"
    assert state_of(sql, "SERVICE", "S") == "PENDING"  # container not READY yet
    runtime.handles[0].state = "READY"
    cp.tick()
    assert state_of(sql, "SERVICE", "S") == "RUNNING"
    assert sql("SHOW ENDPOINTS IN SERVICE S").as_dicts()[0]["ingress_url"] == ENDPOINT_PROVISIONING_TEXT
    clock.now += timing.endpoint_provision
    cp.tick()
    assert sql("SHOW ENDPOINTS IN SERVICE S").as_dicts()[0]["ingress_url"].startswith("127.0.0.1:")
    sql("ALTER SERVICE S SUSPEND")
    assert state_of(sql, "SERVICE", "S") == "SUSPENDING"
    clock.now += timing.service_suspend
    cp.tick()
    assert state_of(sql, "SERVICE", "S") == "SUSPENDED"
    assert sql("SHOW ENDPOINTS IN SERVICE S").as_dicts()[0]["ingress_url"] == ENDPOINT_PROVISIONING_TEXT


def test_a_container_that_keeps_failing_fails_the_service(plane) -> None:
    _account, cp, clock, runtime, sql = plane
    sql("CREATE COMPUTE POOL P MIN_NODES=1 MAX_NODES=1 INSTANCE_FAMILY=CPU_X64_XS")
    sql(f"CREATE SERVICE S IN COMPUTE POOL P FROM SPECIFICATION $${SPEC}$$")
    clock.now += 10_000
    cp.tick()
    handle = runtime.handles[0]
    handle.state, handle.restarts = "FAILED", 3
    cp.tick()
    assert state_of(sql, "SERVICE", "S") == "FAILED"


def test_is_upgrading_from_alter_from_specification_until_the_new_spec_runs(plane, tmp_path: Path) -> None:
    account, cp, clock, runtime, sql = plane
    from spcs_emulator.spcs import images

    repo = account.state.catalog.get("IMAGE REPOSITORY", ("D", "PUBLIC", "R"))
    images.publish(repo, images.parse_image("/d/public/r/web:2"), "jupyter", None, tmp_path)
    sql("CREATE COMPUTE POOL P MIN_NODES=1 MAX_NODES=1 INSTANCE_FAMILY=CPU_X64_XS")
    sql(f"CREATE SERVICE S IN COMPUTE POOL P FROM SPECIFICATION $${SPEC}$$")
    clock.now += 10_000
    cp.tick()
    runtime.handles[0].state = "READY"
    cp.tick()
    before = sql("SHOW SERVICES LIKE 'S'").as_dicts()[0]
    assert (before["status"], before["is_upgrading"]) == ("RUNNING", "false")
    sql(f"ALTER SERVICE S FROM SPECIFICATION $${SPEC.replace('web:1', 'web:2')}$$")
    during = sql("SHOW SERVICES LIKE 'S'").as_dicts()[0]
    assert during["is_upgrading"] == "true"
    assert during["spec_digest"] != before["spec_digest"]
    clock.now += 10_000
    cp.tick()
    runtime.handles[-1].state = "READY"
    cp.tick()
    after = sql("SHOW SERVICES LIKE 'S'").as_dicts()[0]
    assert (after["status"], after["is_upgrading"]) == ("RUNNING", "false")


def test_the_control_api_requests_go_through_narrow_methods(plane) -> None:
    """fail_next_start, crash_container and publish_image: what control_api.py asks of the plane."""
    _account, cp, clock, runtime, sql = plane
    sql("CREATE COMPUTE POOL P MIN_NODES=1 MAX_NODES=1 INSTANCE_FAMILY=CPU_X64_XS")
    cp.fail_next_start("D.PUBLIC.BROKEN", "Injected start failure.")
    sql(f"CREATE SERVICE BROKEN IN COMPUTE POOL P FROM SPECIFICATION $${SPEC}$$")
    sql(f"CREATE SERVICE S IN COMPUTE POOL P FROM SPECIFICATION $${SPEC}$$")
    clock.now += 10_000
    cp.tick()
    assert state_of(sql, "SERVICE", "BROKEN") == "FAILED"
    assert state_of(sql, "SERVICE", "S") in ("PENDING", "RUNNING")  # the fault is used up by BROKEN
    cp.crash_container("PUBLIC.S", "web")
    assert runtime.handles[-1].restarts == 1
    with pytest.raises(NotFound, match="no running container 'nope' in instance 0 of service S"):
        cp.crash_container("S", "nope")
    with pytest.raises(NotFound, match=r"no image repository D\.PUBLIC\.NOPE"):
        cp.publish_image(images.parse_image("/d/public/nope/web:2"), "jupyter", None)
    published = cp.publish_image(images.parse_image("/d/public/r/web:2"), "milvus", None)
    assert (published.tag, published.runtime) == ("2", "milvus")


def test_realistic_profile_is_observed_by_a_polling_client(tmp_path: Path) -> None:
    """Scaled to 1/100: every intermediate state lasts long enough for a 20 ms poll to see it."""
    with Emulator(
        runtime=FakeRuntime(), ingress=FakeIngress(), profile="realistic", time_scale=0.01, state_dir=tmp_path
    ) as emu:
        conn = snowflake.connector.connect(**emu.connection_parameters())
        cur = conn.cursor()
        for sql in ("CREATE DATABASE D", "CREATE IMAGE REPOSITORY R"):
            cur.execute(sql)
        publish(emu, "x.registry.local/d/public/r/web:1", "jupyter")
        cur.execute(
            "CREATE SECURITY INTEGRATION I TYPE = OAUTH OAUTH_CLIENT = SNOWSERVICES_INGRESS ENABLED = TRUE"
        )
        cur.execute("CREATE COMPUTE POOL P MIN_NODES=1 MAX_NODES=1 INSTANCE_FAMILY=CPU_X64_XS")
        cur.execute(f"CREATE SERVICE S IN COMPUTE POOL P FROM SPECIFICATION $${SPEC}$$")
        seen: list[tuple[str, str, str]] = []

        def everything_up() -> Probe[None]:
            pool = rows(cur, "SHOW COMPUTE POOLS")[0]["state"]
            service = rows(cur, "DESCRIBE SERVICE S")[0]["status"]
            url = rows(cur, "SHOW ENDPOINTS IN SERVICE S")[0]["ingress_url"]
            observed = (pool, service, "placeholder" if url == ENDPOINT_PROVISIONING_TEXT else "url")
            if not seen or seen[-1] != observed:
                seen.append(observed)
            return Probe(observed[2] == "url", state=str(observed))

        wait_for(everything_up, what="pool, service and ingress URL", timeout=30, interval=0.02)
        conn.close()
    assert seen[0] == ("STARTING", "PENDING", "placeholder")
    assert ("ACTIVE", "RUNNING", "placeholder") in seen
    assert seen[-1] == ("ACTIVE", "RUNNING", "url")
