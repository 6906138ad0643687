"""A container's output is hostile input: it grows neither the emulator's memory nor its disk, and
SYSTEM$GET_SERVICE_LOGS reads a bounded tail of it (the red team's issue 16, items 10 and 11).

The attack: a container writes 64 MiB to stdout without a newline. Before, the emulator read it as one
line (hundreds of MiB of its own memory), wrote it into a log file with no cap, and the harness's own
diagnostic call, ``SYSTEM$GET_SERVICE_LOGS(..., 200)``, re-read that line quadratically for 30 s while
holding the account's lock (every other session's statements waited).

The container runs through the process runtime with a command of its own (the test's planner stands in
for the Milvus Lite image's), so these tests start no server; run them under the shared lock
(flock /tmp/heavy.lock) all the same.
"""

from __future__ import annotations

import re
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import snowflake.connector

from milvus_spcs.waits import Probe, wait_for
from spcs_emulator.emulator import Emulator
from spcs_emulator.spcs import runtime_kinds
from spcs_emulator.spcs.runtime_api import ContainerLaunch
from spcs_emulator.spcs.runtime_kinds import ContainerDirs, RunPlan
from tests.emulator.services import container_of, create_service

FLOOD_MIB = 64
# The emulator's bounds (spcs/container_logs.py), spelled out: the test must import on the baseline too.
LINE_MAX_BYTES = 16 * 1024
LOG_FILE_MAX_BYTES = 4 * 1024 * 1024
TAIL_MAX_BYTES = 1024 * 1024
TIMESTAMP_LENGTH = len("2024-10-22T01:12:29.873896187Z")
SERVICE = "DB.PUBLIC.FLOOD"
SPEC = """
spec:
  containers:
  - name: main
    image: /db/public/repo/flood:v1
"""
# 64 MiB without a newline, then a last line; then it stays (a container that ends would restart).
FLOOD = f"""
import signal, sys
out = sys.stdout.buffer
for _ in range({FLOOD_MIB}):
    out.write(b"x" * (1 << 20))
out.write(b"\\nDONE\\n")
out.flush()
signal.pause()
"""


def plan_flood(launch: ContainerLaunch, dirs: ContainerDirs, _cache: Path) -> RunPlan:
    return RunPlan([sys.executable, "-c", FLOOD], dirs.cwd)


def _kib(field: str) -> int:
    found = re.search(rf"^{field}:\s+(\d+) kB", Path("/proc/self/status").read_text(), re.MULTILINE)
    assert found is not None
    return int(found.group(1))


@dataclass
class Flooded:
    emu: Emulator
    conn: snowflake.connector.SnowflakeConnection
    log_dir: Path
    peak_growth: int  # bytes the emulator's (this process's) peak RSS grew while the output was read


@pytest.fixture(scope="module")
def flooded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flooded]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(runtime_kinds.PLANNERS, "milvus-lite", plan_flood)
        emu = Emulator(state_dir=tmp_path_factory.mktemp("flood") / "state").start()
        try:
            before = _kib("VmRSS")
            Path("/proc/self/clear_refs").write_text("5")  # the peak (VmHWM) starts again from here
            conn = create_service(emu, "FLOOD", SPEC, "milvus-lite")

            def done() -> Probe[Path]:
                try:
                    log = container_of(emu, "FLOOD").launch.log_dir / "instance-0.log"
                    with log.open("rb") as fh:
                        fh.seek(max(0, fh.seek(0, 2) - 64))
                        return Probe(fh.read().endswith(b" DONE\n"), log.parent)
                except (KeyError, IndexError, StopIteration, FileNotFoundError):
                    return Probe(False, state="no log yet")

            log_dir = wait_for(done, what="the container's output in its log", timeout=30, interval=0.05)
            assert log_dir is not None
            yield Flooded(emu, conn, log_dir, (_kib("VmHWM") - before) * 1024)
            conn.close()
        finally:
            emu.stop()


def test_a_container_writing_64_mib_without_a_newline_does_not_grow_the_emulator(
    flooded: Flooded,
) -> None:
    assert flooded.peak_growth < 32 * 1024 * 1024, (
        f"the emulator grew by {flooded.peak_growth >> 20} MiB reading {FLOOD_MIB} MiB of output"
    )


def test_the_log_on_disk_is_capped_and_rotated(flooded: Flooded) -> None:
    sizes = {path.name: path.stat().st_size for path in flooded.log_dir.iterdir()}
    longest = LINE_MAX_BYTES + TIMESTAMP_LENGTH + 2
    assert all(size <= LOG_FILE_MAX_BYTES + longest for size in sizes.values()), sizes
    assert set(sizes) == {"instance-0.log", "instance-0.log.1"}, sizes  # the current and one rotated


