"""The ingress URL is found whatever type SHOW ENDPOINTS gives is_public: the emulator answers text, the
REST schema says boolean (issue 19: a first real run might never have found it)."""

from __future__ import annotations

from typing import Any

import pytest

from milvus_spcs.stack.service_status import ENDPOINT_PROVISIONING_TEXT, ingress_url, is_true

URL = "abc123-org-acct.snowflakecomputing.app"


class Rows:
    """Pure logic under test: a runner that answers SHOW ENDPOINTS with the given rows."""

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.rows = rows

    def query(self, *statements: str) -> list[dict[str, Any]]:
        assert statements[-1].startswith("SHOW ENDPOINTS IN SERVICE")
        return self.rows


@pytest.mark.parametrize("public", [True, "true", "TRUE", " true "])
def test_a_public_endpoint_is_found_whatever_the_column_type(public: object) -> None:
    rows = [
        {"name": "grpc", "is_public": False, "ingress_url": None},
        {"name": "jupyter", "is_public": public, "ingress_url": URL},
    ]
    probe = ingress_url(Rows(rows), "DB.S.JUPYTER")  # type: ignore[arg-type]
    assert (probe.done, probe.value) == (True, URL)


@pytest.mark.parametrize("private", [False, "false", "FALSE", None, 0, "1"])
def test_anything_else_is_not_public(private: object) -> None:
    assert not is_true(private)
    rows = [{"name": "grpc", "is_public": private, "ingress_url": URL}]
    assert not ingress_url(Rows(rows), "DB.S.JUPYTER").done  # type: ignore[arg-type]


def test_the_provisioning_text_is_not_a_url() -> None:
    rows = [{"name": "jupyter", "is_public": True, "ingress_url": ENDPOINT_PROVISIONING_TEXT}]
    assert not ingress_url(Rows(rows), "DB.S.JUPYTER").done  # type: ignore[arg-type]
