"""What ``spcs_emulator`` exports (issue 20 item 3) and the typed client of its control API."""

from __future__ import annotations

import subprocess
import sys

import pytest
from snowflake.connector.errors import ProgrammingError

import spcs_emulator
from spcs_emulator import ControlClient, ControlError, Emulator


def test_the_exports_are_the_documented_ones_and_each_resolves() -> None:
    assert sorted(spcs_emulator.__all__) == sorted(spcs_emulator._EXPORTS)
    for name in spcs_emulator.__all__:
        assert getattr(spcs_emulator, name) is not None
    with pytest.raises(AttributeError):
        spcs_emulator.Nope  # noqa: B018


def test_importing_the_package_loads_nothing_else() -> None:
    code = "import sys, spcs_emulator; print(sorted(m for m in sys.modules if m.startswith('spcs_emulator')))"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "['spcs_emulator']"


def client_of(emu: Emulator, password: str | None = None) -> ControlClient:
    return ControlClient("127.0.0.1", emu.port, emu.admin_password if password is None else password)


def test_the_client_drives_faults_images_and_reset(emulator: Emulator, admin) -> None:
    client = client_of(emulator)
    assert emulator.admin_password not in repr(client)
    client.fail_statement(r"SELECT 42", errno=2222, sqlstate="42000", message="planned")
    with pytest.raises(ProgrammingError) as failed:
        admin.execute("SELECT 42")
    assert (failed.value.errno, failed.value.sqlstate) == (2222, "42000")
    assert failed.value.msg.endswith("planned")
    assert admin.execute("SELECT 42").fetchall() == [(42,)]  # once only
    admin.execute("CREATE DATABASE D")
    admin.execute("CREATE IMAGE REPOSITORY D.PUBLIC.R")
    url = admin.execute("SHOW IMAGE REPOSITORIES IN SCHEMA D.PUBLIC").fetchall()[0]
    repository_url = next(v for v in url if isinstance(v, str) and "/d/public/r" in v)
    published = client.publish_image(f"{repository_url}/app:1", "jupyter")
    assert published.image == "/d/public/r/app:1"
    assert published.digest.startswith("sha256:")
    with pytest.raises(ControlError) as unknown:
        client.crash_container("NOPE", "main", instance=1)
    assert unknown.value.status == 400
    assert "instance 1" in unknown.value.error
    client.reset()
    assert admin.execute("SHOW DATABASES LIKE 'D'").fetchall() == []


def test_a_statement_fault_with_only_a_pattern_takes_the_emulators_defaults(
    emulator: Emulator, admin
) -> None:
    # The client sends what it is given; the defaults are the emulator's (Faults.fail_statement).
    client_of(emulator).fail_statement(r"SELECT 7", times=2)
    for _ in range(2):
        with pytest.raises(ProgrammingError) as failed:
            admin.execute("SELECT 7")
        assert (failed.value.errno, failed.value.sqlstate) == (1234, "XX000")
        assert failed.value.msg.endswith("Injected failure.")
    assert admin.execute("SELECT 7").fetchall() == [(7,)]


def test_a_wrong_password_is_refused(emulator: Emulator) -> None:
    with pytest.raises(ControlError) as refused:
        client_of(emulator, "wrong").reset()
    assert refused.value.status == 401


def test_the_docker_labels_are_exported_under_their_own_names(tmp_path) -> None:
    """What scripts/drills.py finds an emulator's engine leftovers by: the labels and a state's value."""
    assert spcs_emulator.DOCKER_INSTANCE_LABEL == "io.spcs-emulator.instance"
    assert spcs_emulator.DOCKER_STATE_LABEL == "io.spcs-emulator.state"
    value = spcs_emulator.docker_state_label(tmp_path)
    assert value == spcs_emulator.docker_state_label(tmp_path / "." / "")  # one state directory, one value
    assert len(value) == 16
    assert value != spcs_emulator.docker_state_label(tmp_path / "other")
