"""A container's environment is what SPCS gives a container, never the emulator's own.

The emulator runs with credentials in its environment (its admin password, the harness's key
passphrase). A container gets the spec's env, the platform's SNOWFLAKE_* variables and a session token
file, plus PATH/HOME/LANG and the DNS shim: the attack is a notebook cell, run through the ingress,
reading os.environ.

These tests start real containers: run them under the shared lock (flock /tmp/heavy.lock).
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from spcs_emulator.emulator import Emulator
from spcs_emulator.spcs.container_env import container_environment
from tests.emulator.services import (
    JUPYTER_SPEC,
    LITE_SPEC,
    container_of,
    create_service,
    notebook_over_ingress,
    tree,
)
from tests.emulator.sql import wait_status

CANARIES = {
    "SPCS_EMULATOR_ADMIN_PASSWORD": "canary-admin-password-3f9a",
    "SNOWFLAKE_PRIVATE_KEY_PASSPHRASE": "canary-passphrase-77c1",
    "FOO_CANARY": "canary-foo-0b2e",
}


@pytest.fixture
def secret_looking_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in CANARIES.items():
        monkeypatch.setenv(name, value)


def environ_of(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    return dict(item.decode().partition("=")[::2] for item in raw.split(b"\0") if item)


def test_the_environment_is_built_from_an_allowlist(
    secret_looking_env: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    env = container_environment(
        tmp_path / "home", tmp_path / "tmp", {"SPEC_VAR": "1"}, {"LD_PRELOAD": "x.so"}
    )
    assert not set(CANARIES) & set(env)
    assert env["PATH"] == "/usr/bin:/bin"
    assert env["HOME"] == str(tmp_path / "home")
    assert (tmp_path / "home").is_dir()
    assert env["SPEC_VAR"] == "1"  # the layers come after the base
    assert env["LD_PRELOAD"] == "x.so"


def test_container_processes_see_the_platform_variables_and_none_of_the_emulators(
    secret_looking_env: None, emulators: list[Emulator], tmp_path: Path
) -> None:
    emu = Emulator(state_dir=tmp_path / "state").start()
    emulators.append(emu)
    conn = create_service(emu, "LITE", LITE_SPEC, "milvus-lite")
    wait_status(conn.cursor(), "DB.PUBLIC.LITE", "RUNNING", timeout=120)
    handle = container_of(emu, "LITE")
    environments = [environ_of(pid) for pid in tree(handle)]
    conn.close()

    for env in environments:
        leaked = {name for name, value in CANARIES.items() if name in env or value in env.values()}
        assert not leaked, f"the emulator's environment reached the container: {sorted(leaked)}"
    env = environments[0]
    assert env["SNOWFLAKE_HOST"] == "127.0.0.1"
    assert env["SNOWFLAKE_PORT"] == str(emu.port)
    assert env["SNOWFLAKE_ACCOUNT"] == "EMULATED"
    assert (env["SNOWFLAKE_DATABASE"], env["SNOWFLAKE_SCHEMA"], env["SNOWFLAKE_SERVICE_NAME"]) == (
        "DB",
        "PUBLIC",
        "LITE",
    )
    assert Path(env["HOME"]).is_relative_to(handle.dirs.root)
    token = Path(env["SPCS_SECRET_DIR_SNOWFLAKE_SESSION"]) / "token"
    assert token == handle.dirs.fs / "snowflake/session/token"
    assert stat.S_IMODE(token.stat().st_mode) == 0o600
    assert len(token.read_text()) >= 32
    assert token.read_text() != emu.admin_password


PROC_ATTACK = """
import json, re
found = {}
for part in ("environ", "mem"):
    try:
        with open("/proc/EMULATOR_PID/" + part, "rb") as f:
            found[part] = "opened, %d bytes read" % len(f.read(16))
    except OSError as exc:
        found[part] = "refused: %s" % exc
status = open("/proc/self/status").read()
found["capabilities"] = re.search(r"CapEff:\\s+(\\w+)", status).group(1)
print(json.dumps(found))
"""


def test_a_notebook_cell_through_the_ingress_cannot_read_the_emulators_secrets(
    secret_looking_env: None, emulators: list[Emulator], tmp_path: Path
) -> None:
    emu = Emulator(state_dir=tmp_path / "state").start()
    emulators.append(emu)
    conn = create_service(emu, "NOTEBOOK", JUPYTER_SPEC, "jupyter")
    cur = conn.cursor()
    wait_status(cur, "DB.PUBLIC.NOTEBOOK", "RUNNING", timeout=120)

    cell = "import json, os\nprint(json.dumps(dict(os.environ)))\n"
    notebook = notebook_over_ingress(conn, "NOTEBOOK")
    seen = json.loads(notebook.run(cell)[0])
    # The reviewer's attack: the cell runs as the emulator's uid (root here) and read the admin
    # password out of the emulator's /proc/<pid>/environ and mem, then logged in as ACCOUNTADMIN.
    attack = json.loads(notebook.run(PROC_ATTACK.replace("EMULATOR_PID", str(os.getpid())))[0])
    conn.close()
    assert attack["environ"].startswith("refused"), attack
    assert attack["mem"].startswith("refused"), attack
    assert attack["capabilities"] == "0000000000000000", attack  # no CAP_SYS_PTRACE, nor any other
    assert not set(CANARIES) & set(seen)
    assert not set(CANARIES.values()) & set(seen.values())
    assert seen["SNOWFLAKE_HOST"] == "127.0.0.1"
    assert seen["SNOWFLAKE_SERVICE_NAME"] == "NOTEBOOK"
    assert os.environ["FOO_CANARY"] == CANARIES["FOO_CANARY"]  # the emulator itself had them all along
