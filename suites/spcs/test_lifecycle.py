"""Destructive, so it runs last: suspend and resume Milvus; the data (on its block volume) is still there."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from milvus_spcs.jupyter_client import JupyterOverIngress
from milvus_spcs.stack.spcs_plan import Budgets, StackState
from milvus_spcs.stack.sql_runner import SqlRunner
from milvus_spcs.waits import Probe, wait_for

pytestmark = [pytest.mark.spcs, pytest.mark.destructive]


def wait_status(sql: SqlRunner, fqn: str, wanted: str, budgets: Budgets) -> None:
    def probe() -> Probe[None]:
        status = sql.query("USE ROLE SYSADMIN", f"DESCRIBE SERVICE {fqn}")[0]["status"]
        return Probe(status == wanted, state=status)

    wait_for(probe, what=f"{fqn} to be {wanted}", timeout=budgets.service, interval=budgets.interval)


def test_milvus_keeps_its_data_across_suspend_and_resume(
    spcs_sql: SqlRunner,
    spcs_stack: StackState,
    spcs_budgets: Budgets,
    ingress_url: str,
    run_user_token: str,
    record_property: Callable[[str, object], None],
) -> None:
    names = spcs_stack.names
    collection = f"lifecycle_{names.run_id}"
    with JupyterOverIngress(ingress_url, run_user_token).kernel() as kernel:
        # The notebook's kernel stays open across the suspend and resume, as a user's would.
        result = kernel.run_notebook("TestMilvus.ipynb", collection=collection)
        assert result["count"] == 3
        # The notebook's own timings: in the JUnit XML, and what bench.spcs_path counts as irreducible.
        record_property("notebook_model_load_seconds", result["seconds"]["model_load"])
        record_property("notebook_demo_seconds", result["seconds"]["demo"])
        suspend_and_resume(spcs_sql, f"{names.database}.{names.schema}.{names.milvus_service}", spcs_budgets)
        count = (
            "import json, os\nfrom pymilvus import MilvusClient\n"
            "client = MilvusClient(os.environ['MILVUS_URI'], timeout=60)\n"
            f"client.load_collection({collection!r})\n"
            f"rows = client.query({collection!r}, filter='', output_fields=['count(*)'],"
            " consistency_level='Strong')\n"
            "print(json.dumps(rows[0]['count(*)']))\n"
        )
        assert json.loads(kernel.run(count)[0].strip().splitlines()[-1]) == 3


def suspend_and_resume(spcs_sql: SqlRunner, milvus: str, budgets: Budgets) -> None:
    spcs_sql.run(["USE ROLE SYSADMIN", f"ALTER SERVICE {milvus} SUSPEND"])
    wait_status(spcs_sql, milvus, "SUSPENDED", budgets)
    spcs_sql.run(["USE ROLE SYSADMIN", f"ALTER SERVICE {milvus} RESUME"])
    wait_status(spcs_sql, milvus, "RUNNING", budgets)
