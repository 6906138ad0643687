"""Services with several instances, in the control plane (fake containers, the real connector).

Sources: docs sql-reference/sql/create-service (MIN_INSTANCES > 0, MAX_INSTANCES >= MIN_INSTANCES,
MIN_READY_INSTANCES <= MIN_INSTANCES), show-service-instances-in-service (a row per instance, its own
status and ip_address), system_functions/system_get_service_logs (logs by instance id), block-storage-
volume (each instance has its own block volume: snapshots name their instance). The emulator runs
MIN_INSTANCES instances; CPU-based autoscaling to MAX_INSTANCES is not emulated. The real runtimes
run several instances in tests/emulator/test_instances_processes.py and test_instances_docker.py.
"""

from __future__ import annotations

import ipaddress
import os

import pytest
from snowflake.connector.errors import ProgrammingError

from milvus_spcs.waits import Probe, wait_for
from spcs_emulator.emulator import Emulator
from spcs_emulator.spcs.addresses import AddressBlock
from tests.emulator.fakes import FakeHandle, FakeIngress, FakeRuntime
from tests.emulator.images import publish
from tests.emulator.sql import rows, wait_status

IMAGE = "/d/public/r/app:1"
SPEC = (
    f'{{"spec": {{"containers": [{{"name": "main", "image": "{IMAGE}", '
    '"volumeMounts": [{"name": "data", "mountPath": "/data"}]}], '
    '"endpoints": [{"name": "ui", "port": 8888, "public": true}], '
    '"volumes": [{"name": "data", "source": "block", "size": "1Gi", '
    '"blockConfig": {"snapshotOnDelete": false}}]}}'
)
FQN = ("D", "PUBLIC", "S")


def set_up(emu: Emulator, cur, instances: str = "MIN_INSTANCES = 2 MAX_INSTANCES = 3") -> None:
    for sql in (
        "CREATE DATABASE D",
        "CREATE IMAGE REPOSITORY D.PUBLIC.R",
        "CREATE COMPUTE POOL P MIN_NODES = 1 MAX_NODES = 1 INSTANCE_FAMILY = CPU_X64_XS",
    ):
        cur.execute(sql)
    publish(emu, IMAGE, "jupyter")
    cur.execute(f"CREATE SERVICE D.PUBLIC.S IN COMPUTE POOL P FROM SPECIFICATION $${SPEC}$$ {instances}")


def live_handles(emu: Emulator) -> list[FakeHandle]:
    runtime = emu.control.runtime
    assert isinstance(runtime, FakeRuntime)
    return [h for h in runtime.handles if not h.stopped]


def instances(cur) -> list[dict]:
    return rows(cur, "SHOW SERVICE INSTANCES IN SERVICE D.PUBLIC.S")


def wait_instances(cur, wanted: list[str]) -> list[dict]:
    """Until SHOW SERVICE INSTANCES lists ``wanted`` ids, all READY."""
    seen: list[dict] = []

    def probe() -> Probe[None]:
        seen[:] = instances(cur)
        listed = [(r["instance_id"], r["status"]) for r in seen]
        return Probe(listed == [(i, "READY") for i in wanted], state=str(listed))

    wait_for(probe, what=f"instances {wanted} to be READY", timeout=10, interval=0.05)
    return seen


def test_a_service_runs_min_instances_each_with_its_own_address_containers_and_volume(
    emulator: Emulator, admin
) -> None:
    set_up(emulator, admin)
    wait_status(admin, "D.PUBLIC.S", "RUNNING")
    listed = wait_instances(admin, ["0", "1"])
    launches = {h.launch.instance_id: h.launch for h in live_handles(emulator)}
    assert sorted(launches) == [0, 1]
    assert [r["ip_address"] for r in listed] == [launches[0].ip, launches[1].ip]
    assert launches[0].ip != launches[1].ip
    # A block volume per instance, as SPCS gives each instance its own.
    assert launches[0].volumes["/data"] != launches[1].volumes["/data"]
    (service,) = rows(admin, "SHOW SERVICES LIKE 'S' IN SCHEMA D.PUBLIC")
    assert (service["current_instances"], service["target_instances"]) == (2, 2)
    assert (service["min_instances"], service["max_instances"]) == (2, 3)
    containers = rows(admin, "SHOW SERVICE CONTAINERS IN SERVICE D.PUBLIC.S")
    assert [(c["instance_id"], c["instance_status"], c["container_name"]) for c in containers] == [
        ("0", "READY", "main"),
        ("1", "READY", "main"),
    ]


