"""One run's stack from start to finish: provision the plan, hand the state to the caller, and tear
everything down on every exit path (failure half-way, test failures, SIGINT, SIGTERM)."""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

from milvus_spcs.config import HarnessConfig
from milvus_spcs.errors import HarnessError, PreflightError
from milvus_spcs.naming import StackNames
from milvus_spcs.stack.diagnosis import diagnose, explain, write_diagnoses
from milvus_spcs.stack.executor import ExecutionRecord, execute
from milvus_spcs.stack.janitor import find_runs, labels_in, list_objects, named_as_run, runs_reported
from milvus_spcs.stack.plan import Plan
from milvus_spcs.stack.progress import Fanout, NoProgress, Progress
from milvus_spcs.stack.spcs_plan import SPECS_DIR, StackState, build_plan
from milvus_spcs.stack.sql_runner import SqlRunner
from milvus_spcs.stack.teardown import TeardownReport, undo_all
from milvus_spcs.stack.timeline import (
    PROVISIONING,
    TEARDOWN,
    TimelineRecorder,
    timeline_document,
    write_timeline,
)
from milvus_spcs.stack.usage import UsageMeter, usage_line, write_usage
from milvus_spcs.target import Target

log = logging.getLogger(__name__)


@contextlib.contextmanager
def signals_recorded(on_signal: Callable[[], None] = lambda: None) -> Iterator[list[int]]:
    """While inside, SIGINT/SIGTERM are recorded (and ``on_signal`` called) instead of raising
    KeyboardInterrupt wherever the main thread happens to be; the caller decides when to re-raise.
    Main thread only (signal's rule); elsewhere signals reach the main thread anyway."""
    received: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield received
        return

    def handler(signum: int, frame: object) -> None:
        received.append(signum)
        on_signal()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield received
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def signal_names(received: list[int]) -> str:
    """'SIGINT, SIGTERM x2'."""
    counted = Counter(signal.Signals(signum).name for signum in received)
    return ", ".join(name if count == 1 else f"{name} x{count}" for name, count in counted.items())


def labelled_objects(runner: SqlRunner, run_id: str) -> list[str]:
    """What still carries the run's label (the janitor's listing)."""
    run = find_runs(runner).get(run_id)
    return list(run.objects) if run else []


def close_target(target: Target) -> str:
    """Close the target (a self-started emulator stops, with every container it runs); one line that
    says how it went, for the teardown report."""
    try:
        target.close()
    except Exception as exc:  # reported, never hidden: its containers may still run
        log.error("closing the target failed: %s", exc)
        return f"closing {target.description} failed: {type(exc).__name__}: {exc}"
    return f"closed {target.description}"


def collect_diagnostics(runner: SqlRunner, state: StackState, folder: Path) -> str:
    """Service status, containers and current + previous logs, before anything is dropped; returns
    them in short (diagnosis.explain), for the report of a failure. Log lines are the containers' own:
    the short form goes through the runner's redaction before it reaches a terminal or JUnit."""
    diagnoses = diagnose(runner, state.names)
    write_diagnoses(diagnoses, folder, state.names)
    return runner.redact(explain(diagnoses, folder))


def refuse_existing_run(runner: SqlRunner, run_id: str) -> None:
    """Objects with this run's label or names already exist: ``IF NOT EXISTS`` would adopt them. Those
    labelled are another live run or a leak (this run's teardown would drop them from under their
    owner); those only named so were made first by someone else (a role with CREATE USER can
    pre-create ``MILVUS_SPCS_<run>_USER`` with its own password, and nightly run ids are predictable),
    and would be granted the run's role. Read-only: one listing."""
    objects = list_objects(runner)
    run = runs_reported(labels_in(objects)).get(run_id)
    if run is not None:
        raise PreflightError(
            f"objects labelled run={run_id} already exist: {', '.join(run.objects)}; nothing was created",
            [
                f"if that run is dead: milvus-spcs down --run {run_id} --snowflake-connection NAME",
                "otherwise start this one with another run id (--run-id, or none for a random one)",
            ],
        )
    squatted = named_as_run(objects, run_id)
    if squatted:
        raise PreflightError(
            f"objects named as run {run_id}'s already exist without its label: {', '.join(squatted)}; "
            "nothing was created and they are not adopted",
            [
                "start this run with another run id (--run-id, or none for a random one)",
                "find out who created them: SHOW GRANTS ON <kind> <name> shows the owner",
            ],
        )


