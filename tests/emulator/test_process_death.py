"""However the emulator dies, its containers die with it; a new emulator reaps what an old one left.

The SIGKILL drill runs the real `milvus-spcs emulator` in a subprocess with a Milvus Lite service and a
Jupyter service whose kernel runs and whose notebook started a detached process (a session of its own,
its parent gone): exactly the processes a parent-death signal would miss.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import requests
import snowflake.connector

from milvus_spcs.jupyter_client import JupyterOverIngress
from milvus_spcs.target import token_of
from milvus_spcs.waits import Probe, wait_for
from spcs_emulator.emulator import Emulator
from spcs_emulator.spcs.leftovers import StateDirInUse, records_dir
from spcs_emulator.spcs.lifecycle import ENDPOINT_PROVISIONING_TEXT
from spcs_emulator.spcs.processes import Lifeline, descendants, is_alive, start_time, write_record
from tests.emulator.cli_emulator import CliEmulator, kill_all, start_cli
from tests.emulator.sql import rows, wait_status

pytestmark = pytest.mark.slow
LITE_PORT = 19547
JUPYTER_PORT = 8897
LITE_SPEC = (
    '{"spec": {"containers": [{"name": "db", "image": "/d/public/r/lite:1"}], '
    f'"endpoints": [{{"name": "grpc", "port": {LITE_PORT}, "protocol": "TCP"}}]}}}}'
)
JUPYTER_SPEC = (
    '{"spec": {"containers": [{"name": "nb", "image": "/d/public/r/nb:1"}], '
    f'"endpoints": [{{"name": "ui", "port": {JUPYTER_PORT}, "public": true}}]}}}}'
)
DETACHED_MARK = "spcs-detached-child"
# Containers have a pid namespace of their own: the child is found by its command line, not by the pid
# it has inside.
DETACHED = (
    "import subprocess, sys\n"
    "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)', "
    f"'{DETACHED_MARK}'], start_new_session=True)\n"
    "print(p.pid)\n"
)


def port_is_free(port: int) -> bool:
    """No listener on ``port`` on any address (binding the wildcard clashes with each of them)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("0.0.0.0", port))
        except OSError:
            return False
    return True


def start_services(cli: CliEmulator, conn: snowflake.connector.SnowflakeConnection) -> str:
    """Milvus Lite and Jupyter RUNNING; returns the ingress host of Jupyter."""
    cur = conn.cursor()
    for sql in (
        "CREATE SECURITY INTEGRATION SNOWSERVICES_INGRESS_OAUTH TYPE = OAUTH "
        "OAUTH_CLIENT = SNOWSERVICES_INGRESS ENABLED = TRUE",
        "CREATE DATABASE D",
        "CREATE IMAGE REPOSITORY R",
        "CREATE COMPUTE POOL P MIN_NODES=1 MAX_NODES=1 INSTANCE_FAMILY=CPU_X64_XS",
    ):
        cur.execute(sql)
    url = rows(cur, "SHOW IMAGE REPOSITORIES")[0]["repository_url"]
    cli.publish(f"{url}/lite:1", "milvus-lite")
    cli.publish(f"{url}/nb:1", "jupyter")
    cur.execute(f"CREATE SERVICE LITE IN COMPUTE POOL P FROM SPECIFICATION $${LITE_SPEC}$$")
    cur.execute(f"CREATE SERVICE NB IN COMPUTE POOL P FROM SPECIFICATION $${JUPYTER_SPEC}$$")
    wait_status(cur, "LITE", "RUNNING", timeout=120)
    wait_status(cur, "NB", "RUNNING", timeout=120)

    def ingress() -> Probe[str]:
        host = rows(cur, "SHOW ENDPOINTS IN SERVICE NB")[0]["ingress_url"]
        return Probe(host != ENDPOINT_PROVISIONING_TEXT, host, state=host)

    host = wait_for(ingress, what="the Jupyter ingress URL", timeout=30, interval=0.1)
    assert host is not None
    return host


