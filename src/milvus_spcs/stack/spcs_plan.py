"""The SPCS stack as a plan: sql/ files as steps, with the undo and the wait each needs.

Dependencies are the platform's, not the guide's order: the compute pools need nothing and take the
longest (minutes on a real account), so they start first, alongside the role, storage and network;
each service needs its pool, the images, the specs and the grants; endpoint access needs Jupyter.
"""

from __future__ import annotations

import datetime as dt
import secrets
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import TypeVar

import yaml

from milvus_spcs.errors import PreflightError
from milvus_spcs.naming import StackNames, label
from milvus_spcs.paths import HARNESS_FILES
from milvus_spcs.secret import Secret
from milvus_spcs.specs import (
    SpecError,
    check_spec_policy,
    parse_spec,
    render_spec,
    single_instance_problems,
    spec_variables,
)
from milvus_spcs.sqlfiles import SQL_DIR, SqlFile, load_sql_dir, put_file, render
from milvus_spcs.stack.plan import Action, Plan, Step
from milvus_spcs.stack.progress import NoProgress, Progress, ProgressEvent
from milvus_spcs.stack.service_status import ingress_url, pool_ready, service_running
from milvus_spcs.stack.snapshots import drop_backup_snapshots
from milvus_spcs.stack.sql_runner import SqlRunner
from milvus_spcs.target import Budgets as Budgets  # the suites name it from here, with StackState
from milvus_spcs.target import Target
from milvus_spcs.waits import Probe, wait_for

SPEC_FILES = ("milvus.yaml", "jupyter.yaml")
SPECS_DIR = HARNESS_FILES / "specs"
IMAGES_DIR = HARNESS_FILES / "images"

T = TypeVar("T")


def budgets_for(target: Target) -> Budgets:
    """A run's waits on ``target``: the emulator answers within seconds, an account within minutes."""
    return target.budgets


@dataclass
class StackState:
    """What provisioning learned, for the suites (the password never leaves the process)."""

    names: StackNames
    password: str = field(repr=False)
    comment: str
    image_tag: str
    ingress_host: str | None = None
    spec_texts: dict[str, str] = field(default_factory=dict)


def new_password() -> Secret:
    return Secret(secrets.token_urlsafe(24))


def checked_specs(
    specs_dir: Path, variables: Mapping[str, str], known_secrets: Iterable[str]
) -> dict[str, str]:
    """Both specs rendered, parsed and held to the policy (no public 9091/2379/19530, pinned images,
    no secrets in env): preflight, so that a spec that fails is never uploaded, let alone deployed."""
    texts: dict[str, str] = {}
    problems: list[str] = []
    for spec in SPEC_FILES:
        try:
            text = render_spec(specs_dir / spec, variables)
            document = parse_spec(text)
        except yaml.YAMLError as exc:
            problems.append(f"{spec} is not valid YAML: {exc}")
            continue
        except (SpecError, OSError) as exc:
            problems.append(f"{spec}: {exc}")
            continue
        problems += [f"{spec}: {problem}" for problem in check_spec_policy(document, known_secrets)]
        texts[spec] = text
    if problems:
        raise PreflightError(
            f"the service specifications in {specs_dir} fail preflight; nothing was created:\n"
            + "\n".join(f"  * {problem}" for problem in problems),
            ["fix the spec templates (milvus_spcs.specs.check_spec_policy says what each rule wants)"],
        )
    return texts


# The service statement whose service must run one instance: Milvus standalone.
MILVUS_SERVICE_SQL = "07_service_milvus.sql"


def checked_instances(files: Mapping[str, SqlFile]) -> None:
    """Preflight: the Milvus service is created with one instance (specs.single_instance_problems)."""
    sql = files.get(MILVUS_SERVICE_SQL)
    problems = single_instance_problems(sql.text, MILVUS_SERVICE_SQL) if sql is not None else []
    if problems:
        raise PreflightError(
            "the Milvus service statement fails preflight; nothing was created:\n"
            + "\n".join(f"  * {problem}" for problem in problems),
            [f"set MIN_INSTANCES = 1 and MAX_INSTANCES = 1 in sql/{MILVUS_SERVICE_SQL}"],
        )


