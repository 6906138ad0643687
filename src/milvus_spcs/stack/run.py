"""One run's stack from start to finish: provision the plan, hand the state to the caller, and tear
everything down on every exit path (failure half-way, test failures, SIGINT, SIGTERM).

``StackRun`` is the run: its parts, its two phases (``provision``, ``finish``) and what it found out
(the teardown's report, the services' diagnosis). ``provisioned_stack`` composes the phases with an
ExitStack, so that ``finish`` follows whatever happened to provisioning or to the caller's use of the
stack. Each phase defers SIGINT/SIGTERM on its own (signals.DeferredSignals)."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType

from milvus_spcs.config import HarnessConfig
from milvus_spcs.errors import HarnessError
from milvus_spcs.naming import StackNames
from milvus_spcs.stack.diagnosis import diagnose, explain, write_diagnoses
from milvus_spcs.stack.executor import ExecutionRecord, execute
from milvus_spcs.stack.janitor import find_runs
from milvus_spcs.stack.preflight import images_pushed_by_run, refuse_existing_run
from milvus_spcs.stack.progress import Fanout, NoProgress, Progress
from milvus_spcs.stack.signals import DeferredSignals
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
    (default: the config's --specs-dir, else the bundled specs/), checked at preflight like everything
    else. ``close``: close the target as the teardown's last act, whatever happened in it (a
    self-started emulator must stop even when a signal ends the run).

    Teardown runs with SIGINT/SIGTERM deferred: a CI cancel sends SIGINT then SIGTERM, and an undo cut
    short leaves pools billing and containers running. They are reported and re-raised afterwards.
    Every run ends by writing timeline.json/.png and usage.json into its artifacts; a failure carries
    the services' status and last log lines (diagnosis.explain) as a note."""
    run = StackRun(target, config, report=report, progress=progress, specs_dir=specs_dir, close=close)
    with contextlib.ExitStack() as phases:
        phases.push(run.finish)  # on every exit path, provisioning's own failure included
        yield run.provision()


