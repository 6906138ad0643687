"""A container writes only its own directories and volumes, and sees nothing of the emulator's.

The red team's attack (issue 16, item 1): containers ran as the emulator's uid, root here, so a
notebook cell could open ``spcs_emulator/spcs/watchdog.py`` for writing (owner bits: dropped
capabilities do not matter), insert code and kill its own Jupyter server; the runtime then restarted
the container through the rewritten watchdog, as root with every capability, and the inserted code
read the emulator's environment (the admin password). Every container now runs in a bubblewrap
sandbox (``spcs_emulator.spcs.confinement``).

These tests start real containers: run them under the shared lock (flock /tmp/heavy.lock).
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
from pathlib import Path

import pytest

import milvus_spcs
from spcs_emulator.emulator import Emulator
from spcs_emulator.spcs import confinement, watchdog
from spcs_emulator.spcs.runtime import default_cache_dir
from tests.emulator.services import (
    JUPYTER_SPEC,
    LITE_SPEC,
    container_of,
    create_service,
    notebook_over_ingress,
)
from tests.emulator.sql import wait_status

ATTACK = """
import json, os, re
targets = json.loads(TARGETS)
found = {"write": {}, "read": {}}
for name, path in targets["write"].items():
    try:
        with open(path, "a"):  # opened for writing is enough; nothing is written should it open
            pass
        found["write"][name] = "opened for writing"
    except OSError as exc:
        found["write"][name] = "refused: %s" % exc
for name, path in targets["read"].items():
    try:
        seen = os.listdir(path) if os.path.isdir(path) else open(path).read()[:20]
        found["read"][name] = "read: %s" % seen
    except OSError as exc:
        found["read"][name] = "refused: %s" % exc
found["processes"] = sorted(
    open("/proc/%s/cmdline" % p, "rb").read().replace(b"\\0", b" ").decode()[:80]
    for p in os.listdir("/proc") if p.isdigit()
)
status = open("/proc/self/status").read()
found["bounding"] = re.search(r"CapBnd:\\s+(\\w+)", status).group(1)
found["no_new_privs"] = re.search(r"NoNewPrivs:\\s+(\\w+)", status).group(1)
found["run"] = os.listdir("/run")
with open(os.path.join(os.environ["HOME"], "mine.txt"), "w") as fh:
    fh.write("its own home is writable")
