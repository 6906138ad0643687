"""The harness as a pytest plugin: loaded from the installed package's entry point, its options,
markers and fixtures work in any folder, without this repository's conftest; and the Milvus client
that runs inside the stack, tried on a real Milvus Lite through a stand-in kernel."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
import textwrap
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest

from milvus_spcs.remote_milvus import RemoteMilvus, RemoteMilvusError

REPO = Path(__file__).resolve().parents[1]


def run_pytest(cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """A real pytest run in ``cwd``, with no PYTHONPATH: only the installed plugin can help it."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("MILVUS_SPCS_", "PYTEST_"))}
    environment.pop("PYTHONPATH", None)
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_plugin_is_an_entry_point_of_the_installed_package() -> None:
    (plugin,) = [ep for ep in entry_points(group="pytest11") if ep.name == "milvus_spcs"]
    assert plugin.value == "milvus_spcs.pytest_plugin"


def collected(result: subprocess.CompletedProcess[str]) -> list[str]:
    """The test ids, from the checkout's root (a misrooted run writes them from another folder)."""
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    ids = [line for line in result.stdout.splitlines() if "::" in line]
    return [i[i.index("suites/") :] if "suites/" in i else i for i in ids]


@pytest.mark.parametrize("exists", [False, True], ids=["new-folder", "existing-folder"])
def test_artifacts_dir_in_either_form_from_the_checkout(tmp_path: Path, exists: bool) -> None:
    # The README's form: before, pytest took the path for a test path, rooted the run in it, never
    # loaded the root conftest that defined the option and stopped at "unrecognized arguments".
    outside = tmp_path / "artifacts"
    if exists:  # pytest then roots the run there and reads no ini file (pytest#8846): said, and harmless
        outside.mkdir()
    spaced = run_pytest(REPO, "-m", "spcs", "--artifacts-dir", str(outside), "--co", "-q")
    joined = run_pytest(REPO, "-m", "spcs", f"--artifacts-dir={outside}", "--co", "-q")
    assert "unrecognized arguments" not in spaced.stderr
    assert collected(spaced) == collected(joined)
    assert len(collected(spaced)) > 20
    assert all(t.startswith("suites/spcs/") for t in collected(spaced))
    assert ("for a test path and read no ini file" in spaced.stdout) is exists
    assert "Unknown pytest.mark" not in spaced.stdout  # the markers are registered without the ini file
    header = run_pytest(REPO, "--artifacts-dir", str(outside), "--co", "suites/spcs/test_grants.py").stdout
    assert f"artifacts={outside}/" in header


# The plugin's markers, under --strict-markers (written out here, not as decorators of this repository).
PLUGIN_MARKS = "".join(f"@pytest.mark.{name}\n" for name in ("spcs", "local", "destructive", "docker"))
PROJECT_TEST = (
    "import pytest\n"
    + PLUGIN_MARKS
    + """def test_options_and_config(harness_config, pytestconfig):
    assert str(harness_config.artifacts_dir) == pytestconfig.getoption("artifacts_dir")
    assert harness_config.run_id == "plg001"
    assert harness_config.specs_dir is not None and (harness_config.specs_dir / "milvus.yaml").is_file()
    assert harness_config.notebooks_dir is not None

def test_local_fixtures(milvus_client, make_collection):
    name = make_collection()
    assert name in milvus_client.list_collections()
"""
)


def test_options_markers_and_fixtures_in_a_project_of_its_own(tmp_path: Path) -> None:
    project = tmp_path / "team"
    (project / "tests").mkdir(parents=True)
    (project / "pyproject.toml").write_text('[tool.pytest.ini_options]\naddopts = ["--strict-markers"]\n')
    (project / "tests" / "test_team.py").write_text(PROJECT_TEST)
    specs = project / "specs"
    specs.mkdir()
    for name in ("milvus.yaml", "jupyter.yaml"):
        (specs / name).write_text((REPO / "specs" / name).read_text())
    notebooks = project / "notebooks"
    notebooks.mkdir()
    (notebooks / "Team.ipynb").write_text("{}")
    args = ["--run-id", "plg001", "--artifacts-dir", str(tmp_path / "out"), "--specs-dir", "specs"]
    result = run_pytest(project, *args, "--notebooks-dir", "notebooks", "-q", "tests")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "2 passed" in result.stdout


