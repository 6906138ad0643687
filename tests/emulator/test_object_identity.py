"""What a service owns outside the catalog belongs to that object, never to its name (issue 16, items
4, 5 and 7), attacked through the real connector as a role holding only what its grants give:

- a service's volumes, logs and container folder go with it (DROP SERVICE, DROP DATABASE, reset, the
  emulator's stop): another role that creates the same names starts empty, never with the first
  owner's Milvus data;
- names that fold into one file or container name (``"X RUN DB"``, ``X_RUN_DB``) get folders and
  addresses of their own: the second never stops or wipes the first;
- one role cannot exhaust the service addresses, and a full address block is a SQL error before the
  catalog changes (no half-created service breaks SHOW SERVICES IN ACCOUNT for everyone).
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import snowflake.connector
from snowflake.connector.errors import ProgrammingError

from milvus_spcs.waits import Probe, wait_for
from spcs_emulator.emulator import Emulator
from spcs_emulator.spcs import runtime_kinds
from spcs_emulator.spcs.addresses import AddressBlock
from spcs_emulator.spcs.runtime import LocalContainer
from spcs_emulator.spcs.runtime_api import ContainerLaunch
from tests.emulator.fakes import FakeHandle, FakeIngress, FakeRuntime
from tests.emulator.images import publish
from tests.emulator.local_runtime import idle_plan
from tests.emulator.sql import rows, wait_status

IMAGE = "/shared/public/r/app:1"
PLAIN_SPEC = f'{{"spec": {{"containers": [{{"name": "main", "image": "{IMAGE}"}}]}}}}'
VOLUME_SPEC = (
    f'{{"spec": {{"containers": [{{"name": "main", "image": "{IMAGE}", '
    '"volumeMounts": [{"name": "data", "mountPath": "/var/lib/milvus"}]}], '
    '"volumes": [{"name": "data", "source": "block", "size": "10Gi", '
    '"blockConfig": {"snapshotOnDelete": false}}]}}'
)
MALLORY_PASSWORD = "mallory-pw"


def set_up_account(
    emu: Emulator, cur, pool: str = "CREATE COMPUTE POOL P MIN_NODES=1 MAX_NODES=1 INSTANCE_FAMILY=CPU_X64_XS"
) -> None:
    """A shared image repository and pool, and MALLORY, whose role ATTACKER may only create databases
    and use the pool and the image (what a harness run's role holds)."""
    for sql in (
        "CREATE DATABASE SHARED",
        "CREATE IMAGE REPOSITORY SHARED.PUBLIC.R",
        pool,
        "CREATE ROLE ATTACKER",
        "GRANT CREATE DATABASE ON ACCOUNT TO ROLE ATTACKER",
        "GRANT USAGE ON COMPUTE POOL P TO ROLE ATTACKER",
        "GRANT USAGE ON DATABASE SHARED TO ROLE ATTACKER",
        "GRANT USAGE ON SCHEMA SHARED.PUBLIC TO ROLE ATTACKER",
        "GRANT READ ON IMAGE REPOSITORY SHARED.PUBLIC.R TO ROLE ATTACKER",
        f"CREATE USER MALLORY PASSWORD = '{MALLORY_PASSWORD}' DEFAULT_ROLE = ATTACKER",
        "GRANT ROLE ATTACKER TO USER MALLORY",
    ):
        cur.execute(sql)
    publish(emu, IMAGE, "jupyter")


def mallory(emu: Emulator, **extra) -> snowflake.connector.SnowflakeConnection:
    params = emu.connection_parameters(user="mallory", password=MALLORY_PASSWORD)
    return snowflake.connector.connect(**{**params, **extra})


def launches_of(emu: Emulator, service: str) -> list[ContainerLaunch]:
    runtime = emu.control.runtime
    assert isinstance(runtime, FakeRuntime)
    return [h.launch for h in runtime.handles if isinstance(h, FakeHandle) and h.launch.service == service]


def wait_gone(path: Path) -> None:
    wait_for(
        lambda: Probe(
            not path.exists(), state=str(sorted(p.name for p in path.iterdir())) if path.exists() else ""
        ),
        what=f"{path} to be removed",
        # Removal follows the container's stop (its processes' grace period), which under a loaded
        # `pytest -n 4` took over 5 s once: a deadline, not a delay.
        timeout=30,
        interval=0.05,
    )


# -- item 4: data outlive their service -----------------------------------------------------------


@pytest.mark.parametrize(
    "drop",
    [
        ["DROP SERVICE X.PUBLIC.MILVUS FORCE", "DROP DATABASE X"],
        ["DROP DATABASE X"],  # the cascade drops the service through its own kind
    ],
)
def test_a_service_created_again_under_a_dropped_ones_name_starts_with_empty_volumes(
    emulator: Emulator, admin, drop: list[str]
) -> None:
    set_up_account(emulator, admin)
    admin.execute("CREATE DATABASE X")
    admin.execute(f"CREATE SERVICE X.PUBLIC.MILVUS IN COMPUTE POOL P FROM SPECIFICATION $${VOLUME_SPEC}$$")
    wait_status(admin, "X.PUBLIC.MILVUS", "RUNNING")
    [first] = launches_of(emulator, "X.PUBLIC.MILVUS")
    volume = first.volumes["/var/lib/milvus"]
    (volume / "collection.db").write_text("the first owner's vectors")
    for sql in drop:
        admin.execute(sql)
    wait_gone(volume)  # the folder goes with the service (it used to stay: a disk leak on every run)

    with mallory(emulator) as conn:  # another role takes the same names
        cur = conn.cursor()
        cur.execute("CREATE DATABASE X")
        cur.execute(f"CREATE SERVICE X.PUBLIC.MILVUS IN COMPUTE POOL P FROM SPECIFICATION $${VOLUME_SPEC}$$")
        wait_status(cur, "X.PUBLIC.MILVUS", "RUNNING")
    [_, second] = launches_of(emulator, "X.PUBLIC.MILVUS")
    again = second.volumes["/var/lib/milvus"]
    assert again != volume
    assert list(again.iterdir()) == [], "the new service's volume holds the dropped service's data"


def test_volumes_survive_suspend_resume_and_an_upgrade_and_go_with_a_reset(emulator: Emulator, admin) -> None:
    set_up_account(emulator, admin)
    admin.execute("CREATE DATABASE X")
    admin.execute(f"CREATE SERVICE X.PUBLIC.MILVUS IN COMPUTE POOL P FROM SPECIFICATION $${VOLUME_SPEC}$$")
    wait_status(admin, "X.PUBLIC.MILVUS", "RUNNING")
    volume = launches_of(emulator, "X.PUBLIC.MILVUS")[0].volumes["/var/lib/milvus"]
    (volume / "kept").write_text("kept")
    admin.execute("ALTER SERVICE X.PUBLIC.MILVUS SUSPEND")
    wait_status(admin, "X.PUBLIC.MILVUS", "SUSPENDED")
    admin.execute("ALTER SERVICE X.PUBLIC.MILVUS RESUME")
    wait_status(admin, "X.PUBLIC.MILVUS", "RUNNING")
    admin.execute(f"ALTER SERVICE X.PUBLIC.MILVUS FROM SPECIFICATION $${VOLUME_SPEC}$$")
    wait_status(admin, "X.PUBLIC.MILVUS", "RUNNING")
    launches = launches_of(emulator, "X.PUBLIC.MILVUS")
    assert len(launches) == 3
    assert {launch.volumes["/var/lib/milvus"] for launch in launches} == {volume}
    assert (volume / "kept").read_text() == "kept"
    emulator.reset()
    wait_gone(volume)


def test_the_emulator_takes_its_services_files_along_when_it_stops(tmp_path: Path) -> None:
    state = tmp_path / "state"
    with Emulator(runtime=FakeRuntime(), ingress=FakeIngress(), state_dir=state) as emu:
        conn = snowflake.connector.connect(**emu.connection_parameters())
        cur = conn.cursor()
        set_up_account(emu, cur)
        cur.execute(f"CREATE SERVICE SHARED.PUBLIC.M IN COMPUTE POOL P FROM SPECIFICATION $${VOLUME_SPEC}$$")
        wait_status(cur, "SHARED.PUBLIC.M", "RUNNING")
        volume = launches_of(emu, "SHARED.PUBLIC.M")[0].volumes["/var/lib/milvus"]
        (volume / "data").write_text("x")
        conn.close()
    assert not volume.exists()
    # What a killed emulator left (it cleaned nothing up) goes when the next one claims the directory.
    left = state / "volumes" / "s1" / "data"
    left.mkdir(parents=True)
    with Emulator(runtime=FakeRuntime(), ingress=FakeIngress(), state_dir=state):
        assert not left.exists()


# -- item 5: names that fold together ---------------------------------------------------------------


@pytest.fixture
def local_emulator(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Emulator]:
    """An emulator with the real process runtime, whose image runs ``idle_plan``."""
    monkeypatch.setitem(runtime_kinds.PLANNERS, "jupyter", idle_plan)
    with Emulator(ingress=FakeIngress(), state_dir=tmp_path / "state") as emu:
        yield emu


def container(emu: Emulator, fqn: tuple[str, ...]) -> LocalContainer:
    with emu.account.state.lock:
        handle = emu.control.services[fqn].instances[0].containers["main"]
    assert isinstance(handle, LocalContainer)
    return handle


def test_a_name_that_folds_into_anothers_never_stops_or_wipes_its_container(local_emulator: Emulator) -> None:
    emu = local_emulator
    victim_fqn, attacker_fqn = ("X RUN DB", "PUBLIC", "MILVUS"), ("X_RUN_DB", "PUBLIC", "MILVUS")
    with snowflake.connector.connect(**emu.connection_parameters()) as conn:
        admin = conn.cursor()
        set_up_account(emu, admin)
        admin.execute('CREATE DATABASE "X RUN DB"')
        admin.execute(
            f'CREATE SERVICE "X RUN DB".PUBLIC.MILVUS IN COMPUTE POOL P FROM SPECIFICATION $${PLAIN_SPEC}$$'
        )
        wait_status(admin, '"X RUN DB".PUBLIC.MILVUS', "RUNNING", timeout=20)
        victim = container(emu, victim_fqn)
        wait_for(
            lambda: Probe(victim.status()[0] == "READY", state=str(victim.status())),
            what="the victim's container",
            timeout=20,
            interval=0.05,
        )
        notes = victim.dirs.cwd / "notes.txt"
        notes.write_text("the victim's work")

        with mallory(emu) as attacker_conn:  # a role that may only create databases
            cur = attacker_conn.cursor()
            cur.execute("CREATE DATABASE X_RUN_DB")
            cur.execute(
                f"CREATE SERVICE X_RUN_DB.PUBLIC.MILVUS IN COMPUTE POOL P FROM SPECIFICATION $${PLAIN_SPEC}$$"
            )
            wait_status(cur, "X_RUN_DB.PUBLIC.MILVUS", "RUNNING", timeout=20)
            attacker = container(emu, attacker_fqn)
            # It used to be stopped (SHOW SERVICES still said RUNNING) and its folder wiped.
            assert victim.status()[0] == "READY", victim.status()
            assert notes.read_text() == "the victim's work"
            assert attacker.dirs.root != victim.dirs.root
            assert not attacker.dirs.root.is_relative_to(victim.dirs.root)
            with emu.account.state.lock:
                assert emu.control.services[attacker_fqn].ip != emu.control.services[victim_fqn].ip

            # Its DROP takes its own folders along, and nothing of the victim's.
            logs = attacker.launch.log_dir.parent
            cur.execute("DROP SERVICE X_RUN_DB.PUBLIC.MILVUS")
            wait_gone(attacker.dirs.root)
            wait_gone(logs)
        assert victim.status()[0] == "READY", victim.status()
        assert notes.read_text() == "the victim's work"
        assert victim.launch.log_dir.is_dir()


def test_a_name_that_folds_into_anothers_dns_name_is_refused(emulator: Emulator, admin) -> None:
    """The DNS name (and the ingress route keyed by it) of one service is never another's: in a schema
    two roles share, ``"note-book"`` would take over NOTE_BOOK's name (SPCS has no quoted names)."""
    set_up_account(emulator, admin)
    admin.execute("GRANT CREATE SERVICE ON SCHEMA SHARED.PUBLIC TO ROLE ATTACKER")
    admin.execute(
        f"CREATE SERVICE SHARED.PUBLIC.NOTE_BOOK IN COMPUTE POOL P FROM SPECIFICATION $${PLAIN_SPEC}$$"
    )
    hosts = emulator.control.hosts()
    with mallory(emulator) as conn, pytest.raises(ProgrammingError) as refused:
        conn.cursor().execute(
            f'CREATE SERVICE SHARED.PUBLIC."note-book" IN COMPUTE POOL P FROM SPECIFICATION $${PLAIN_SPEC}$$'
        )
    assert (refused.value.errno, refused.value.sqlstate) == (2043, "22023")
    assert "NOTE_BOOK" in refused.value.msg
    assert emulator.control.hosts() == hosts
    assert [r["name"] for r in rows(admin, "SHOW SERVICES IN SCHEMA SHARED.PUBLIC")] == ["NOTE_BOOK"]


# -- item 7: exhaustion through a suspended pool ----------------------------------------------------

SUSPENDED_POOL = (
    "CREATE COMPUTE POOL P MIN_NODES=1 MAX_NODES=1 INSTANCE_FAMILY=CPU_X64_XS "
    "AUTO_RESUME = FALSE INITIALLY_SUSPENDED = TRUE"
)


def test_one_role_cannot_take_every_service_address(emulator: Emulator, admin) -> None:
    set_up_account(emulator, admin, pool=SUSPENDED_POOL)
    with mallory(emulator, request_timeout=20) as conn:
        cur = conn.cursor()
        cur.execute("CREATE DATABASE M")
        for n in range(100):
            cur.execute(f"CREATE SERVICE M.PUBLIC.S{n} IN COMPUTE POOL P FROM SPECIFICATION $${PLAIN_SPEC}$$")
        with pytest.raises(ProgrammingError) as refused:
            cur.execute(f"CREATE SERVICE M.PUBLIC.S100 IN COMPUTE POOL P FROM SPECIFICATION $${PLAIN_SPEC}$$")
        assert (refused.value.errno, refused.value.sqlstate) == (391418, "54000")
        assert "ATTACKER" in refused.value.msg
        assert len(rows(cur, "SHOW SERVICES IN ACCOUNT")) == 100
    admin.execute("CREATE DATABASE OURS")  # everybody else still creates services
    admin.execute(f"CREATE SERVICE OURS.PUBLIC.S IN COMPUTE POOL P FROM SPECIFICATION $${PLAIN_SPEC}$$")


def test_a_full_address_block_refuses_create_service_before_the_catalog_changes(
    emulator: Emulator, admin
) -> None:
    fd = os.open(os.devnull, os.O_RDONLY)
    # A block of two addresses stands in for a /24 that 254 services filled (AddressBlock.release
    # closes the descriptor at shutdown).
    emulator.control._addresses = AddressBlock(ipaddress.IPv4Network("127.254.253.0/30"), fd)
    set_up_account(emulator, admin, pool=SUSPENDED_POOL)
    admin.execute("CREATE DATABASE M")
    for n in range(2):
        admin.execute(f"CREATE SERVICE M.PUBLIC.S{n} IN COMPUTE POOL P FROM SPECIFICATION $${PLAIN_SPEC}$$")
    with mallory(emulator, request_timeout=20) as conn:
        cur = conn.cursor()
        cur.execute("CREATE DATABASE Y")
        with pytest.raises(ProgrammingError) as refused:
            cur.execute(f"CREATE SERVICE Y.PUBLIC.S IN COMPUTE POOL P FROM SPECIFICATION $${PLAIN_SPEC}$$")
        assert (refused.value.errno, refused.value.sqlstate) == (391418, "54000")
        assert rows(cur, "SHOW SERVICES IN SCHEMA Y.PUBLIC") == []  # nothing half-created
    # What janitor and down list still answers.
    assert sorted(r["name"] for r in rows(admin, "SHOW SERVICES IN ACCOUNT")) == ["S0", "S1"]
    admin.execute("DROP SERVICE M.PUBLIC.S0")  # its address is free again once it has stopped

    def created() -> Probe[None]:
        try:
            admin.execute(f"CREATE SERVICE M.PUBLIC.S2 IN COMPUTE POOL P FROM SPECIFICATION $${PLAIN_SPEC}$$")
        except ProgrammingError as exc:
            return Probe(False, state=exc.msg)
        return Probe(True)

    wait_for(created, what="an address to be free again", timeout=5, interval=0.05)
