"""The emulated Milvus stops and restarts without dead time (bench.spcs_path measured 36 s of it per run,
then 5-8 s per resume of a query waiting for the stopped instance's sessions, and 9 s of some teardowns)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from spcs_emulator.spcs import runtime_kinds
from spcs_emulator.spcs.runtime import LocalRuntime
from tests.emulator.local_runtime import real_milvus_on_a_volume, run_client, wait_container

# A relaunched Milvus answered its first query on a loaded collection 5-8 s after it was ready while the
# stopped instance's etcd sessions lived on (common.session.ttl 10 s), about 1 s once they expire in 5 s.
FIRST_QUERY_SECONDS = 3.5
# A standalone Milvus has no other query node to hand its segments to: stopped at once, ~0.05 s.
FIRST_STOP_SECONDS = 0.8


@pytest.mark.slow
def test_a_relaunched_milvus_serves_its_loaded_collection_soon_after_it_is_ready(
    runtime: LocalRuntime,
    tmp_path: Path,
    marker: str,
) -> None:
    """As after ALTER SERVICE ... SUSPEND and RESUME: the same volume, a new process. Its first query
    must not wait for the stopped instance's sessions to expire."""
    launch, hosts, port = real_milvus_on_a_volume(tmp_path, marker)
    handle = runtime.launch(launch)
    wait_container(handle, "READY", timeout=180)
    uri = f"http://milvus:{port}"
    create = (
        f"from pymilvus import MilvusClient\nc = MilvusClient({uri!r}, timeout=30)\n"
        "c.create_collection('docs', dimension=4)\n"
        "c.insert('docs', [{'id': 1, 'vector': [0.1, 0.2, 0.3, 0.4]}])\nc.flush('docs')\nprint('ok')\n"
    )
    assert run_client(create, hosts, tmp_path / "client").strip() == "ok"
    started = time.monotonic()
    handle.stop()  # as SUSPEND: its query node waited queryNode.gracefulStopTimeout (30 s, then 1 s)
    first_stop = time.monotonic() - started

    again = runtime.launch(launch)
    wait_container(again, "READY", timeout=180)
    query = (
        "import json, time\nfrom pymilvus import MilvusClient\n"
        f"c = MilvusClient({uri!r}, timeout=60)\nstarted = time.monotonic()\nc.load_collection('docs')\n"
        "rows = c.query('docs', filter='', output_fields=['count(*)'], consistency_level='Strong')\n"
        "print(json.dumps([rows[0]['count(*)'], time.monotonic() - started]))\n"
    )
    count, seconds = json.loads(run_client(query, hosts, tmp_path / "client").strip().splitlines()[-1])
    started = time.monotonic()
    again.stop()  # soon after the relaunch: this stop lasted until the runtime's grace ran out
    stopped = time.monotonic() - started
    assert count == 1  # the data outlived both stops
    assert first_stop < FIRST_STOP_SECONDS, f"the first stop took {first_stop:.1f} s"
    assert seconds < FIRST_QUERY_SECONDS, f"the first query after the relaunch took {seconds:.1f} s"
    assert stopped < runtime_kinds.MILVUS_STOP_GRACE + 1.0, f"the stop took {stopped:.1f} s"