@pytest.mark.parametrize(
    ("option", "make", "message"),
    [
        ("--specs-dir", lambda p: p, "lacks milvus.yaml, jupyter.yaml"),
        ("--specs-dir", lambda p: p / "missing", "is not a folder"),
        ("--notebooks-dir", lambda p: p, "holds no .ipynb file"),
    ],
)
def test_a_bad_specs_or_notebooks_folder_is_a_usage_error(
    tmp_path: Path, option: str, make: Any, message: str
) -> None:
    (tmp_path / "test_x.py").write_text("def test_x():\n    pass\n")
    result = run_pytest(tmp_path, option, str(make(tmp_path)), "-q")
    assert result.returncode == pytest.ExitCode.USAGE_ERROR, result.stdout + result.stderr
    assert message in result.stderr


class ExecKernel:
    """Runs cells in one namespace of this process, as a kernel would, printing to a buffer."""

    def __init__(self) -> None:
        self.namespace: dict[str, Any] = {}
        self.cells: list[str] = []

    def run(self, *cells: str) -> list[str]:
        outputs = []
        for cell in cells:
            self.cells.append(cell)
            buffer = io.StringIO()
            with contextlib.redirect_stdout(buffer):
                exec(cell, self.namespace)
            outputs.append(buffer.getvalue())
        return outputs


@pytest.fixture
def milvus_lite_uri(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    import pymilvus  # noqa: F401  (pymilvus reads MILVUS_URI once, at import: import it before setting it)

    uri = str(tmp_path / "milvus.db")
    monkeypatch.setenv("MILVUS_URI", uri)  # what the Jupyter container's environment holds
    return uri


def test_remote_milvus_calls_any_client_method_and_returns_plain_values(milvus_lite_uri: str) -> None:
    kernel = ExecKernel()
    remote = RemoteMilvus(kernel)
    remote.create_collection(collection_name="docs", dimension=4)
    inserted = remote.insert(
        collection_name="docs",
        data=[{"id": 1, "vector": [0.1, 0.2, 0.3, 0.4]}, {"id": 2, "vector": [0.4, 0.3, 0.2, 0.1]}],
    )
    assert inserted["insert_count"] == 2
    assert inserted["ids"] == [1, 2]
    hits = remote.search(collection_name="docs", data=[[0.4, 0.3, 0.2, 0.1]], limit=1)
    assert hits[0][0]["id"] == 2
    assert remote.call("list_collections") == ["docs"]
    assert sum("MilvusClient(" in cell for cell in kernel.cells) == 1  # one client, made on first use


def test_remote_milvus_says_which_call_failed_and_refuses_private_names(milvus_lite_uri: str) -> None:
    remote = RemoteMilvus(ExecKernel())
    with pytest.raises(ValueError, match="not a MilvusClient method"):
        remote.call("_get_connection")
    with pytest.raises(AttributeError):
        remote._private  # noqa: B018
    with pytest.raises(TypeError):  # not JSON: refused here, before the kernel sees it
        remote.call("describe_collection", collection_name=object())


def test_remote_milvus_failure_in_the_kernel_names_the_method() -> None:
    class FailingKernel:
        def run(self, *cells: str) -> list[str]:
            from milvus_spcs.jupyter_client import KernelError

            raise KernelError("Traceback ...\nMilvusException: collection not found")

    with pytest.raises(
        RemoteMilvusError, match=r"(?s)MilvusClient.describe_collection failed .*collection not found"
    ):
        RemoteMilvus(FailingKernel()).describe_collection(collection_name="nope")


def test_remote_milvus_without_a_result_line_says_what_was_printed() -> None:
    class SilentKernel:
        def run(self, *cells: str) -> list[str]:
            return ["" for _ in cells[:-1]] + [textwrap.dedent("warning: something\n")]

    with pytest.raises(RemoteMilvusError, match="printed no result: 'warning: something"):
        RemoteMilvus(SilentKernel()).list_collections()
