"""The team's questions on a local Milvus (Milvus Lite by default; `--milvus-backend server` for the real
binary): the plugin's `milvus_client` and `make_collection`."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import pytest

pytestmark = pytest.mark.local


def test_each_question_finds_its_passage_first(
    handbook_rows: list[dict[str, Any]],
    milvus_client: Any,
    make_collection: Callable[[], str],
    assert_each_question_answered: Callable[[Callable[..., Any]], None],
) -> None:
    name = make_collection()  # the harness's demo schema: id, vector (384), text
    milvus_client.insert(collection_name=name, data=handbook_rows)
    assert_each_question_answered(functools.partial(milvus_client.search, collection_name=name))
