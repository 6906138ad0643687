"""Preflight: what would be insecure or cannot work is refused before anything is created.

An insecure spec (public 9091/2379, an unpinned or pre-release image), a spec that is not YAML, or a
run id whose labelled objects already exist: the run fails naming the problem, and the emulator saw no
statement that creates anything (for the specs: no SQL at all)."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from milvus_spcs.config import resolve_config
from milvus_spcs.errors import PreflightError
from milvus_spcs.paths import REPO_ROOT
from milvus_spcs.stack.janitor import teardown_run
from milvus_spcs.stack.run import provisioned_stack
from milvus_spcs.stack.sql_runner import SqlRunner
from spcs_emulator.emulator import Emulator
from tests.emulator.fakes import FakeIngress, FakeRuntime
from tests.runs import leftovers, target_of

pytestmark = pytest.mark.slow

PUBLIC_METRICS_AND_ETCD = """  - name: grpc
    port: 19530
    protocol: TCP
    public: false
  - name: metrics
    port: 9091
    protocol: HTTP
    public: true
  - name: etcd
    port: 2379
    protocol: HTTP
    public: true
"""


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    with Emulator(
        runtime=FakeRuntime(), ingress=FakeIngress(), state_dir=tmp_path_factory.mktemp("emu")
    ) as emu:
        yield emu


@pytest.fixture
def statements(emulator: Emulator) -> Iterator[list[str]]:
    """Every statement the emulator executes while the test runs (logins need none)."""
    seen: list[str] = []
    original = emulator.account.execute

    def recording(session, sql):
        seen.append(sql.strip())
        return original(session, sql)

    emulator.reset()
    emulator.account.execute = recording  # type: ignore[method-assign]
    yield seen
    emulator.account.execute = original  # type: ignore[method-assign]


def config(tmp_path: Path, run_id: str, **more: str):
    return resolve_config({"run_id": run_id, "artifacts_dir": str(tmp_path), **more}, {})


def specs_copy(tmp_path: Path, file: str, change: Callable[[str], str]) -> Path:
    folder = tmp_path / "specs"
    shutil.copytree(REPO_ROOT / "specs", folder)
    (folder / file).write_text(change((folder / file).read_text()))
    return folder


BAD_SPECS = {
    "public 9091 and 2379": (
        "milvus.yaml",
        lambda text: text.replace(
            "  - name: grpc\n    port: 19530\n    protocol: TCP\n    public: false\n", PUBLIC_METRICS_AND_ETCD
        ),
        ["milvus.yaml", "port 9091 public", "port 2379 public", "CVE-2026-26190"],
    ),
    "a pre-release Milvus image": (
        "milvus.yaml",
        lambda text: text.replace("milvus:${milvus_tag}", "milvus:v2.4.0-rc.1"),
        ["milvus.yaml", "v2.4.0-rc.1 is a pre-release"],
    ),
    "an image on latest": (
        "jupyter.yaml",
        lambda text: text.replace("jupyter:${jupyter_tag}", "jupyter:latest"),
        ["jupyter.yaml", "moving tag 'latest'"],
    ),
    "not YAML": (
        "jupyter.yaml",
        lambda text: text.replace("  endpoints:", "  endpoints: [unclosed"),
        ["jupyter.yaml", "not valid YAML"],
    ),
}


@pytest.mark.parametrize("case", list(BAD_SPECS))
def test_a_bad_spec_fails_preflight_and_nothing_runs(
    emulator: Emulator, statements: list[str], tmp_path: Path, case: str
) -> None:
    file, change, expected = BAD_SPECS[case]
    specs = specs_copy(tmp_path, file, change)
    run_id = "pfl" + format(list(BAD_SPECS).index(case), "03d")
    with (
        pytest.raises(PreflightError) as info,
        provisioned_stack(target_of(emulator), config(tmp_path, run_id), specs_dir=specs, report=print),
    ):
        pytest.fail("a stack with a bad spec was provisioned")
    for words in expected:
        assert words in str(info.value)
    assert statements == [], "no SQL may run before the specs pass"
    assert leftovers(emulator, run_id) == []
    assert not (tmp_path / run_id / "teardown.txt").exists(), "nothing was created, nothing to tear down"


def test_the_specs_dir_option_is_what_the_run_provisions_and_checks(
    emulator: Emulator, statements: list[str], tmp_path: Path
) -> None:
    """--specs-dir (a team's own specs) goes through the same preflight as the bundled ones."""
    file, change, expected = BAD_SPECS["an image on latest"]
    specs = specs_copy(tmp_path, file, change)
    with (
        pytest.raises(PreflightError) as info,
        provisioned_stack(
            target_of(emulator), config(tmp_path, "pfl200", specs_dir=str(specs)), report=print
        ),
    ):
        pytest.fail("a stack with a bad spec of --specs-dir was provisioned")
    for words in expected:
        assert words in str(info.value)
    assert statements == []


def test_the_shipped_specs_pass_preflight(emulator: Emulator, statements: list[str], tmp_path: Path) -> None:
    """The same check with the repository's own specs lets the run through (and tears it down)."""
    with provisioned_stack(target_of(emulator), config(tmp_path, "pfl100"), report=print) as state:
        assert set(state.spec_texts) == {"milvus.yaml", "jupyter.yaml"}
    assert leftovers(emulator, "pfl100") == []


def test_existing_objects_of_the_run_id_are_refused_not_adopted(
    emulator: Emulator, statements: list[str], tmp_path: Path
) -> None:
    target = target_of(emulator)
    first = config(tmp_path / "first", "dup001", keep_stack="1")
    with provisioned_stack(target, first, report=print):
        pass
    before = leftovers(emulator, "dup001")
    assert before, "the first run's stack is kept"
    statements.clear()
    with (
        pytest.raises(PreflightError) as info,
        provisioned_stack(target, config(tmp_path / "second", "dup001"), report=print),
    ):
        pytest.fail("a second run adopted the first run's objects")
    message = str(info.value)
    assert "run=dup001" in message
    assert "compute pool MILVUS_SPCS_DUP001_MILVUS_POOL" in message
    assert "user MILVUS_SPCS_DUP001_USER" in message
    assert "milvus-spcs down --run dup001" in message
    creating = [s for s in statements if not s.upper().startswith(("SHOW ", "USE ROLE "))]
    assert creating == [], "only listing statements ran"
    assert leftovers(emulator, "dup001") == before, "the other run's objects are untouched"
    teardown_run(SqlRunner(target, []), "dup001")
    assert leftovers(emulator, "dup001") == []


@pytest.mark.parametrize(
    "comment",
    [
        "",
        # a forged label of the run itself: untrustworthy (dated after its object), so no run owns it
        " COMMENT = 'milvus-spcs run=sqt001 created=2100-01-01T00:00:00+00:00'",
    ],
    ids=["unlabelled", "forged-label"],
)
def test_a_user_squatting_the_runs_name_is_refused_not_adopted(
    emulator: Emulator, statements: list[str], tmp_path: Path, comment: str
) -> None:
    """Issue 16, item 13: a role with only CREATE USER pre-creates the run's user with its own password
    (nightly run ids are predictable); IF NOT EXISTS adopted it and granted it the run's role."""
    target = target_of(emulator)
    squatter = SqlRunner(target, [])
    squatter.run(
        ["USE ROLE USERADMIN", f"CREATE USER MILVUS_SPCS_SQT001_USER PASSWORD = 'attackers-own-1'{comment}"]
    )
    statements.clear()
    with (
        pytest.raises(PreflightError) as info,
        provisioned_stack(target, config(tmp_path, "sqt001"), report=print),
    ):
        pytest.fail("the run adopted a user it did not create")
    message = str(info.value)
    assert "user MILVUS_SPCS_SQT001_USER" in message, message
    assert "without its label" in message, message
    creating = [s for s in statements if not s.upper().startswith(("SHOW ", "USE ROLE "))]
    assert creating == [], "only listing statements ran"
    assert len([s for s in statements if s.upper().startswith("SHOW USERS")]) == 1, "one listing"
    granted = squatter.run(["USE ROLE ACCOUNTADMIN", "SHOW GRANTS TO USER MILVUS_SPCS_SQT001_USER"])[1]
    assert granted == [], "the squatted user got nothing"
    squatter.run(["USE ROLE ACCOUNTADMIN", "DROP USER MILVUS_SPCS_SQT001_USER"])