@contextlib.contextmanager
def provisioned_stack(
    target: Target,
    config: HarnessConfig,
    *,
    report: Callable[[str], None] = print,
    progress: Progress | None = None,
    specs_dir: Path | None = None,
    close: bool = False,
) -> Iterator[StackState]:
    """The run's stack, torn down on exit. ``progress``: where each step's start, states and end go as
    they happen (the run's timeline hears them too). ``specs_dir``: the service spec templates
    (default the repository's specs/), checked at preflight like everything else. ``close``: close the
    target in the teardown's own ``finally`` (a self-started emulator must stop even when a signal
    ends the run).

    Teardown runs with SIGINT/SIGTERM deferred: a CI cancel sends SIGINT then SIGTERM, and an undo cut
    short leaves pools billing and containers running. They are reported and re-raised afterwards.
    Every run ends by writing timeline.json/.png and usage.json into its artifacts; a failure carries
    the services' status and last log lines (diagnosis.explain) as a note."""
    if not target.is_emulator and not (config.image_repository and config.image_tag):
        # Checked before anything is created: without images the services could never start.
        raise PreflightError(
            "a real account needs the images pushed to a repository first",
            [
                "milvus-spcs images push --snowflake-connection NAME --repository DB.SCHEMA.REPO --tag TAG",
                "then pass --image-repository DB.SCHEMA.REPO --image-tag TAG",
            ],
        )
    push = config.image_repository is None and (config.image_source == "push" or target.runs_pushed_images)
    if target.is_emulator and push:
        from milvus_spcs.docker_engine import docker_engine_problem

        problem = docker_engine_problem()
        if problem:  # before anything is created: the push step could never run
            raise PreflightError(
                f"--image-source push builds and pushes images, which needs a Docker engine: {problem}",
                ["bash scripts/install-docker.sh", "or --image-source publish (stand-ins by name)"],
            )
    folder = config.run_artifacts
    folder.mkdir(parents=True, exist_ok=True)
    cancelled = threading.Event()
    names = StackNames(config.run_id)
    recorder = TimelineRecorder()
    progress = Fanout([recorder, progress or NoProgress()])
    plan, state = build_plan(
        target,
        names,
        image_tag=config.image_tag,
        image_repository=config.image_repository,
        push_images=push,
        staging_dir=folder / "staging",
        cancelled=cancelled,
        specs_dir=specs_dir if specs_dir is not None else SPECS_DIR,
        progress=progress,
    )
    runner = SqlRunner(target, [state.password])
    refuse_existing_run(runner, config.run_id)
    record = ExecutionRecord()
    meter = UsageMeter(runner, names, recorder)
    explained: list[str] = []
    failure: BaseException | None = None
    try:
        with signals_recorded(cancelled.set) as received:  # waits stop at once
            try:
                with progress.phase(PROVISIONING):
                    execute(plan, record, cancelled=cancelled, progress=progress)
            except HarnessError as exc:
                if received:  # the failure is the interrupt's doing: report it as one
                    raise KeyboardInterrupt(
                        f"interrupted by signal {received[0]} during provisioning"
                    ) from exc
                raise
        if received:
            raise KeyboardInterrupt(f"interrupted by signal {received[0]} during provisioning")
        summary = record.summary(plan)
        (folder / "provisioning.txt").write_text(summary + "\n")
        report(summary)
        meter.sample()
        yield state
    except BaseException as exc:
        failure = exc
        raise
    finally:
        with signals_recorded() as during_teardown:
            try:
                count_created_objects(meter, runner, config.run_id)  # all there until the teardown
                if config.keep_stack:
                    result = None
                else:
                    with progress.phase(TEARDOWN):
                        result = tear_down(runner, state, record, config, progress, explained)
                    meter.sample_backups()  # billed snapshots the teardown could not prevent
            finally:
                closed = close_target(target) if close else None
            lines = [str(result)] if result is not None else [keep_stack_notice(config.run_id)]
            if during_teardown:
                lines.append(
                    f"signals during teardown: {signal_names(during_teardown)} "
                    "(deferred until the teardown finished)"
                )
            if closed is not None:
                lines.append(closed)
            if result is not None:
                (folder / "teardown.txt").write_text("\n".join(lines) + "\n")
            lines += write_run_records(folder, recorder, plan, record, meter, config.run_id, target)
            report("\n".join(lines))
        if isinstance(failure, Exception) and explained:
            failure.add_note(explained[0])  # shown under the error, in pytest's report and the CLI's
        if during_teardown:
            kinds = signal_names(during_teardown)
            raise KeyboardInterrupt(f"interrupted by {kinds} during teardown (the teardown finished first)")


def count_created_objects(meter: UsageMeter, runner: SqlRunner, run_id: str) -> None:
    """The run's labelled objects (a failed run's too), and the pools' and warehouse's facts."""
    try:
        meter.objects = labelled_objects(runner, run_id)
    except Exception as exc:  # usage is a report: it never fails the run
        log.warning("usage: listing the run's objects failed: %s", exc)
    meter.sample()


def write_run_records(
    folder: Path,
    recorder: TimelineRecorder,
    plan: Plan,
    record: ExecutionRecord,
    meter: UsageMeter,
    run_id: str,
    target: Target,
) -> list[str]:
    """timeline.json/.png and usage.json; the lines that tell where they are and what was used."""
    lines: list[str] = []
    try:
        usage = meter.document()
        lines.append(usage_line(usage))
        write_usage(folder, usage)
        document = timeline_document(recorder, plan, record, run_id=run_id, target=target.description)
        write_timeline(folder, document)
        lines.append(f"timeline: {folder / 'timeline.png'} (and timeline.json, usage.json)")
    except Exception as exc:  # records must never hide the teardown's own report
        log.warning("writing the run's timeline or usage failed: %s", exc)
        lines.append(f"could not write the timeline or usage: {type(exc).__name__}: {exc}")
    return lines


def keep_stack_notice(run_id: str) -> str:
    return f"--keep-stack: the stack of run {run_id} stays; remove it with `milvus-spcs down --run {run_id}`"


def tear_down(
    runner: SqlRunner,
    state: StackState,
    record: ExecutionRecord,
    config: HarnessConfig,
    progress: Progress | None = None,
    explained: list[str] | None = None,
) -> TeardownReport:
    """Undo everything, then list what still carries the run's label. ``explained`` receives the
    services' diagnosis in short."""

    def diagnostics() -> None:
        text = collect_diagnostics(runner, state, config.run_artifacts / "diagnostics")
        if explained is not None:
            explained.append(text)

    return undo_all(
        record,
        diagnostics=diagnostics,
        remaining=lambda: labelled_objects(runner, config.run_id),
        run_id=config.run_id,
        progress=progress,
    )


def sigterm_as_keyboard_interrupt() -> None:
    """Let SIGTERM unwind like Ctrl-C, so that every finally (and pytest's fixture teardown) runs."""

    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, handler)
