"""The team's collection and questions on the provisioned stack (the bundled emulator unless
`--snowflake-connection` names an account): vectors are made here, Milvus is reached from inside the
stack (`spcs_milvus` runs each MilvusClient call in a kernel of the Jupyter service), and the team's own
notebook runs in the Jupyter service (`--notebooks-dir=notebooks`, in pyproject.toml's addopts)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import pytest

pytestmark = pytest.mark.spcs


def test_each_question_finds_its_passage_first_in_the_stack(
    handbook: dict[str, Any],
    handbook_rows: list[dict[str, Any]],
    spcs_milvus: Any,
    spcs_stack: Any,
    assert_each_question_answered: Callable[[Callable[..., Any]], None],
) -> None:
    name = f"{handbook['collection']}_{spcs_stack.names.run_id}"
    spcs_milvus.create_collection(collection_name=name, dimension=384, metric_type="COSINE")
    try:
        assert spcs_milvus.insert(collection_name=name, data=handbook_rows)["insert_count"] == len(
            handbook_rows
        )
        assert_each_question_answered(functools.partial(spcs_milvus.search, collection_name=name))
    finally:
        spcs_milvus.drop_collection(collection_name=name)


def test_the_teams_notebook_runs_in_the_jupyter_service(spcs_notebook: Callable[..., dict[str, Any]]) -> None:
    result = spcs_notebook("Handbook.ipynb")
    assert result["uri_host"] == "milvus"  # Milvus by its service DNS name, as in the guide
    assert (result["inserted"], result["top"]) == (3, 2)
