"""One self-started emulator (fake containers, the real ingress) runs the whole catalogue once; each
observation is then one test. MILVUS_SPCS_OBSERVATIONS=<file> replays that file (a recording of
`milvus-spcs record`) instead of the shipped catalogue: what the nightly does with the account's."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from milvus_spcs.conformance.catalogue import CatalogueRun
from milvus_spcs.conformance.observation import load, load_dir
from milvus_spcs.target import EmulatorTarget, Target
from spcs_emulator.emulator import Emulator
from spcs_emulator.spcs.ingress import IngressProxy
from tests.emulator.fakes import FakeRuntime

OBSERVATIONS = Path(__file__).parent / "observations"
RECORDING = os.environ.get("MILVUS_SPCS_OBSERVATIONS")
CATALOGUE = load(Path(RECORDING)) if RECORDING else load_dir(OBSERVATIONS)


@pytest.fixture(scope="session")
def emulator_target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    state = tmp_path_factory.mktemp("conformance") / "state"
    with conformance_emulator(state) as emu:
        yield EmulatorTarget("conformance emulator", emu.connection_parameters())


def conformance_emulator(state: Path) -> Emulator:
    """Fake containers (READY at once) behind the real ingress: SQL, statuses and ingress refusals."""
    return Emulator(runtime=FakeRuntime(), ingress=IngressProxy(), state_dir=state)


@pytest.fixture(scope="session")
def catalogue_answers(emulator_target: Target) -> dict[str, dict[str, Any]]:
    return CatalogueRun(emulator_target, with_services=True, service_timeout=60).run(CATALOGUE)