def test_dns_and_the_ingress_answer_with_the_ready_instances_only(emulator: Emulator, admin) -> None:
    set_up(emulator, admin)
    wait_status(admin, "D.PUBLIC.S", "RUNNING")
    wait_instances(admin, ["0", "1"])
    state = emulator.control.services[FQN]
    both = tuple(i.ip for i in state.instances)
    assert emulator.control.hosts()[state.dns_name] == both
    assert isinstance(emulator.control.ingress, FakeIngress)
    wait_for(
        lambda: Probe(bool(emulator.control.ingress.routes), state="no route"),
        what="the ingress route",
        timeout=5,
        interval=0.05,
    )
    (route,) = emulator.control.ingress.routes.values()
    assert route.targets is not None
    assert route.targets() == both
    # Instance 1's container stops answering its readiness probe: neither DNS nor the ingress send to it.
    (second,) = [h for h in live_handles(emulator) if h.launch.instance_id == 1]
    second.state = "PENDING"
    wait_for(
        lambda: Probe(route.targets() == both[:1], state=str(route.targets())),
        what="instance 1 to leave the ingress",
        timeout=5,
        interval=0.05,
    )
    assert emulator.control.hosts()[state.dns_name] == both[:1]
    assert [(r["instance_id"], r["status"]) for r in instances(admin)] == [("0", "READY"), ("1", "PENDING")]
    assert rows(admin, "DESCRIBE SERVICE D.PUBLIC.S")[0]["status"] == "RUNNING"  # MIN_READY_INSTANCES 1


def test_alter_service_set_min_instances_scales_out_and_in(emulator: Emulator, admin) -> None:
    set_up(emulator, admin, "MIN_INSTANCES = 1 MAX_INSTANCES = 3")
    wait_status(admin, "D.PUBLIC.S", "RUNNING")
    wait_instances(admin, ["0"])
    admin.execute("ALTER SERVICE D.PUBLIC.S SET MIN_INSTANCES = 3")
    wait_instances(admin, ["0", "1", "2"])
    assert sorted(h.launch.instance_id for h in live_handles(emulator)) == [0, 1, 2]
    admin.execute("ALTER SERVICE D.PUBLIC.S SET MIN_INSTANCES = 2")
    wait_instances(admin, ["0", "1"])
    assert sorted(h.launch.instance_id for h in live_handles(emulator)) == [0, 1]  # the highest id went
    admin.execute("ALTER SERVICE D.PUBLIC.S UNSET MIN_INSTANCES")
    wait_instances(admin, ["0"])
    (service,) = rows(admin, "SHOW SERVICES LIKE 'S' IN SCHEMA D.PUBLIC")
    assert (service["target_instances"], service["min_instances"], service["max_instances"]) == (1, 1, 3)
    events = rows(admin, "SELECT * FROM TABLE(D.PUBLIC.S!SPCS_GET_EVENTS())")
    terminating = [e for e in events if '"TERMINATING"' in e["EVENT_DETAILS"]]
    assert terminating, "scaling in records the instances' TERMINATING events"


def test_a_suspended_service_resumes_with_all_its_instances(emulator: Emulator, admin) -> None:
    set_up(emulator, admin)
    wait_instances(admin, ["0", "1"])
    admin.execute("ALTER SERVICE D.PUBLIC.S SUSPEND")
    wait_status(admin, "D.PUBLIC.S", "SUSPENDED")
    assert live_handles(emulator) == []
    admin.execute("ALTER SERVICE D.PUBLIC.S RESUME")
    wait_instances(admin, ["0", "1"])


