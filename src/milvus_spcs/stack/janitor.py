"""Find runs by their label and remove them: `milvus-spcs down --run ID` and `janitor --older-than 6h`.

Every object of a run carries COMMENT = 'milvus-spcs run=<id> created=<iso8601>' (naming.label); the
janitor reads it back from SHOW output, so it finds runs whose process died without a teardown. A
comment is only a claim: a run is aged by the server's `created_on` against the server's clock, and a
label that is malformed, naive or dated after its object is skipped (and reported), never trusted.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from milvus_spcs.errors import HarnessError
from milvus_spcs.naming import LABEL_PATTERN, LABEL_PREFIX, StackNames, check_run_id, printable
from milvus_spcs.paths import HARNESS_FILES
from milvus_spcs.sqlfiles import load_sql_dir
from milvus_spcs.stack.progress import NoProgress, Progress, ProgressEvent, reported_step
from milvus_spcs.stack.snapshots import drop_backup_snapshots
from milvus_spcs.stack.sql_runner import SqlRunner

log = logging.getLogger(__name__)

LABELLED = (
    ("SHOW COMPUTE POOLS", "compute pool"),
    ("SHOW SERVICES IN ACCOUNT", "service"),
    ("SHOW DATABASES", "database"),
    ("SHOW WAREHOUSES", "warehouse"),
    ("SHOW ROLES", "role"),
    ("SHOW USERS", "user"),
    ("SHOW INTEGRATIONS", "integration"),
)
DURATION = re.compile(r"(?P<n>\d+)(?P<unit>[smhd])")
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> dt.timedelta:
    match = DURATION.fullmatch(text.strip())
    if not match:
        raise ValueError(f"duration {text!r} must look like 30m, 6h or 2d")
    return dt.timedelta(seconds=int(match["n"]) * UNITS[match["unit"]])


@dataclass
class RunObjects:
    run_id: str
    created: dt.datetime  # the earliest server `created_on` of its objects (never the comment's claim)
    objects: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class SkippedLabel:
    """An object whose comment looks like a label but cannot be trusted: left alone, and said so."""

    object: str  # "database NAME"
    reason: str
    run_id: str | None = None  # when the label names one

    def __str__(self) -> str:
        return f"skipped {self.object}: {self.reason}"


@dataclass
class LabelScan:
    runs: dict[str, RunObjects] = field(default_factory=dict)
    skipped: list[SkippedLabel] = field(default_factory=list)


# A label's created= is the client's clock when the plan was built, so it precedes the server's
# created_on; more than this after it is a forged label or a badly skewed client.
CLOCK_TOLERANCE = dt.timedelta(minutes=15)
RUN_FIELD = re.compile(r"run=(?P<run>[a-z0-9]{6})(?:\s|\Z)")


def _label_problem(comment: str, match: re.Match[str] | None, created_on: object) -> str | None:
    """Why a comment that starts like a label (``match``: its LABEL_PATTERN match) cannot age its
    object, or None."""
    if not match:
        return f"comment {comment[:80]!r} is not a label ('{LABEL_PREFIX}<6 chars> created=<ISO 8601>')"
    try:
        created = dt.datetime.fromisoformat(match["created"])
    except ValueError:
        return f"created={match['created'][:40]!r} is not a date"
    if created.tzinfo is None:
        return f"created={match['created']} has no time zone"
    if not isinstance(created_on, dt.datetime) or created_on.tzinfo is None:
        return f"SHOW gave no usable created_on ({created_on!r})"
    if created - created_on > CLOCK_TOLERANCE:
        return (
            f"created={match['created']} is after the server created the object ({created_on.isoformat()}): "
            "a forged label or a skewed clock"
        )
    return None


def _run_names(names: StackNames) -> dict[str, set[str]]:
    """The account-level names a run creates, by SHOW kind (services: by their database)."""
    return {
        "compute pool": {names.milvus_pool, names.jupyter_pool},
        "database": {names.database},
        "warehouse": {names.warehouse},
        "role": {names.role},
        "user": {names.user, names.outsider},
        "integration": {names.integration},
        "service": {names.milvus_service, names.jupyter_service},
    }


def _foreign_object(run_id: str, kind: str, row: dict[str, Any]) -> str | None:
    """Why an object labelled ``run_id`` is not one the run creates, or None. A label is a comment
    anyone with OWNERSHIP can write: on an older object of someone else's it would make a live run look
    old, and the janitor would sweep it."""
    names = StackNames(run_id)
    name = str(row.get("name") or "").upper()
    if kind == "service" and str(row.get("database_name") or "").upper() != names.database:
        return f"a service outside run {run_id}'s database {names.database} carries its label"
    if name not in _run_names(names)[kind]:
        return f"{printable(name)} is not a name run {run_id} creates, yet carries its label"
    return None


def _log_warning(message: str) -> None:
    log.warning("%s", message)


Listing = list[tuple[str, dict[str, Any]]]  # (SHOW kind, row) of every object of a kind runs create


def list_objects(runner: SqlRunner) -> Listing:
    """Every object of the kinds a run creates, labelled or not (one connection for every SHOW: each
    runner call logs in anew; results[0] is the USE ROLE)."""
    results = runner.run(["USE ROLE ACCOUNTADMIN", *(query for query, _ in LABELLED)])
    return [(kind, row) for (_, kind), rows in zip(LABELLED, results[1:], strict=True) for row in rows]


def labels_in(objects: Listing) -> LabelScan:
    """Every labelled object by run, aged by the server's created_on; untrustworthy labels skipped."""
    scan = LabelScan()
    for kind, row in objects:
        comment = str(row.get("comment") or "")
        if not comment.startswith(LABEL_PREFIX):
            continue
        what = f"{kind} {printable(row.get('name'))}"
        created_on = row.get("created_on")
        match = LABEL_PATTERN.fullmatch(comment)
        problem = _label_problem(comment, match, created_on)
        if match and problem is None:
            problem = _foreign_object(match["run"], kind, row)
        if problem:
            named = RUN_FIELD.match(comment, len(LABEL_PREFIX) - len("run="))
            scan.skipped.append(SkippedLabel(what, problem, named["run"] if named else None))
            continue
        assert match is not None  # _label_problem reports every comment that is not a label
        run_id = match["run"]
        assert isinstance(created_on, dt.datetime)  # checked by _label_problem
        run = scan.runs.setdefault(run_id, RunObjects(run_id, created_on))
        run.created = min(run.created, created_on)
        run.objects.append(what)
    return scan