found["own home"] = open(os.path.join(os.environ["HOME"], "mine.txt")).read()
print(json.dumps(found))
"""


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def require_sandbox() -> None:
    """A root emulator without a sandbox is a broken install (it refuses containers), not a skip."""
    why = confinement.problem()
    if why is None:
        return
    if confinement.required():
        pytest.fail(f"the emulator runs as root and cannot confine containers: {why}")
    pytest.skip(f"no sandbox for an unprivileged user here (containers run unconfined): {why}")


def hidden_home_entries(home: Path) -> set[str]:
    """What of ``home`` a container may list: only the way down to what comes back read-only."""
    readable = confinement.for_container(writable=[], private=[], readable=[default_cache_dir()]).readable
    return {p.relative_to(home).parts[0] for p in readable if p.is_relative_to(home) and p != home}


def test_a_notebook_cell_can_write_nothing_the_emulator_or_another_container_runs_or_reads(
    emulators: list[Emulator], tmp_path: Path
) -> None:
    require_sandbox()
    emu = Emulator(state_dir=tmp_path / "state").start()
    emulators.append(emu)
    conn = create_service(emu, "LITE", LITE_SPEC, "milvus-lite")
    create_service(emu, "NOTEBOOK", JUPYTER_SPEC, "jupyter").close()
    cur = conn.cursor()
    wait_status(cur, "DB.PUBLIC.LITE", "RUNNING", timeout=120)
    wait_status(cur, "DB.PUBLIC.NOTEBOOK", "RUNNING", timeout=120)
    other = container_of(emu, "LITE")
    executed = {
        "the watchdog": Path(watchdog.__file__).resolve(),
        "the harness's sources": Path(milvus_spcs.__file__).resolve(),
        "the standard library": Path(os.__file__).resolve(),
    }
    before = {name: digest(path) for name, path in executed.items()}
    targets = {
        "write": {name: str(path) for name, path in executed.items()}
        | {"another container's files": str(other.dirs.cwd.resolve() / "planted.py")},
        "read": {
            "another container's session token": str(other.dirs.fs / "snowflake/session/token"),
            "the emulator's state directory": str(emu.state_dir.resolve()),
            "another container's directory": str(other.dirs.root.resolve()),
            "the emulator user's home": str(Path.home()),
        },
    }
    notebook = notebook_over_ingress(conn, "NOTEBOOK")
    cell = ATTACK.replace("TARGETS", repr(json.dumps(targets)))
    found = json.loads(notebook.run(cell)[0])
    conn.close()

    assert found["own home"] == "its own home is writable"  # the sandbox is not simply read-only
    for name, answer in found["write"].items():
        assert answer.startswith("refused"), f"a cell wrote {name}: {answer}"
    assert {name: digest(executed[name]) for name in before} == before
    assert not (other.dirs.cwd / "planted.py").exists()
    assert found["read"]["another container's session token"].startswith("refused"), found["read"]
    # Only the path down to its own directory exists there (no logs, volumes, stages, records).
    assert found["read"]["the emulator's state directory"] == "read: ['containers']", found["read"]
    assert found["read"]["another container's directory"].startswith("refused"), found["read"]
    # connections.toml with the admin password, shell histories, keys: only the Python installation's
    # way down is there
    home = found["read"]["the emulator user's home"]
    assert home.startswith("read: "), home
    assert set(ast.literal_eval(home.removeprefix("read: "))) <= hidden_home_entries(Path.home()), home
    assert found["run"] == [], "the host's /run (the Docker socket) reached the container"
    assert found["bounding"] == "0000000000000000"
    assert found["no_new_privs"] == "1"
    assert len(found["processes"]) < 10, found["processes"]
    assert not [p for p in found["processes"] if "-m pytest" in p or "milvus" in p], found["processes"]


@pytest.mark.parametrize(
    ("as_root", "expected"),
    [
        (True, ("FAILED", "the emulator runs as root, so its containers must run confined")),
        (False, ("RUNNING", "runs unconfined: bubblewrap (bwrap) is not installed")),
    ],
    ids=["root-refuses", "unprivileged-says-so"],
)
def test_without_a_sandbox_a_root_emulator_refuses_and_another_says_so(
    emulators: list[Emulator],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    as_root: bool,
    expected: tuple[str, str],
) -> None:
    monkeypatch.setattr(confinement, "problem", lambda: "bubblewrap (bwrap) is not installed: install it")
    monkeypatch.setattr(confinement, "required", lambda: as_root)
    emu = Emulator(state_dir=tmp_path / "state").start()
    emulators.append(emu)
    conn = create_service(emu, "LITE", LITE_SPEC, "milvus-lite")
    status, said = expected
    wait_status(conn.cursor(), "DB.PUBLIC.LITE", status, timeout=120)
    container = container_of(emu, "LITE")
    conn.close()
    # the status message when it refuses, the container's log when it runs
    assert said in (container.status()[1] if as_root else container.logs())


def test_the_sandbox_hides_the_emulators_directories_and_binds_its_own_last(tmp_path: Path) -> None:
    own = tmp_path / "state" / "containers" / "c1"
    volume = tmp_path / "state" / "volumes" / "v"
    for path in (own, volume):
        path.mkdir(parents=True)
    argv = confinement.for_container(writable=[own, volume], private=[tmp_path / "state"]).argv("bwrap")
    text = " ".join(argv)
    assert "--ro-bind / /" in text
    hidden = [Path(argv[i + 1]) for i, a in enumerate(argv) if a == "--tmpfs"]
    assert any((tmp_path / "state").resolve().is_relative_to(h) for h in hidden), hidden
    assert f"--bind {own.resolve()} {own.resolve()}" in text
    last_tmpfs = max(i for i, a in enumerate(argv) if a == "--tmpfs")
    assert argv.index(str(own.resolve())) > last_tmpfs  # bound after the directory that hides it
    assert {"--unshare-user", "--unshare-pid", "--unshare-ipc"} <= set(argv)
    assert argv[argv.index("--cap-drop") + 1] == "ALL"
    assert "/" not in [argv[i + 1] for i, a in enumerate(argv) if a == "--tmpfs"]