def create_outsider(runner: SqlRunner, state: StackState, *, sql_dir: Path = SQL_DIR) -> Secret:
    """Create the run's outsider (sql/suites/ingress_outsider.sql) and return its password. Labelled
    with the run, so that 90_teardown.sql, `down` and the janitor remove it even if its fixture never
    gets to (a killed run)."""
    password = new_password()
    text = load_sql_dir(sql_dir / "suites")["ingress_outsider.sql"].text
    variables = {"outsider": state.names.outsider, "password": password, "comment": state.comment}
    SqlRunner(runner.target, [*runner.secrets, password]).run(render(text, variables))
    return password


def drop_outsider(runner: SqlRunner, names: StackNames) -> None:
    runner.run(
        render("USE ROLE USERADMIN;\nDROP USER IF EXISTS <% outsider %>;", {"outsider": names.outsider})
    )


def check_images(runner: SqlRunner, repository: str, tag: str) -> None:
    """Both images must already be in ``repository`` with ``tag`` (pushed by `milvus-spcs images push`)."""
    rows = runner.query("USE ROLE SYSADMIN", f"SHOW IMAGES IN IMAGE REPOSITORY {repository}")
    present = {(r["image_name"], t.strip(' "')) for r in rows for t in str(r["tags"]).strip("[]").split(",")}
    missing = [name for name in ("milvus", "jupyter") if (name, tag) not in present]
    if missing:
        raise PreflightError(
            f"image(s) {', '.join(f'{m}:{tag}' for m in missing)} not in {repository}",
            [f"milvus-spcs images push --repository {repository} --tag {tag} --snowflake-connection NAME"],
        )


@dataclass(frozen=True)
class ProvisioningContext:
    """What every step of one run's plan works with: its target, names, state, files and budgets."""

    target: Target
    names: StackNames
    state: StackState
    runner: SqlRunner
    budgets: Budgets
    cancelled: threading.Event | None
    image_repository: str | None
    push_images: bool  # on the emulator: build and push into the run's repository (else publish by name)
    images_dir: Path
    staging_dir: Path
    files: dict[str, SqlFile]  # sql/
    undo_files: dict[str, SqlFile]  # sql/undo/
    variables: dict[str, str]  # every validated name, the run's label and its password
    progress: Progress = field(default_factory=NoProgress)
    step: str = ""  # the step this context is given to (its waits report under this name)

    @property
    def schema(self) -> str:
        """The run's schema, qualified: DATABASE.SCHEMA."""
        return f"{self.names.database}.{self.names.schema}"

    def statements(self, sql_file: SqlFile) -> list[str]:
        """The file's statements, rendered with the variables it uses."""
        text = sql_file.text
        return render(text, {k: v for k, v in self.variables.items() if f"<% {k} %>" in text})

    def wait(self, probe: Callable[[], Probe[T]], what: str, timeout: float) -> T | None:
        """A step's wait: poll ``probe`` with the run's interval and deadline, stopping on an interrupt;
        every state it sees goes to the run's progress."""
        self.progress.emit(ProgressEvent.now(self.step, "wait", what))

        def seen(state: str, left: float) -> None:
            self.progress.emit(ProgressEvent.now(self.step, "state", state, left))

        return wait_for(
            probe,
            what=what,
            timeout=timeout,
            interval=self.budgets.interval,
            cancelled=self.cancelled,
            on_probe=seen,
        )


# -- what the steps do besides their SQL file --------------------------------------------------------


def publish_images(context: ProvisioningContext) -> None:
    """Given a repository: check that both images are there. Otherwise (the emulator): push them into
    the run's own repository through its registry (``--image-source push``, as on an account), or
    publish them by name."""
    tag = context.state.image_tag
    if context.image_repository is not None:
        check_images(context.runner, context.image_repository, tag)
        return
    rows = context.runner.query("USE ROLE SYSADMIN", f"SHOW IMAGE REPOSITORIES IN SCHEMA {context.schema}")
    if context.push_images:
        from milvus_spcs.images.push import push_images

        repository = f"{context.schema}.{rows[0]['name']}"
        for image in push_images(context.target, repository, tag):
            context.progress.emit(ProgressEvent.now(context.step, "state", f"pushed {image.reference}"))
        return
    url = rows[0]["repository_url"]
    context.target.publish_image(f"{url}/milvus:{tag}", "milvus", None)
    context.target.publish_image(f"{url}/jupyter:{tag}", "jupyter", context.images_dir / "jupyter")


