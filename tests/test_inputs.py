"""Inputs and secrets (issue 7, item 7): validators match whole values, image tags follow Docker's
grammar, --artifacts-dir cannot reach into a PUT, SQL errors never carry a secret, the CI helper leaves
no SNOWFLAKE_HOME behind and the image push keeps its session until the pushes are done."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import traceback
from collections.abc import Iterator
from pathlib import Path

import pytest
import snowflake.connector
from snowflake.connector.errors import ProgrammingError

from milvus_spcs.config import resolve_config
from milvus_spcs.errors import HarnessError, PreflightError
from milvus_spcs.images import push as images
from milvus_spcs.naming import LABEL_PATTERN, StackNames, check_run_id
from milvus_spcs.specs import SpecError, render_spec, spec_variables
from milvus_spcs.sqlfiles import put_file, render
from milvus_spcs.stack.janitor import parse_duration
from milvus_spcs.stack.sql_runner import SqlRunner, redacted_error
from milvus_spcs.target import EmulatorTarget
from spcs_emulator.emulator import Emulator
from tests.emulator.fakes import FakeIngress, FakeRuntime
from tests.harness_cli import cli

REPO = Path(__file__).resolve().parents[1]

# -- whole-value matches ------------------------------------------------------------------------------


@pytest.mark.parametrize("run_id", ["abc123\n", "abc123\r", " abc123", "ABC123", "abc12"])
def test_a_run_id_with_a_trailing_newline_or_other_extra_is_refused(run_id: str) -> None:
    with pytest.raises(ValueError, match="must be 6 characters"):
        check_run_id(run_id)
    with pytest.raises(PreflightError, match="must be 6 characters"):
        resolve_config({"run_id": run_id}, {})


def test_a_label_with_a_trailing_newline_is_not_a_label() -> None:
    assert LABEL_PATTERN.fullmatch("milvus-spcs run=abc123 created=2026-01-01T00:00:00Z")
    assert not LABEL_PATTERN.fullmatch("milvus-spcs run=abc123 created=2026-01-01T00:00:00Z\n")


@pytest.mark.parametrize(
    ("variables", "name"),
    [
        ({"user": "MILVUS_SPCS_USER\n"}, "user"),
        ({"run_id": "abc123\n"}, "run_id"),
        ({"comment": "milvus-spcs run=abc123 created=2026-01-01T00:00:00Z\n"}, "comment"),
    ],
)
def test_sql_variables_with_a_trailing_newline_are_refused(variables: dict[str, str], name: str) -> None:
    with pytest.raises(ValueError, match=f"SQL variable '{name}'"):
        render("SELECT 1", variables)


def test_a_password_with_a_trailing_newline_is_refused() -> None:
    with pytest.raises(ValueError, match="SQL variable 'password'"):
        render("SELECT 1", {"password": "A" * 20 + "\n"})


def test_a_duration_with_a_newline_inside_is_refused() -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration("6h\n1")
    assert parse_duration(" 6h\n").total_seconds() == 6 * 3600  # surrounding blanks are fine


def spec_vars(**changes: str) -> dict[str, str]:
    variables = spec_variables(StackNames("abc123"), milvus_tag="v2.6.10", jupyter_tag="run-abc123")
    return {**variables, **changes}


@pytest.mark.parametrize(
    "changes",
    [
        {"image_prefix": "/db/public/images\n"},
        {"milvus_service_dns": "milvus\n"},
        {"milvus_tag": "v2.6.10\n"},
    ],
)
def test_spec_variables_with_a_trailing_newline_are_refused(changes: dict[str, str]) -> None:
    with pytest.raises(SpecError):
        render_spec(REPO / "specs" / "milvus.yaml", spec_vars(**changes))


# -- image tags: Docker's grammar, no '..' --------------------------------------------------------------


@pytest.mark.parametrize("tag", [".x", "-x", "a..b", "..", "x\n", "a" * 129, "a/b", "a:b"])
def test_image_tags_outside_dockers_grammar_are_refused(tag: str) -> None:
    with pytest.raises(PreflightError, match="image tag"):
        resolve_config({"image_tag": tag}, {})
    with pytest.raises(SpecError, match="image tag"):
        render_spec(REPO / "specs" / "milvus.yaml", spec_vars(milvus_tag=tag))


@pytest.mark.parametrize("tag", ["v2.6.10", "run-abc123", "_x", "a" * 128, "1.0_rc-2"])
def test_image_tags_in_dockers_grammar_are_accepted(tag: str) -> None:
    assert resolve_config({"image_tag": tag}, {}).image_tag == tag
    assert f"milvus:{tag}" in render_spec(REPO / "specs" / "milvus.yaml", spec_vars(milvus_tag=tag))


# -- --artifacts-dir ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["x'y", "x\\y", "x\ny", "a*b", "a?b", "a[b]"])
def test_an_artifacts_dir_that_could_escape_a_put_literal_is_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(PreflightError, match="--artifacts-dir"):
        resolve_config({"artifacts_dir": str(tmp_path / name)}, {})
    assert list(tmp_path.iterdir()) == []  # refused before anything is created


def test_an_artifacts_dir_with_spaces_is_fine(tmp_path: Path) -> None:
    folder = tmp_path / "my artifacts"
    assert resolve_config({"artifacts_dir": str(folder)}, {}).artifacts_dir == folder


def test_put_refuses_a_path_that_would_end_its_literal(tmp_path: Path) -> None:
    put = put_file(tmp_path / "a b.yaml", "DB.PUBLIC.SPECS")
    assert put == f"PUT 'file://{tmp_path}/a b.yaml' @DB.PUBLIC.SPECS"
    with pytest.raises(ValueError, match="cannot hold"):
        put_file(tmp_path / "x' @DB.PUBLIC.OTHER --.yaml", "DB.PUBLIC.SPECS")


def test_up_with_a_quote_in_the_artifacts_dir_fails_before_creating_anything(
    emulator_env: tuple[Emulator, dict[str, str]], tmp_path: Path
) -> None:
    _, env = emulator_env
    bad = tmp_path / "it's"
    up = cli(env, "up", "--run-id", "quo001", "--artifacts-dir", str(bad), cwd=tmp_path)
    assert up.returncode == 2, up.stdout[-2000:] + up.stderr[-2000:]
    assert "--artifacts-dir" in up.stderr
    assert "cannot hold" in up.stderr
    assert not bad.exists()
    assert "no labelled objects" in cli(env, "status", cwd=tmp_path).stdout


# -- SQL errors never carry a secret --------------------------------------------------------------------

# Letters and digits only, so that a quoted identifier keeps it verbatim in the error message.
CANARY = "Zq9xLeakCanary7Hh2Kp4Wd"
TINY_FAILING_TEST = """
import json, os
from milvus_spcs.secret import Secret
from milvus_spcs.sqlfiles import render
from milvus_spcs.stack.sql_runner import SqlRunner
from milvus_spcs.target import EmulatorTarget

