"""Targets: two classes (EmulatorTarget, AccountTarget) that each answer their own rules, so that no
module asks "emulator or account?" by a flag; resolve_target picks the class from the configuration."""

from __future__ import annotations

import ast
import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from milvus_spcs.config import resolve_config
from milvus_spcs.conformance.catalogue import CatalogueRun
from milvus_spcs.conformance.observation import Observation
from milvus_spcs.errors import PreflightError
from milvus_spcs.stack.preflight import images_pushed_by_run
from milvus_spcs.stack.spcs_plan import budgets_for
from milvus_spcs.target import AccountTarget, Budgets, EmulatorTarget, Target, TargetKind, resolve_target

REPO = Path(__file__).resolve().parents[1]
ACCOUNT_PARAMS = {"account": "xy12345", "user": "ci", "password": "an-account-password"}


def config(tmp_path: Path, **options: str):
    return resolve_config({"run_id": "target", "artifacts_dir": str(tmp_path), **options}, {})


def service_observation() -> Observation:
    return Observation(id="svc", source="DOC", sql="SELECT 1", needs="service")


def test_the_emulator_answers_its_rules() -> None:
    emulator = EmulatorTarget("a running emulator", {"host": "127.0.0.1", "port": 1, "password": "pw"})
    assert emulator.kind is TargetKind.EMULATOR
    assert emulator.ingress_scheme == "http"
    assert emulator.budgets.interval < 1
    assert emulator.budgets.service <= 300
    assert budgets_for(emulator) is emulator.budgets
    assert emulator.supplies_images
    assert not emulator.runs_pushed_images  # a running one: its runtime is not known, stand-ins it is
    emulator.close()  # it started nothing: closing it leaves the running emulator alone


def test_an_account_answers_its_rules(tmp_path: Path) -> None:
    account = AccountTarget("an account", dict(ACCOUNT_PARAMS))
    assert account.kind is TargetKind.ACCOUNT
    assert account.ingress_scheme == "https"
    assert account.budgets == Budgets()
    assert account.budgets.pool == 900.0
    assert budgets_for(account) is account.budgets
    assert not account.supplies_images
    assert not account.runs_pushed_images
    with pytest.raises(PreflightError, match="--image-tag"):
        account.publish_image("/db/public/repo/milvus:1", "milvus", None)
    account.close()


def test_what_both_share_keeps_credentials_out_of_sight() -> None:
    for target in (
        EmulatorTarget("emu", {"host": "127.0.0.1", "port": 1, "password": "pw-emulator"}),
        AccountTarget("acct", dict(ACCOUNT_PARAMS)),
    ):
        assert isinstance(target, Target)
        assert "pw-emulator" not in repr(target)
        assert "an-account-password" not in repr(target)
        assert target.secrets() in (["pw-emulator"], ["an-account-password"])


def test_the_base_is_not_a_target_of_its_own() -> None:
    with pytest.raises(TypeError, match="abstract"):
        Target("neither", {})  # type: ignore[abstract]


def test_preflight_asks_the_target_whether_it_supplies_images(tmp_path: Path) -> None:
    account = AccountTarget("an account", dict(ACCOUNT_PARAMS))
    with pytest.raises(PreflightError, match="needs the images pushed"):
        images_pushed_by_run(account, config(tmp_path))
    pushed = config(tmp_path, image_repository="DB.PUBLIC.REPO", image_tag="v1")
    assert images_pushed_by_run(account, pushed) is False  # named, never pushed by the run
    emulator = EmulatorTarget("emu", {})
    assert images_pushed_by_run(emulator, config(tmp_path)) is False  # published by name
    assert images_pushed_by_run(emulator, pushed) is False


def test_a_service_observation_runs_on_the_emulator_without_an_image() -> None:
    """The emulator supplies a stand-in; an account needs --service-image (tests/conformance)."""
    emulator = EmulatorTarget("emu", {})
    assert CatalogueRun(emulator, with_services=True).skip_reason(service_observation()) is None
    account = AccountTarget("acct", {})
    assert "--service-image" in str(
        CatalogueRun(account, with_services=True).skip_reason(service_observation())
    )