def upload_specs(context: ProvisioningContext) -> None:
    """PUT both specs (checked at preflight) on the run's specs stage."""
    staging = context.staging_dir / "specs"
    staging.mkdir(parents=True, exist_ok=True)
    stage = f"{context.schema}.{context.names.specs_stage}"
    statements = ["USE ROLE SYSADMIN"]
    for spec, text in context.state.spec_texts.items():
        (staging / spec).write_text(text)
        statements.append(put_file(staging / spec, stage, "OVERWRITE = TRUE AUTO_COMPRESS = FALSE"))
    context.runner.run(statements)


def _wait_for_pool(context: ProvisioningContext, pool: str) -> None:
    context.wait(
        partial(pool_ready, context.runner, pool),
        f"compute pool {pool} to be IDLE or ACTIVE",
        context.budgets.pool,
    )


def _wait_for_service(context: ProvisioningContext, service: str, container: str) -> None:
    fqn = f"{context.schema}.{service}"
    context.wait(
        partial(service_running, context.runner, fqn, container),
        f"service {fqn} to be RUNNING",
        context.budgets.service,
    )


def wait_for_milvus_pool(context: ProvisioningContext) -> None:
    _wait_for_pool(context, context.names.milvus_pool)


def wait_for_jupyter_pool(context: ProvisioningContext) -> None:
    _wait_for_pool(context, context.names.jupyter_pool)


def wait_for_milvus_service(context: ProvisioningContext) -> None:
    _wait_for_service(context, context.names.milvus_service, "milvus")


def wait_for_jupyter_service(context: ProvisioningContext) -> None:
    _wait_for_service(context, context.names.jupyter_service, "jupyter")


def wait_for_ingress_url(context: ProvisioningContext) -> None:
    """The ingress URL is what the suites connect to: kept in the run's state."""
    service = f"{context.schema}.{context.names.jupyter_service}"
    context.state.ingress_host = context.wait(
        partial(ingress_url, context.runner, service), "the Jupyter ingress URL", context.budgets.endpoint
    )


# -- the plan ---------------------------------------------------------------------------------------

StepAction = Callable[[ProvisioningContext], None]


@dataclass(frozen=True)
class StackStep:
    """One step of the stack: its sql/ file or its Python ``action``, the steps it needs first, whether
    sql/undo/<name>.sql undoes it, and what it then waits for."""

    name: str
    sql: str | None = None
    action: StepAction | None = None
    description: str = ""  # an action's; a SQL step is described by its file
    after: tuple[str, ...] = ()
    undoable: bool = False
    wait: StepAction | None = None
    # The service variable whose block-volume backups (BCR-2206) the undo removes after the drop.
    backups_of: str | None = None

    def __post_init__(self) -> None:
        if (self.sql is None) == (self.action is None):
            raise ValueError(f"step {self.name!r} needs either a sql file or an action")


STACK_STEPS = (
    StackStep("account", sql="01_account.sql"),
    StackStep("role_and_user", sql="02_role_and_user.sql", undoable=True),
    StackStep("storage", sql="03_storage.sql", after=("role_and_user",), undoable=True),
    StackStep("grants", sql="04_grants.sql", after=("storage",)),
    StackStep("network", sql="05_network.sql", after=("storage",), undoable=True),
    StackStep("pool_milvus", sql="06_compute_milvus.sql", undoable=True, wait=wait_for_milvus_pool),
    StackStep("pool_jupyter", sql="06_compute_jupyter.sql", undoable=True, wait=wait_for_jupyter_pool),
    StackStep("images", action=publish_images, description="publish or check the images", after=("storage",)),
    StackStep("specs", action=upload_specs, description="render and upload the specs", after=("storage",)),
    StackStep(
        "service_milvus",
        sql="07_service_milvus.sql",
        after=("pool_milvus", "images", "specs", "network", "grants"),
        undoable=True,
        wait=wait_for_milvus_service,
        backups_of="milvus_service",
    ),
    StackStep(
        "service_jupyter",
        sql="07_service_jupyter.sql",
        after=("pool_jupyter", "images", "specs", "network", "grants"),
        undoable=True,
        wait=wait_for_jupyter_service,
    ),
    StackStep(
        "endpoint_access", sql="08_endpoint_access.sql", after=("service_jupyter",), wait=wait_for_ingress_url
    ),
)


