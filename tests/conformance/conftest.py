"""One self-started emulator (fake containers, the real ingress) runs the whole catalogue once; each
observation is then one test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from milvus_spcs.conformance.catalogue import CatalogueRun
from milvus_spcs.conformance.observation import load_dir
from milvus_spcs.target import Target, TargetKind
from spcs_emulator.emulator import Emulator
from spcs_emulator.spcs.ingress import IngressProxy
from tests.emulator.fakes import FakeRuntime

OBSERVATIONS = Path(__file__).parent / "observations"
CATALOGUE = load_dir(OBSERVATIONS)


@pytest.fixture(scope="session")
def emulator_target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    state = tmp_path_factory.mktemp("conformance") / "state"
    with Emulator(runtime=FakeRuntime(), ingress=IngressProxy(), state_dir=state) as emu:
        yield Target(TargetKind.EMULATOR, "conformance emulator", emu.connection_parameters())


@pytest.fixture(scope="session")
def catalogue_answers(emulator_target: Target) -> dict[str, dict[str, Any]]:
    return CatalogueRun(emulator_target, with_services=True, service_timeout=60).run(CATALOGUE)