OUTSIDER = "USE ROLE PUBLIC;\\nCREATE USER <% user %> PASSWORD = '<% password %>' COMMENT = '<% password %>';"


def test_the_outsider_user_cannot_be_created():
    target = EmulatorTarget("test", json.loads(os.environ["EMULATOR_PARAMS"]))
    password = Secret(os.environ["CANARY"])
    SqlRunner(target, [password]).run(render(OUTSIDER, {"user": "OUTSIDER", "password": password}))


def test_the_password_is_echoed_by_the_server():
    target = EmulatorTarget("test", json.loads(os.environ["EMULATOR_PARAMS"]))
    password = Secret(os.environ["CANARY"])
    SqlRunner(target, [password]).query("USE ROLE ACCOUNTADMIN", 'USE ROLE "' + password + '"')
"""


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[Emulator]:
    with Emulator(runtime=FakeRuntime(), ingress=FakeIngress(), state_dir=tmp_path / "state") as emu:
        yield emu


def failing_run(emulator: Emulator) -> BaseException:
    runner = SqlRunner(EmulatorTarget("test", emulator.connection_parameters()), [CANARY])
    with pytest.raises(ProgrammingError) as info:
        # the server echoes the quoted identifier: the password is in the message itself
        runner.run(["USE ROLE ACCOUNTADMIN", f"CREATE USER X PASSWORD = '{CANARY}'", f'USE ROLE "{CANARY}"'])
    return info.value


def test_the_server_really_echoes_the_password_unredacted(emulator: Emulator) -> None:
    """The attack below is real: the emulator's message carries the value."""
    conn = snowflake.connector.connect(**emulator.connection_parameters())
    try:
        with pytest.raises(ProgrammingError, match=CANARY):
            conn.cursor().execute(f'USE ROLE "{CANARY}"')
    finally:
        conn.close()


def test_a_failing_statement_raises_without_the_password(emulator: Emulator) -> None:
    error = failing_run(emulator)
    assert error.errno == 2003  # the server's error, kept: callers may branch on it
    assert error.sqlstate == "02000"
    assert "does not exist" in str(error)
    text = "".join(traceback.format_exception(error))  # chained exceptions included
    for shown in (str(error), repr(error), text, error.msg, error.raw_msg, str(error.query), str(error.args)):
        assert CANARY not in shown
    assert "****" in str(error)
    assert error.__cause__ is None
    assert error.__context__ is None  # the original (with the password) is not chained


