"""The docker runtime keeps one engine log per container and splits it into runs (pure logic)."""

from __future__ import annotations

from spcs_emulator.spcs.docker_runtime import split_runs

LOG = (
    "2026-12-07T08:00:00.100000000Z first run starts\n"
    "2026-12-07T08:00:05.000000000Z GET /crash-marker\n"
    "2026-12-07T08:00:09.500000000Z second run starts\n"
)


def attrs(*, restarts: int, started: str, restarting: bool = False) -> dict:
    return {"RestartCount": restarts, "State": {"StartedAt": started, "Restarting": restarting}}


def test_a_container_never_restarted_has_no_previous_run() -> None:
    state = attrs(restarts=0, started="2026-12-07T08:00:00.000000000Z")
    assert split_runs(LOG, state, previous=True, lines=None, timestamps=False) == ""
    assert split_runs(LOG, state, previous=False, lines=None, timestamps=False).count("\n") == 3


def test_a_restarted_container_splits_at_the_current_start() -> None:
    state = attrs(restarts=1, started="2026-12-07T08:00:09.000000000Z")
    assert split_runs(LOG, state, previous=True, lines=None, timestamps=False) == (
        "first run starts\nGET /crash-marker\n"
    )
    assert split_runs(LOG, state, previous=False, lines=None, timestamps=False) == "second run starts\n"


def test_between_runs_everything_is_previous() -> None:
    # The engine counts the restart when the process dies and sets StartedAt only when the next run
    # starts: in between, StartedAt is the dead run's own start.
    state = attrs(restarts=1, started="2026-12-07T08:00:00.000000000Z", restarting=True)
    previous = split_runs(LOG, state, previous=True, lines=None, timestamps=False)
    assert "GET /crash-marker" in previous
    assert split_runs(LOG, state, previous=False, lines=None, timestamps=False) == ""


def test_lines_keeps_the_last_ones_with_or_without_stamps() -> None:
    state = attrs(restarts=1, started="2026-12-07T08:00:09.000000000Z")
    assert split_runs(LOG, state, previous=True, lines=1, timestamps=True) == (
        "2026-12-07T08:00:05.000000000Z GET /crash-marker\n"
    )
    assert split_runs(LOG, state, previous=True, lines=0, timestamps=False) == ""