def test_logs_are_per_instance(emulator: Emulator, admin) -> None:
    set_up(emulator, admin)
    wait_instances(admin, ["0", "1"])
    handles = {h.launch.instance_id: h for h in live_handles(emulator)}
    handles[1].crash()  # instance 1's container alone restarts
    logs = admin.execute("CALL SYSTEM$GET_SERVICE_LOGS('D.PUBLIC.S', '1', 'main')").fetchone()[0]
    assert logs == "current log of main"
    with pytest.raises(ProgrammingError) as missing:
        admin.execute("CALL SYSTEM$GET_SERVICE_LOGS('D.PUBLIC.S', '2', 'main')")
    assert "2" in missing.value.msg
    counts = {
        c["instance_id"]: c["restart_count"]
        for c in rows(admin, "SHOW SERVICE CONTAINERS IN SERVICE D.PUBLIC.S")
    }
    assert counts == {"0": 0, "1": 1}


@pytest.mark.parametrize(
    ("properties", "why"),
    [
        ("MIN_INSTANCES = 0", "MIN_INSTANCES must be > 0"),
        ("MIN_INSTANCES = 3 MAX_INSTANCES = 2", "MAX_INSTANCES >= MIN_INSTANCES"),
        ("MIN_INSTANCES = 1 MIN_READY_INSTANCES = 2", "MIN_READY_INSTANCES must be > 0 and <= MIN_INSTANCES"),
        ("MIN_INSTANCES = 11 MAX_INSTANCES = 11", "at most 10"),
    ],
)
def test_instance_counts_are_checked_before_anything_is_created(
    emulator: Emulator, admin, properties: str, why: str
) -> None:
    with pytest.raises(ProgrammingError) as refused:
        set_up(emulator, admin, properties)
    assert why in refused.value.msg
    assert rows(admin, "SHOW SERVICES IN ACCOUNT") == []


def test_unset_min_instances_below_min_ready_instances_is_refused(emulator: Emulator, admin) -> None:
    set_up(emulator, admin, "MIN_INSTANCES = 2 MAX_INSTANCES = 2 MIN_READY_INSTANCES = 2")
    with pytest.raises(ProgrammingError) as refused:
        admin.execute("ALTER SERVICE D.PUBLIC.S UNSET MIN_INSTANCES")
    assert "MIN_READY_INSTANCES" in refused.value.msg
    assert rows(admin, "SHOW SERVICES LIKE 'S' IN SCHEMA D.PUBLIC")[0]["min_instances"] == 2


def test_scaling_out_past_a_full_address_block_is_refused_before_the_catalog_changes(
    emulator: Emulator, admin
) -> None:
    fd = os.open(os.devnull, os.O_RDONLY)
    # Two addresses stand in for a /24 the account's services filled (release closes the descriptor).
    emulator.control._addresses = AddressBlock(ipaddress.IPv4Network("127.254.252.0/30"), fd)
    set_up(emulator, admin, "MIN_INSTANCES = 2 MAX_INSTANCES = 3")
    with pytest.raises(ProgrammingError) as refused:
        admin.execute("ALTER SERVICE D.PUBLIC.S SET MIN_INSTANCES = 3")
    assert (refused.value.errno, refused.value.sqlstate) == (391418, "54000")
    assert rows(admin, "SHOW SERVICES LIKE 'S' IN SCHEMA D.PUBLIC")[0]["min_instances"] == 2


def test_drop_force_backs_up_each_instances_block_volume(emulator: Emulator, admin) -> None:
    set_up(emulator, admin)
    admin.execute("DROP SERVICE D.PUBLIC.S FORCE")  # this spec's volume opts out of the backup
    spec = SPEC.replace('"snapshotOnDelete": false', '"snapshotOnDelete": true')
    admin.execute(
        f"CREATE SERVICE D.PUBLIC.T IN COMPUTE POOL P FROM SPECIFICATION $${spec}$$ MIN_INSTANCES = 2"
    )
    wait_status(admin, "D.PUBLIC.T", "RUNNING")
    admin.execute("DROP SERVICE D.PUBLIC.T FORCE")
    snapshots = rows(admin, "SHOW SNAPSHOTS IN SCHEMA D.PUBLIC")
    assert sorted(s["instance"] for s in snapshots) == [0, 1]