def test_a_failing_query_hides_the_password_in_the_frames_pytest_prints(emulator: Emulator) -> None:
    runner = SqlRunner(EmulatorTarget("test", emulator.connection_parameters()), [CANARY])
    with pytest.raises(ProgrammingError) as info:
        runner.query("USE ROLE ACCOUNTADMIN", f'USE ROLE "{CANARY}"')
    for entry in info.traceback:
        assert CANARY not in repr(entry.frame.f_locals)
    assert CANARY not in str(info.getrepr(showlocals=True, funcargs=True, style="long"))


def test_other_errors_are_redacted_too() -> None:
    error = redacted_error(ValueError(f"bad value {CANARY}"), [CANARY])
    assert CANARY not in repr(error)
    assert "ValueError: bad value ****" in str(error)
    error = redacted_error(
        ProgrammingError(msg=f"x {CANARY}", errno=1003, query=f"SELECT '{CANARY}'"), [CANARY]
    )
    assert isinstance(error, ProgrammingError)
    assert (error.errno, error.query) == (1003, "SELECT '****'")
    assert CANARY not in repr(error)


def test_a_failing_test_writes_no_password_into_junit_xml(emulator: Emulator, tmp_path: Path) -> None:
    (tmp_path / "test_tiny.py").write_text(TINY_FAILING_TEST)
    junit = tmp_path / "junit.xml"
    env = {
        **os.environ,
        "PYTHONPATH": f"{REPO / 'src'}:{REPO}",
        "EMULATOR_PARAMS": json.dumps(emulator.connection_parameters()),
        "CANARY": CANARY,
    }
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "--showlocals",
            "--tb=long",
            "-o",
            "junit_logging=all",
            f"--junitxml={junit}",
            str(tmp_path / "test_tiny.py"),
        ],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 1, done.stdout[-3000:]
    assert "2 failed" in done.stdout
    assert "Insufficient privileges" in done.stdout
    assert "does not exist" in done.stdout
    assert CANARY not in done.stdout + done.stderr
    assert CANARY not in junit.read_text()


# -- the CI helper's SNOWFLAKE_HOME -------------------------------------------------------------------

SCRIPTS = REPO / "scripts"
CI_HELPER = SCRIPTS / "spcs_on_running_emulator.py"


def load_ci_helper():
    if str(SCRIPTS) not in sys.path:  # as `python scripts/...` has it: the scripts share named_emulator
        sys.path.insert(0, str(SCRIPTS))
    spec = importlib.util.spec_from_file_location("spcs_on_running_emulator", CI_HELPER)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Boom(Exception):
    pass