def test_sigkilled_emulator_leaves_no_process_port_or_temp_dir(
    tmp_path: Path, cli_emulators: list[CliEmulator]
) -> None:
    cli = start_cli(tmp_path)
    cli_emulators.append(cli)
    state_dir = cli.state_dir()
    assert state_dir.is_relative_to(tmp_path / "tmp"), "a temporary state directory"
    with cli.connect() as conn:
        host = start_services(cli, conn)
        token = token_of(conn)
        JupyterOverIngress(f"http://{host}", token).run(DETACHED)
        # That kernel is shut down; its detached child stays, orphaned. Another kernel keeps running.
        kernel = requests.post(
            f"http://{host}/api/kernels",
            json={"name": "python3"},
            headers={"Authorization": f'Snowflake Token="{token}"', "X-XSRFToken": "x", "Cookie": "_xsrf=x"},
            timeout=60,
        )
        assert kernel.status_code == 201, kernel.text

    def cmdline(pid: int) -> bytes:
        try:
            return Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:  # it exited meanwhile
            return b""

    def kernel_running() -> Probe[list[int]]:
        pids = descendants(cli.proc.pid)
        kernels = [p for p in pids if b"ipykernel" in cmdline(p)]
        return Probe(bool(kernels), pids, state=f"{len(pids)} processes")

    tree = wait_for(kernel_running, what="a running kernel", timeout=60, interval=0.1) or []
    [detached] = [p for p in tree if DETACHED_MARK.encode() in cmdline(p)]
    assert not port_is_free(LITE_PORT)
    assert not port_is_free(JUPYTER_PORT)
    everything = [cli.proc.pid, *tree, detached]

    cli.proc.send_signal(signal.SIGKILL)
    cli.proc.wait(timeout=10)

    def all_gone() -> Probe[None]:
        alive = [p for p in everything if is_alive(p)]
        ports = [p for p in (LITE_PORT, JUPYTER_PORT) if not port_is_free(p)]
        done = not alive and not ports and not state_dir.exists()
        return Probe(done, None, state=f"alive={alive} busy ports={ports} state dir={state_dir.exists()}")

    try:
        wait_for(all_gone, what="the emulator's processes, ports and temp dir gone", timeout=15, interval=0.1)
    finally:
        kill_all(everything)


def test_a_new_emulator_reaps_what_a_killed_one_left(tmp_path: Path) -> None:
    state = tmp_path / "state"
    container = state / "containers" / "D.PUBLIC.LITE-0-db"
    container.mkdir(parents=True)
    (container / "leftover.txt").write_text("x")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # A container that outlived its emulator and its watchdog: a listener with a child in a session of
    # its own; and a process whose pid a record names with another start time (the pid was reused).
    leftover = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import socket, subprocess, sys, time\n"
            f"s = socket.create_server(('127.0.0.1', {port}))\n"
            "c = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'],"
            " start_new_session=True)\n"
            "print(c.pid, flush=True)\n"
            "time.sleep(600)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        assert leftover.stdout is not None
        grandchild = int(leftover.stdout.readline())
        write_record(records_dir(state), leftover.pid, container)
        reused = write_record(records_dir(state), bystander.pid, None)
        record = json.loads(reused.read_text())
        assert record["start"] == start_time(bystander.pid)
        reused.write_text(json.dumps({**record, "start": 1}))
        (state / "run" / "emulator.pid").write_text('{"pid": 999999999}\n')  # a dead emulator's pidfile
        assert not port_is_free(port)

        emulator = Emulator(state_dir=state).start()
        try:
            with pytest.raises(StateDirInUse, match="in use by another running emulator"):
                Emulator(state_dir=state).start()
            leftover.wait(timeout=10)
            assert not is_alive(grandchild)
            assert port_is_free(port)
            assert not container.exists()
            assert list(records_dir(state).iterdir()) == []
            assert bystander.poll() is None, "a process that only reuses a recorded pid is not touched"
        finally:
            emulator.stop()
    finally:
        kill_all([leftover.pid, bystander.pid])
        leftover.wait(timeout=10)
        bystander.wait(timeout=10)


def test_state_dir_is_created_private(tmp_path: Path, cli_emulators: list[CliEmulator]) -> None:
    state = tmp_path / "new" / "state"
    cli = start_cli(tmp_path, "--state-dir", str(state))
    cli_emulators.append(cli)
    assert cli.state_dir() == state
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    assert stat.S_IMODE((state / "run").stat().st_mode) == 0o700

    second = start_cli(tmp_path, "--state-dir", str(state))
    cli_emulators.append(second)
    assert second.proc.wait(timeout=60) == 1
    assert second.reader is not None
    second.reader.join(timeout=10)
    refusal = "".join(second.lines)
    assert f"state directory {state} is in use by another running emulator" in refusal
    assert "Traceback" not in refusal