class StackRun:
    """One run. Constructing it is the preflight: the images' checks, the plan (specs and SQL files
    checked) and the refusal of an existing run; nothing is created before it passes. ``provision``
    creates the stack; ``finish`` tears it down (or keeps it), closes the target if asked, writes the
    run's records and reports."""

    def __init__(
        self,
        target: Target,
        config: HarnessConfig,
        *,
        report: Callable[[str], None] = print,
        progress: Progress | None = None,
        specs_dir: Path | None = None,
        close: bool = False,
    ) -> None:
        push = images_pushed_by_run(target, config)
        self.target = target
        self.config = config
        self.report = report
        self.close = close
        self.folder = config.run_artifacts
        self.folder.mkdir(parents=True, exist_ok=True)
        self.cancelled = threading.Event()  # set by a signal during provisioning: the waits stop at once
        names = StackNames(config.run_id)
        self.recorder = TimelineRecorder()
        self.progress = Fanout([self.recorder, progress or NoProgress()])
        self.plan, self.state = build_plan(
            target,
            names,
            image_tag=config.image_tag,
            image_repository=config.image_repository,
            push_images=push,
            staging_dir=self.folder / "staging",
            cancelled=self.cancelled,
            specs_dir=specs_dir or config.specs_dir or SPECS_DIR,
            progress=self.progress,
        )
        self.runner = SqlRunner(target, [self.state.password])
        refuse_existing_run(self.runner, config.run_id)
        self.record = ExecutionRecord()
        self.meter = UsageMeter(self.runner, names, self.recorder)
        # What the teardown found out: its report (None when the stack is kept), the services'
        # diagnosis in short (None when it could not be collected), how closing the target went.
        self.teardown_report: TeardownReport | None = None
        self.explanation: str | None = None
        self.closed: str | None = None

    def provision(self) -> StackState:
        """Execute the plan with SIGINT/SIGTERM deferred: a signal cancels the waits and ends the phase
        as a KeyboardInterrupt (also when it is what made a step fail). Then the summary, reported and
        kept as provisioning.txt, and a usage sample."""
        with DeferredSignals(on_signal=self.cancelled.set) as signals:
            try:
                with self.progress.phase(PROVISIONING):
                    execute(self.plan, self.record, cancelled=self.cancelled, progress=self.progress)
            except HarnessError as exc:
                if signals.received:  # the failure is the interrupt's doing: report it as one
                    raise interrupted_provisioning(signals) from exc
                raise
        if signals.received:
            raise interrupted_provisioning(signals)
        summary = self.record.summary(self.plan)
        (self.folder / "provisioning.txt").write_text(summary + "\n")
        self.report(summary)
        self.meter.sample()
        return self.state

    def finish(
        self,
        exc_type: type[BaseException] | None,
        failure: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """An exit callback: the teardown with SIGINT/SIGTERM deferred, then teardown.txt, the records
        and the report. ``failure`` (how the run ended, if not well) gets the services' diagnosis as a
        note; signals received meanwhile are raised as a KeyboardInterrupt once all is done."""
        with DeferredSignals() as signals:
            self.teardown()
            lines = self.teardown_lines(signals)
            if self.teardown_report is not None:
                (self.folder / "teardown.txt").write_text("\n".join(lines) + "\n")
            lines += self.write_records()
            self.report("\n".join(lines))
        if isinstance(failure, Exception) and self.explanation:
            failure.add_note(self.explanation)  # shown under the error, in pytest's report and the CLI's
        if signals.received:
            raise KeyboardInterrupt(
                f"interrupted by {signals.names()} during teardown (the teardown finished first)"
            )

    def teardown(self) -> None:
        """Count what the run created (all there until now), undo it unless the stack is kept, and
        close the target (``close``) whatever happened meanwhile."""
        with contextlib.ExitStack() as closing:
            if self.close:
                closing.callback(self.close_target)
            self.count_created_objects()
            if self.config.keep_stack:
                return
            with self.progress.phase(TEARDOWN):
                self.teardown_report, self.explanation = tear_down(
                    self.runner, self.state, self.record, self.config, self.progress
                )
            self.meter.sample_backups()  # billed snapshots the teardown could not prevent

    def close_target(self) -> None:
        """Close the target (a self-started emulator stops, with every container it runs); say how it
        went in the teardown's report."""
        try:
            self.target.close()
        except Exception as exc:  # reported, never hidden: its containers may still run
            log.error("closing the target failed: %s", exc)
            self.closed = f"closing {self.target.description} failed: {type(exc).__name__}: {exc}"
            return
        self.closed = f"closed {self.target.description}"

    def count_created_objects(self) -> None:
        """The run's labelled objects (a failed run's too), and the pools' and warehouse's facts."""
        try:
            self.meter.objects = labelled_objects(self.runner, self.config.run_id)
        except Exception as exc:  # usage is a report: it never fails the run
            log.warning("usage: listing the run's objects failed: %s", exc)
        self.meter.sample()

    def teardown_lines(self, signals: DeferredSignals) -> list[str]:
        """The teardown's report (or the kept stack's notice), the signals it deferred so far, and how
        closing the target went."""
        if self.teardown_report is not None:
            lines = [str(self.teardown_report)]
        else:
            lines = [keep_stack_notice(self.config.run_id)]
        if signals.received:
            lines.append(f"signals during teardown: {signals.names()} (deferred until the teardown finished)")
        if self.closed is not None:
            lines.append(self.closed)
        return lines

    def write_records(self) -> list[str]:
        """timeline.json/.png and usage.json; the lines that tell where they are and what was used."""
        lines: list[str] = []
        try:
            usage = self.meter.document()
            lines.append(usage_line(usage))
            write_usage(self.folder, usage)
            document = timeline_document(
                self.recorder,
                self.plan,
                self.record,
                run_id=self.config.run_id,
                target=self.target.description,
            )
            write_timeline(self.folder, document)
            lines.append(f"timeline: {self.folder / 'timeline.png'} (and timeline.json, usage.json)")
        except Exception as exc:  # records must never hide the teardown's own report
            log.warning("writing the run's timeline or usage failed: %s", exc)
            lines.append(f"could not write the timeline or usage: {type(exc).__name__}: {exc}")
        return lines


def interrupted_provisioning(signals: DeferredSignals) -> KeyboardInterrupt:
    return KeyboardInterrupt(f"interrupted by signal {signals.received[0]} during provisioning")


def keep_stack_notice(run_id: str) -> str:
    return f"--keep-stack: the stack of run {run_id} stays; remove it with `milvus-spcs down --run {run_id}`"


def tear_down(
    runner: SqlRunner,
    state: StackState,
    record: ExecutionRecord,
    config: HarnessConfig,
    progress: Progress | None = None,
) -> tuple[TeardownReport, str | None]:
    """Undo everything, then list what still carries the run's label. Returns the report and the
    services' diagnosis in short (None when it could not be collected)."""
    explanation: str | None = None

    def diagnostics() -> None:
        nonlocal explanation
        explanation = collect_diagnostics(runner, state, config.run_artifacts / "diagnostics")

    report = undo_all(
        record,
        diagnostics=diagnostics,
        remaining=lambda: labelled_objects(runner, config.run_id),
        run_id=config.run_id,
        progress=progress,
    )
    return report, explanation


def labelled_objects(runner: SqlRunner, run_id: str) -> list[str]:
    """What still carries the run's label (the janitor's listing)."""
    run = find_runs(runner).get(run_id)
    return list(run.objects) if run else []


def collect_diagnostics(runner: SqlRunner, state: StackState, folder: Path) -> str:
    """Service status, containers and current + previous logs, before anything is dropped; returns
    them in short (diagnosis.explain), for the report of a failure. Log lines are the containers' own:
    the short form goes through the runner's redaction before it reaches a terminal or JUnit."""
    diagnoses = diagnose(runner, state.names)
    write_diagnoses(diagnoses, folder, state.names)
    return runner.redact(explain(diagnoses, folder))