def test_the_ci_helper_removes_its_snowflake_home_when_starting_the_emulator_fails(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    helper = load_ci_helper()
    homes: list[Path] = []

    def popen(args: list[str], **kwargs: object) -> None:
        home = Path(kwargs["env"]["SNOWFLAKE_HOME"])  # type: ignore[index]
        homes.append(home)
        assert home.stat().st_mode & 0o777 == 0o700
        (home / "connections.toml").write_text("password = 'admin'\n")
        raise Boom("the emulator did not start")

    monkeypatch.setattr(helper.subprocess, "Popen", popen)
    previous = signal.getsignal(signal.SIGTERM)
    try:
        with pytest.raises(Boom):
            helper.main()
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert len(homes) == 1
    exists = homes[0].exists()
    shutil.rmtree(homes[0], ignore_errors=True)  # never leave one behind, even when the test fails
    assert not exists


SIGTERM_DURING_RUN = """
import os, signal, sys
from pathlib import Path
sys.path[:0] = [sys.argv[1], str(Path(sys.argv[2]).parent)]
import importlib.util
spec = importlib.util.spec_from_file_location("helper", sys.argv[2])
helper = importlib.util.module_from_spec(spec)
spec.loader.exec_module(helper)

def popen(args, **kwargs):
    print(kwargs["env"]["SNOWFLAKE_HOME"], flush=True)
    os.kill(os.getpid(), signal.SIGTERM)  # a CI cancel while the emulator starts
    signal.pause()

helper.subprocess.Popen = popen
helper.main()
"""


def test_the_ci_helper_removes_its_snowflake_home_on_sigterm(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", SIGTERM_DURING_RUN, str(REPO / "src"), str(CI_HELPER)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    home = Path(done.stdout.strip())
    assert home.name.startswith("snowflake-home-"), done.stderr
    exists = home.exists()
    shutil.rmtree(home, ignore_errors=True)  # never leave one behind, even when the test fails
    assert not exists
    assert done.returncode == 128 + signal.SIGTERM


def test_the_private_home_is_0700_its_file_0600_and_both_go_on_an_exception() -> None:
    load_ci_helper()
    from named_emulator import private_snowflake_home, write_private

    seen: list[Path] = []

    def use_the_home() -> None:
        with private_snowflake_home() as home:
            seen.append(home)
            write_private(home / "connections.toml", "password = 'admin'\n")
            assert home.stat().st_mode & 0o777 == 0o700
            assert (home / "connections.toml").stat().st_mode & 0o777 == 0o600
            raise Boom

    with pytest.raises(Boom):
        use_the_home()
    assert not seen[0].exists()


# -- image push: the session outlives the pushes -------------------------------------------------------


class FakeRest:
    def __init__(self, events: list[str]) -> None:
        self.events = events

    @property
    def token(self) -> str:
        self.events.append("token")
        return "session-token"


DIGEST = "sha256:" + "ab" * 32


class FakeCursor:
    def __init__(self) -> None:
        self.description: tuple[tuple[str], ...] = ()
        self._rows: list[tuple[str, ...]] = []

    def execute(self, sql: str) -> None:
        if sql == "SHOW IMAGE REPOSITORIES IN SCHEMA DB.PUBLIC":
            self.description = (("name",), ("repository_url",))
            self._rows = [("IMAGES", "org-acct.registry.snowflakecomputing.com/db/public/images")]
        else:
            assert sql == "SHOW IMAGES IN IMAGE REPOSITORY DB.PUBLIC.IMAGES"
            self.description = (("image_name",), ("tags",), ("digest",))
            self._rows = [(n, '["v1"]', DIGEST) for n in ("milvus", "jupyter")]

    def fetchall(self) -> list[tuple[str, ...]]:
        return self._rows


class FakeConnection:
    def __init__(self, events: list[str]) -> None:
        self.events = events
        self.rest = FakeRest(events)

    def cursor(self) -> FakeCursor:
        return FakeCursor()

    def close(self) -> None:
        self.events.append("session closed")


class FakeTarget:
    def __init__(self, events: list[str]) -> None:
        self.events = events

    def connect(self) -> FakeConnection:
        return FakeConnection(self.events)


def fake_docker(monkeypatch: pytest.MonkeyPatch, events: list[str], fail: str | None = None) -> None:
    def docker(args: list[str], *, env: dict[str, str], stdin: str | None = None, timeout: float = 0) -> str:
        events.append(f"docker {args[0]}")
        assert env["DOCKER_CONFIG"] != os.environ.get("DOCKER_CONFIG"), "the login went to the user's config"
        if args[0] == "login":
            assert json.loads(stdin or "") == {"token": "session-token"}
            assert "session closed" not in events, "docker login with a logged-out token"
        if args[0] == fail:
            raise HarnessError(f"docker {fail} failed")
        if args[0] == "image":
            return "linux/amd64\n"
        return f"v1: digest: {DIGEST} size: 528\n" if args[0] == "push" else ""

    monkeypatch.setattr(images, "_docker", docker)
    monkeypatch.setattr(images, "docker_engine_problem", lambda: None)


def push(events: list[str]) -> list[images.PushedImage]:
    built = lambda: images.local_images()  # noqa: E731 (the images `milvus-spcs images build` made)
    return images.push_images(FakeTarget(events), "DB.PUBLIC.IMAGES", "v1", built=built)  # type: ignore[arg-type]


def test_the_session_stays_open_until_the_pushes_are_done(monkeypatch: pytest.MonkeyPatch) -> None:
    events: list[str] = []
    fake_docker(monkeypatch, events)
    pushed = push(events)
    assert [p.reference for p in pushed] == [
        f"org-acct.registry.snowflakecomputing.com/db/public/images/{n}:v1" for n in ("milvus", "jupyter")
    ]
    one_image = ["docker image", "docker tag", "docker push", "docker rmi"]
    assert events == ["token", "docker login", *one_image, *one_image, "session closed"]


def test_the_session_is_closed_when_a_push_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    events: list[str] = []
    fake_docker(monkeypatch, events, fail="push")
    with pytest.raises(HarnessError, match="docker push failed"):
        push(events)
    # The run's local tag is removed even so.
    assert events == [
        "token",
        "docker login",
        "docker image",
        "docker tag",
        "docker push",
        "docker rmi",
        "session closed",
    ]


@pytest.mark.parametrize(
    ("host", "problem"),
    [
        ("org-acct.registry.snowflakecomputing.com", None),
        ("org-my-acct.registry.snowflakecomputing.com", None),
        ("org-my_acct.registry.snowflakecomputing.com", "'org-my-acct'"),
        ("Org-Acct.registry.snowflakecomputing.com", "'org-acct'"),
        ("127.0.0.1:5000", None),
    ],
)
def test_a_snowflake_registry_host_is_lower_case_with_hyphens(host: str, problem: str | None) -> None:
    found = images.registry_host_problem(host)
    assert (found is None) if problem is None else (found is not None and problem in found)