def test_no_connection_starts_an_emulator_the_target_owns_and_stops(tmp_path: Path) -> None:
    target = resolve_target(config(tmp_path))
    try:
        assert isinstance(target, EmulatorTarget)
        assert "self-started" in target.description
        assert not target.runs_pushed_images  # the process runtime runs stand-ins
        conn = target.connect()
        port = int(conn.port)
        assert conn.cursor().execute("SELECT 1").fetchone() == (1,)
        conn.close()
    finally:
        target.close()
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port), timeout=5):
        pass  # stopped with the target


RESOLVE = """
import json, sys
from milvus_spcs.config import resolve_config
from milvus_spcs.target import resolve_target

target = resolve_target(resolve_config({"snowflake_connection": sys.argv[1]}, {}))
print(json.dumps({
    "class": type(target).__name__,
    "description": target.description,
    "emulator_loaded": any(m.split(".")[0] == "spcs_emulator" for m in sys.modules),
}))
"""


def resolved(home: Path, connection: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", RESOLVE, connection],
        env={**os.environ, "SNOWFLAKE_HOME": str(home), "PYTHONPATH": str(REPO / "src")},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    answer: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return answer


def test_a_named_connection_resolves_to_a_running_emulator_or_an_account(tmp_path: Path) -> None:
    """Loopback over http: a running emulator; anything else: an account, and the account's path never
    loads the emulator (a CI job against an account need not install or import it)."""
    home = tmp_path / "snowflake-home"
    home.mkdir()
    (home / "connections.toml").write_text(
        textwrap.dedent(
            """\
            [emu]
            host = "127.0.0.1"
            port = 8765
            protocol = "http"
            account = "emulator"
            user = "ADMIN"
            password = "emu-password"

            [acct]
            account = "xy12345"
            user = "ci"
            password = "acct-password"
            """
        )
    )
    (home / "connections.toml").chmod(0o600)
    emulator, account = resolved(home, "emu"), resolved(home, "acct")
    assert emulator["class"] == "EmulatorTarget"
    assert "running emulator at 127.0.0.1:8765" in str(emulator["description"])
    assert account["class"] == "AccountTarget"
    assert "Snowflake account xy12345" in str(account["description"])
    assert account["emulator_loaded"] is False


# -- nobody else asks which kind -------------------------------------------------------------------------

ASKING_FOLDERS = ("src/milvus_spcs", "suites", "fixtures", "bench", "scripts")
TARGET_CLASSES = {"EmulatorTarget", "AccountTarget"}


def kind_questions(tree: ast.AST) -> list[str]:
    """Where a module asks what a target is instead of what it does: ``.is_emulator``, an isinstance
    with a target class, or a comparison with TargetKind's members."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr == "is_emulator":
            found.append(f"line {node.lineno}: .is_emulator")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "isinstance":
            names = {n.id for arg in node.args[1:] for n in ast.walk(arg) if isinstance(n, ast.Name)}
            if names & TARGET_CLASSES:
                found.append(f"line {node.lineno}: isinstance with {sorted(names & TARGET_CLASSES)}")
        elif isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            if any(
                isinstance(o, ast.Attribute) and isinstance(o.value, ast.Name) and o.value.id == "TargetKind"
                for o in operands
            ):
                found.append(f"line {node.lineno}: compares with TargetKind")
    return found


def test_no_module_asks_whether_the_target_is_the_emulator() -> None:
    questions = {
        str(path.relative_to(REPO)): found
        for folder in ASKING_FOLDERS
        for path in sorted((REPO / folder).rglob("*.py"))
        if path != REPO / "src/milvus_spcs/target.py"
        and (found := kind_questions(ast.parse(path.read_text(), str(path))))
    }
    assert questions == {}


def test_the_check_sees_each_way_of_asking() -> None:
    tree = ast.parse(
        "if t.is_emulator: pass\n"
        "if isinstance(t, EmulatorTarget): pass\n"
        "if t.kind is TargetKind.ACCOUNT: pass\n"
        "print(t.kind.value, t.ingress_scheme)\n"
    )
    assert [q.split(":")[0] for q in kind_questions(tree)] == ["line 1", "line 2", "line 3"]
