"""The specs the run deployed: no secret in env, no public 2379/9091/19530, pinned images."""

from __future__ import annotations

import pytest

from milvus_spcs.specs import check_spec_policy, parse_spec
from milvus_spcs.stack.spcs_plan import StackState
from milvus_spcs.stack.sql_runner import SqlRunner

pytestmark = pytest.mark.spcs


@pytest.mark.parametrize("spec", ["milvus.yaml", "jupyter.yaml"])
def test_rendered_specs_pass_the_policy(spcs_stack: StackState, spec: str) -> None:
    assert (
        check_spec_policy(parse_spec(spcs_stack.spec_texts[spec]), known_secrets=[spcs_stack.password]) == []
    )


@pytest.mark.parametrize("service", ["milvus_service", "jupyter_service"])
def test_deployed_specs_pass_the_policy(spcs_sql: SqlRunner, spcs_stack: StackState, service: str) -> None:
    names = spcs_stack.names
    row = spcs_sql.query(
        "USE ROLE SYSADMIN", f"DESCRIBE SERVICE {names.database}.{names.schema}.{getattr(names, service)}"
    )[0]
    assert check_spec_policy(parse_spec(row["spec"]), known_secrets=[spcs_stack.password]) == []