def scan_labels(runner: SqlRunner) -> LabelScan:
    return labels_in(list_objects(runner))


def named_as_run(objects: Listing, run_id: str) -> list[str]:
    """The objects that carry one of the names ``run_id`` creates, whatever their comment."""
    names = _run_names(StackNames(run_id))
    return [
        f"{kind} {printable(row.get('name'))}"
        for kind, row in objects
        if str(row.get("name") or "").upper() in names[kind]
    ]


def runs_reported(scan: LabelScan, report: Callable[[str], None] = _log_warning) -> dict[str, RunObjects]:
    """The scan's runs by id; labels that cannot be trusted are reported through ``report``."""
    for skipped in scan.skipped:
        report(str(skipped))
    return scan.runs


def find_runs(runner: SqlRunner, *, report: Callable[[str], None] = _log_warning) -> dict[str, RunObjects]:
    """Runs by id (labels that cannot be trusted are reported through ``report`` and left out)."""
    return runs_reported(scan_labels(runner), report)


def server_now(runner: SqlRunner) -> dt.datetime:
    """The server's CURRENT_TIMESTAMP(), the clock created_on is on (never this machine's: a skewed
    client must not make a live run look old)."""
    now = next(iter(runner.query("SELECT CURRENT_TIMESTAMP() AS SERVER_NOW")[0].values()))
    if not isinstance(now, dt.datetime) or now.tzinfo is None:
        raise HarnessError(f"the server's CURRENT_TIMESTAMP() gave {now!r}, not a time with a zone")
    return now


# DROP SERVICE IF EXISTS DB.SCHEMA.NAME FORCE, ALTER COMPUTE POOL IF EXISTS NAME STOP ALL, ...
TEARDOWN_STATEMENT = re.compile(
    r"(?P<verb>DROP|ALTER) (?P<kind>[A-Z ]+?) IF EXISTS (?P<name>\S+)(?P<rest>.*)", re.S
)


def statement_progress(progress: Progress) -> Callable[[str], contextlib.AbstractContextManager[object]]:
    """Each DROP/ALTER of a teardown file as a progress step (`drop service`, `stop compute pool`)."""

    def around(statement: str) -> contextlib.AbstractContextManager[object]:
        match = TEARDOWN_STATEMENT.match(statement.strip())
        if match is None:  # USE ROLE
            return contextlib.nullcontext()
        verb = "stop" if "STOP ALL" in match["rest"] else match["verb"].lower()
        return reported_step(progress, f"{verb} {match['kind'].lower()}", match["name"])

    return around


def teardown_run(runner: SqlRunner, run_id: str, *, progress: Progress | None = None) -> None:
    """The run's teardown file with the run's names: services, pools, integration, database, warehouse,
    user, role; everything IF EXISTS, so it is safe on half-built and already-removed stacks.
    ``progress`` hears each statement start and end."""
    progress = progress or NoProgress()
    names = StackNames(check_run_id(run_id))
    teardown = load_sql_dir(HARNESS_FILES / "sql")["90_teardown.sql"]
    statements = teardown.statements(names.variables())
    # Between the services' drops and the database's: the backups SPCS may have taken of the run's
    # block volumes (BCR-2206; a spec without snapshotOnDelete: false), which are billed for a week.
    services_end = max(i for i, s in enumerate(statements) if s.upper().startswith("DROP SERVICE")) + 1
    schema = f"{names.database}.{names.schema}"
    services = [f"{schema}.{names.milvus_service}", f"{schema}.{names.jupyter_service}"]
    with progress.phase(f"removing run {run_id}"):
        runner.run(statements[:services_end], around=statement_progress(progress))
        for name in drop_backup_snapshots(runner, "SYSADMIN", schema, services):
            progress.emit(ProgressEvent.now("teardown", "state", f"dropped backup {name}"))
        # Each run() is a new session: the rest starts in the role the services were dropped as.
        role = next(s for s in reversed(statements[:services_end]) if s.upper().startswith("USE ROLE"))
        runner.run([role, *statements[services_end:]], around=statement_progress(progress))


def sweep(
    runner: SqlRunner,
    older_than: dt.timedelta,
    *,
    now: dt.datetime | None = None,
    report: Callable[[str], None] = _log_warning,
    progress: Progress | None = None,
) -> list[RunObjects]:
    """Tear down every run whose oldest object the server created at least ``older_than`` ago."""
    runs = find_runs(runner, report=report)
    now = now or server_now(runner)
    stale = [run for run in runs.values() if now - run.created >= older_than]
    for run in stale:
        teardown_run(runner, run.run_id, progress=progress)
    return stale