def test_one_role_cannot_take_every_address_with_instances(emulator: Emulator, admin) -> None:
    """With 10 instances a service, 26 services would fill the emulator's /24: a role holds 100
    addresses at most (the emulator's own quota), whether it creates services or scales them."""
    admin.execute("CREATE DATABASE D")
    admin.execute("CREATE IMAGE REPOSITORY D.PUBLIC.R")
    admin.execute(  # suspended, so nothing starts: only the addresses count
        "CREATE COMPUTE POOL P MIN_NODES = 1 MAX_NODES = 1 INSTANCE_FAMILY = CPU_X64_XS "
        "AUTO_RESUME = FALSE INITIALLY_SUSPENDED = TRUE"
    )
    publish(emulator, IMAGE, "jupyter")

    def create(name: str, instances: int) -> None:
        admin.execute(
            f"CREATE SERVICE D.PUBLIC.{name} IN COMPUTE POOL P FROM SPECIFICATION $${SPEC}$$ "
            f"MIN_INSTANCES = {instances} MAX_INSTANCES = 10"
        )

    for n in range(9):
        create(f"S{n}", 10)
    create("SMALL", 1)
    create("T", 9)  # 100 addresses: the most
    with pytest.raises(ProgrammingError) as refused:
        create("EXTRA", 1)
    assert (refused.value.errno, refused.value.sqlstate) == (391418, "54000")
    assert "ACCOUNTADMIN" in refused.value.msg
    with pytest.raises(ProgrammingError) as scaled:
        admin.execute("ALTER SERVICE D.PUBLIC.SMALL SET MIN_INSTANCES = 2")
    assert scaled.value.errno == 391418
    assert rows(admin, "SHOW SERVICES LIKE 'SMALL' IN SCHEMA D.PUBLIC")[0]["min_instances"] == 1
    assert len(rows(admin, "SHOW SERVICES IN SCHEMA D.PUBLIC")) == 11


@pytest.mark.parametrize(("min_ready", "running_after"), [("", 2), ("MIN_READY_INSTANCES = 1", 1)])
def test_a_service_runs_once_min_ready_instances_are_ready(
    emulator: Emulator, admin, min_ready: str, running_after: int
) -> None:
    """MIN_READY_INSTANCES defaults to MIN_INSTANCES (docs: create-service)."""
    runtime = emulator.control.runtime
    assert isinstance(runtime, FakeRuntime)
    runtime.initial_state = "PENDING"  # each instance's container comes up when the test says
    set_up(emulator, admin, f"MIN_INSTANCES = 2 MAX_INSTANCES = 2 {min_ready}")
    wait_for(
        lambda: Probe(len(live_handles(emulator)) == 2, state=str(len(live_handles(emulator)))),
        what="both instances launched",
        timeout=10,
        interval=0.05,
    )
    first, second = sorted(live_handles(emulator), key=lambda h: h.launch.instance_id)
    first.state = "READY"
    wait_instances_status = [("0", "READY"), ("1", "PENDING")]
    wait_for(
        lambda: Probe(
            [(r["instance_id"], r["status"]) for r in instances(admin)] == wait_instances_status, state=""
        ),
        what="instance 0 READY",
        timeout=10,
        interval=0.05,
    )
    if running_after == 1:
        wait_status(admin, "D.PUBLIC.S", "RUNNING")
        return
    assert rows(admin, "DESCRIBE SERVICE D.PUBLIC.S")[0]["status"] == "PENDING"
    second.state = "READY"
    wait_status(admin, "D.PUBLIC.S", "RUNNING")
