"""The guide's stack on the emulator with the real runtime: Milvus (the real binary) and Jupyter run as
local processes, the ingress authenticates, and stopping the emulator leaves no process behind."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests
import snowflake.connector

from milvus_spcs.target import token_of
from milvus_spcs.waits import Probe, wait_for
from spcs_emulator.emulator import Emulator
from spcs_emulator.spcs.lifecycle import ENDPOINT_PROVISIONING_TEXT
from spcs_emulator.spcs.processes import descendants, is_alive
from tests.emulator.guide import DATA, statements
from tests.emulator.images import publish, publish_files
from tests.emulator.sql import rows, wait_status

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def test_guide_stack_runs_for_real_and_leaves_nothing_behind(tmp_path: Path) -> None:
    emu = Emulator(state_dir=tmp_path / "state").start()
    pids: list[int] = []
    try:
        conn = snowflake.connector.connect(**emu.connection_parameters())
        cur = conn.cursor()
        for sql in statements(DATA / "guide_setup.sql"):
            cur.execute(sql)
        repo = rows(cur, "SHOW IMAGE REPOSITORIES IN SCHEMA MILVUS_DEMO.PUBLIC")[0]["repository_url"]
        publish(emu, f"{repo}/milvus:latest", "milvus")
        publish_files(emu, f"{repo}/jupyter:latest", "jupyter", REPO / "images/jupyter")
        for spec in ("milvus.yaml", "jupyter.yaml"):
            cur.execute(f"PUT file://{DATA / spec} @yaml_stage overwrite=true auto_compress=false")
        for sql in statements(DATA / "guide_services.sql"):
            cur.execute(sql)
        cur.execute("USE ROLE SYSADMIN")
        wait_status(cur, "MILVUS", "RUNNING", timeout=180)
        wait_status(cur, "JUPYTER", "RUNNING", timeout=120)
        for sql in statements(DATA / "guide_checks.sql"):
            cur.execute(sql)
            assert cur.fetchall(), sql
        milvus_log = rows(cur, "CALL SYSTEM$GET_SERVICE_LOGS('milvus', '0', 'milvus', 100)")[0]
        assert next(iter(milvus_log.values())).strip(), "the real Milvus wrote its log"

        def ingress() -> Probe[str]:
            url = rows(cur, "SHOW ENDPOINTS IN SERVICE MILVUS_DEMO.PUBLIC.JUPYTER")[0]["ingress_url"]
            return Probe(url != ENDPOINT_PROVISIONING_TEXT, url, state=url)

        host = wait_for(ingress, what="the Jupyter ingress URL", timeout=30, interval=0.2)
        api = f"http://{host}/api/contents"

        anonymous = requests.get(api, allow_redirects=False, timeout=10)
        assert anonymous.status_code == 302, "no credentials must redirect to a login, not answer"

        owner = requests.get(
            api, headers={"Authorization": f'Snowflake Token="{token_of(conn)}"'}, timeout=10
        )
        assert owner.status_code == 200
        assert "TestMilvus.ipynb" in {item["name"] for item in owner.json()["content"]}

        cur.execute("USE ROLE ACCOUNTADMIN")
        pat = rows(
            cur, "ALTER USER milvus_user ADD PROGRAMMATIC ACCESS TOKEN T1 ROLE_RESTRICTION = 'MILVUS_ROLE'"
        )[0]
        as_user = {"Authorization": f'Snowflake Token="{pat["token_secret"]}"'}
        assert (
            requests.get(api, headers=as_user, timeout=10).status_code == 403
        )  # USAGE on the service is not enough
        cur.execute("GRANT SERVICE ROLE MILVUS_DEMO.PUBLIC.JUPYTER!ALL_ENDPOINTS_USAGE TO ROLE MILVUS_ROLE")
        assert requests.get(api, headers=as_user, timeout=10).status_code == 200

        with emu.account.state.lock:
            handles = [
                h for s in emu.control.services.values() for i in s.instances for h in i.containers.values()
            ]
        pids = [p for h in handles for p in (h.pid, *descendants(h.pid)) if p]
        assert len(handles) == 2
        assert all(is_alive(p) for p in pids[:1])
        conn.close()
    finally:
        emu.stop()
    assert pids
    assert [p for p in pids if is_alive(p)] == [], "every process the emulator started is gone"
