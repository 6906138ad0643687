"""Every observation of Snowflake (tests/conformance/observations/) replayed against the emulator."""

from __future__ import annotations

from typing import Any

import pytest

from milvus_spcs.conformance.observation import Observation, load_dir
from milvus_spcs.conformance.verdict import verdict
from tests.conformance.conftest import CATALOGUE, OBSERVATIONS


def test_the_shipped_catalogue_is_large_enough_and_sourced() -> None:
    shipped = load_dir(OBSERVATIONS)
    assert len(shipped) >= 40
    assert all(obs.source.strip() for obs in shipped)


@pytest.mark.parametrize("obs", CATALOGUE, ids=[o.id for o in CATALOGUE])
def test_emulator_answers_as_observed(obs: Observation, catalogue_answers: dict[str, dict[str, Any]]) -> None:
    answer = catalogue_answers[obs.id]
    assert "skipped" not in answer, answer
    problems = verdict(obs, answer)
    assert not problems, "\n".join([*problems, f"the emulator answered: {answer}"])