# -- the watchdog alone (no emulator): what a broken lifeline ends, and what passes through ------


STUBBORN = (
    "import signal, subprocess, sys, time\n"
    "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    "daemon = 'import os, time\\nif os.fork(): os._exit(0)\\ntime.sleep(600)'\n"
    "d = subprocess.Popen([sys.executable, '-c', daemon], start_new_session=True)\n"
    "d.wait()\n"  # the daemon's parent is gone: the daemon is an orphan in a session of its own
    "print('ready', flush=True)\n"
    "time.sleep(600)\n"
)


def test_a_broken_lifeline_ends_orphans_and_processes_that_ignore_sigterm(tmp_path: Path) -> None:
    records, root = tmp_path / "records", tmp_path / "container"
    (root / "fs").mkdir(parents=True)
    (root / "fs" / "password").write_text("hunter2")
    lifeline = Lifeline(records)
    proc = lifeline.popen(
        [sys.executable, "-c", STUBBORN],
        cwd=tmp_path,
        env={"PATH": os.environ["PATH"], "SECRET_VALUE": "hunter2"},
        stdout=subprocess.PIPE,
        root=root,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline() == b"ready\n"
    tree = descendants(proc.pid)
    try:
        assert len(tree) == 2, "the main process and the orphaned daemon, both below the watchdog"
        assert b"hunter2" not in Path(f"/proc/{proc.pid}/cmdline").read_bytes()
        assert b"hunter2" not in Path(f"/proc/{proc.pid}/environ").read_bytes()
        lifeline.close()  # as when the emulator dies: the write end is closed by the kernel
        assert proc.wait(timeout=15) == 128 + signal.SIGKILL  # the main process ignored SIGTERM
        assert not root.exists(), "the container's directory (and its secrets) went with it"
        assert list(records.iterdir()) == []
        wait_for(
            lambda: Probe(not any(is_alive(p) for p in tree), None, str(tree)),
            what="the whole tree gone",
            timeout=5,
            interval=0.05,
        )
    finally:
        kill_all([proc.pid, *tree])


def test_the_watchdog_passes_the_exit_code_and_closes_its_lifeline_fd(tmp_path: Path) -> None:
    lifeline = Lifeline()
    try:
        code = "import os, sys; sys.exit(len(os.listdir('/proc/self/fd')))"  # 0, 1, 2 and listdir's own
        proc = lifeline.popen([sys.executable, "-c", code], cwd=tmp_path, env={})
        assert proc.wait(timeout=30) == 4
        proc = lifeline.popen(
            ["/nonexistent/command"], cwd=tmp_path, env={}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        out, _ = proc.communicate(timeout=30)
        assert (proc.returncode, b"cannot start /nonexistent/command" in out) == (127, True)
    finally:
        lifeline.close()


@pytest.mark.parametrize("mode", [0o1777, 0o777])
def test_a_shared_state_dir_is_refused_and_left_as_it_was(tmp_path: Path, mode: int) -> None:
    """`--state-dir /tmp` (as root) used to lose its sticky bit to a chmod 0700 and gain a run/ folder."""
    from spcs_emulator.emulator import Emulator, SharedStateDir

    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(mode)
    with pytest.raises(SharedStateDir, match="shared"):
        Emulator(state_dir=shared, with_runtime=False)
    assert stat.S_IMODE(shared.stat().st_mode) == mode
    assert list(shared.iterdir()) == []


def test_an_existing_private_state_dir_of_ours_is_tightened(tmp_path: Path) -> None:
    from spcs_emulator.emulator import Emulator

    mine = tmp_path / "mine"
    mine.mkdir(mode=0o755)
    mine.chmod(0o755)
    Emulator(state_dir=mine, with_runtime=False)
    assert stat.S_IMODE(mine.stat().st_mode) == 0o700


@pytest.mark.parametrize("on_the_command_line", [True, False])
def test_an_admin_password_on_the_command_line_is_warned_about(
    tmp_path: Path, cli_emulators: list[CliEmulator], on_the_command_line: bool
) -> None:
    """Issue 16, item 19: a notebook cell read --admin-password through its parents' cmdline."""
    args = ("--admin-password", "typed-where-ps-shows-it") if on_the_command_line else ()
    cli = start_cli(tmp_path, *args)
    cli_emulators.append(cli)
    cli.entry()
    warned = "readable by every local user" in "".join(cli.lines)
    assert warned is on_the_command_line