def test_the_log_tail_over_a_huge_line_is_bounded_and_blocks_no_other_session(flooded: Flooded) -> None:
    cur = flooded.conn.cursor()
    other = snowflake.connector.connect(**flooded.emu.connection_parameters())
    answer: list[str] = []
    took: list[float] = []

    def diagnostics() -> None:  # the harness's own call (milvus_spcs/stack/service_status.py)
        start = time.monotonic()
        cur.execute(f"CALL SYSTEM$GET_SERVICE_LOGS('{SERVICE}', '0', 'main', 200, FALSE)")
        took.append(time.monotonic() - start)
        answer.append(cur.fetchone()[0])

    caller = threading.Thread(target=diagnostics)
    caller.start()
    waits = []
    try:
        while True:  # another session's statements meanwhile
            start = time.monotonic()
            other.cursor().execute("SELECT 1")
            waits.append(time.monotonic() - start)
            if not caller.is_alive():
                break
    finally:
        caller.join()
        other.close()
    assert took[0] < 1.0, f"SYSTEM$GET_SERVICE_LOGS took {took[0]:.1f} s"
    assert max(waits) < 1.0, f"another session's statement waited {max(waits):.1f} s"
    text = answer[0]
    assert text.endswith("DONE\n")
    assert len(text.encode()) <= TAIL_MAX_BYTES
    lines = text.splitlines()
    assert 1 < len(lines) <= 200
    assert all(len(line) <= LINE_MAX_BYTES for line in lines)  # the long line arrives in pieces
    assert set(lines[-3]) == {"x"}


def test_the_default_tail_is_snowflakes_100_kb(flooded: Flooded) -> None:
    cur = flooded.conn.cursor()
    cur.execute(f"CALL SYSTEM$GET_SERVICE_LOGS('{SERVICE}', '0', 'main')")
    text = cur.fetchone()[0]
    assert 0 < len(text.encode()) <= 100 * 1024
    assert text.endswith("DONE\n")


# -- the bounded tail itself (no processes) ---------------------------------------------------------


def test_the_tail_reads_on_into_the_rotated_file_and_keeps_the_previous_runs_two(tmp_path: Path) -> None:
    from spcs_emulator.spcs.container_logs import LogFiles, timestamp

    files = LogFiles(tmp_path, "instance-0")
    files.reset()
    files.current.write_text("".join(f"{timestamp()} old {i}\n" for i in range(3)))
    files.rotate_full()
    files.current.write_text(f"{timestamp()} new 0\n")
    assert files.read(lines=3) == "old 1\nold 2\nnew 0\n"
    assert files.read() == "old 0\nold 1\nold 2\nnew 0\n"
    files.rotate()  # a restart: both files become the previous run's
    assert files.read(previous=True, lines=2) == "old 2\nnew 0\n"
    assert files.read() == ""
    assert not files.current_rotated.exists()


def test_the_tail_of_a_file_with_one_huge_line_reads_a_bounded_end(tmp_path: Path) -> None:
    from spcs_emulator.spcs.container_logs import LogFiles, timestamp

    files = LogFiles(tmp_path, "instance-0")  # a file written before lines were cut at 16 KiB
    files.current.write_bytes(timestamp().encode() + b" " + b"y" * (64 << 20) + b"\n" + b"z" * 30 + b" end\n")
    start = time.monotonic()
    assert files.read(lines=200) == "end\n"  # the cut line is left out, only whole lines
    assert time.monotonic() - start < 0.5


def test_the_docker_runtime_holds_a_bounded_window_of_the_engines_log() -> None:
    from spcs_emulator.spcs.docker_runtime import engine_log_tail

    asked: dict[str, object] = {}
    message = b"2026-12-07T08:00:09.600000000Z " + b"x" * LINE_MAX_BYTES

    class Stream:
        def __iter__(self) -> Iterator[bytes]:  # 64 MiB of 16 KiB messages, never all at once
            yield from (message for _ in range((64 << 20) // len(message)))
            yield b"2026-12-07T08:00:09.700000000Z DONE\n"

        def close(self) -> None:
            asked["closed"] = True

    class Container:
        def logs(self, **options: object) -> Stream:
            asked.update(options)
            return Stream()

    attrs = {"RestartCount": 1, "State": {"StartedAt": "2026-12-07T08:00:09.500000000Z"}}
    text = engine_log_tail(Container(), attrs, previous=False, lines=200)
    assert text.endswith("DONE\n")
    assert len(text) <= TAIL_MAX_BYTES
    assert (asked["tail"], asked["since"], asked["closed"]) == (200, 1796630408, True)
    assert asked["follow"] is False  # a followed stream never ends
    asked.clear()
    engine_log_tail(Container(), attrs, previous=True, lines=200)
    assert asked["until"] == 1796630410
    assert "tail" not in asked  # the engine applies tail before until: it would keep the current run