def plan_step(context: ProvisioningContext, step: StackStep) -> Step:
    """The executor's form of ``step``. Its SQL and its undo are rendered now, so that a file that does
    not render fails preflight, before anything is created."""
    undo: Action | None = None
    if step.undoable:
        undo = partial(context.runner.run, context.statements(context.undo_files[f"{step.name}.sql"]))
        if step.backups_of is not None:
            service = context.variables[step.backups_of]
            undo = partial(_undo_then_drop_backups, context, step.name, undo, service)
    if step.sql is not None:
        run: Action = partial(context.runner.run, context.statements(context.files[step.sql]))
        description = step.sql
    else:
        assert step.action is not None  # StackStep holds one or the other
        run, description = partial(step.action, context), step.description
    wait = partial(step.wait, replace(context, step=step.name)) if step.wait is not None else None
    return Step(step.name, run, undo=undo, after=step.after, wait=wait, description=description)


def _undo_then_drop_backups(
    context: ProvisioningContext, step: str, undo: Callable[[], object], service: str
) -> None:
    """Drop the service, then any snapshot SPCS took of its block volume on the way (a spec without
    snapshotOnDelete: false; BCR-2206): it would be billed for a week."""
    undo()
    dropped = drop_backup_snapshots(
        context.runner, "SYSADMIN", context.schema, [f"{context.schema}.{service}"]
    )
    if dropped:
        context.progress.emit(ProgressEvent.now(step, "state", f"dropped backup {', '.join(dropped)}"))


def new_stack_state(names: StackNames, image_tag: str | None) -> StackState:
    """A fresh password, the run's label (created now) and the images' tag (default: the run's)."""
    created = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return StackState(names, new_password(), label(names.run_id, created), image_tag or f"run-{names.run_id}")


def build_plan(
    target: Target,
    names: StackNames,
    *,
    image_tag: str | None = None,
    image_repository: str | None = None,
    push_images: bool = False,
    budgets: Budgets | None = None,
    sql_dir: Path = SQL_DIR,
    specs_dir: Path = SPECS_DIR,
    images_dir: Path = IMAGES_DIR,
    staging_dir: Path,
    cancelled: threading.Event | None = None,
    progress: Progress | None = None,
) -> tuple[Plan, StackState]:
    """The run's plan (STACK_STEPS) and the state it fills in. Preflight happens here: the specs are
    held to the policy and every SQL and undo file is rendered before anything is created."""
    state = new_stack_state(names, image_tag)
    specs = spec_variables(
        names, milvus_tag=state.image_tag, jupyter_tag=state.image_tag, repository=image_repository
    )
    state.spec_texts.update(checked_specs(specs_dir, specs, [state.password]))
    files = load_sql_dir(sql_dir)
    checked_instances(files)
    context = ProvisioningContext(
        target=target,
        names=names,
        state=state,
        runner=SqlRunner(target, [state.password]),
        budgets=budgets or budgets_for(target),
        cancelled=cancelled,
        image_repository=image_repository,
        push_images=push_images,
        images_dir=images_dir,
        staging_dir=staging_dir,
        files=files,
        undo_files=load_sql_dir(sql_dir / "undo"),
        variables={**names.variables(), "comment": state.comment, "password": state.password},
        progress=progress or NoProgress(),
    )
    return Plan([plan_step(context, step) for step in STACK_STEPS]), state
