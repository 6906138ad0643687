"""The SPCS stack as a plan: sql/ files as steps, with the undo and the wait each needs.

Dependencies are the platform's, not the guide's order: the compute pools need nothing and take the
longest (minutes on a real account), so they start first, alongside the role, storage and network;
each service needs its pool, the images, the specs and the grants; endpoint access needs Jupyter.
"""

from __future__ import annotations

import datetime as dt
import secrets
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import yaml

from milvus_spcs.errors import PreflightError, WaitFailed
from milvus_spcs.naming import StackNames, label
from milvus_spcs.paths import REPO_ROOT
from milvus_spcs.secret import Secret
from milvus_spcs.specs import SpecError, check_spec_policy, parse_spec, render_spec, spec_variables
from milvus_spcs.sqlfiles import load_sql_dir, put_file, render
from milvus_spcs.stack.plan import Plan, Step
from milvus_spcs.stack.sql_runner import SqlRunner
from milvus_spcs.target import Target
from milvus_spcs.waits import Probe, wait_for

PLACEHOLDER = "Endpoints provisioning in progress"
SPEC_FILES = ("milvus.yaml", "jupyter.yaml")


@dataclass(frozen=True)
class Budgets:
    """Seconds a wait may take (DESIGN §4: pool 900, service 900, endpoint URL 600 on a real account)."""

    pool: float = 900.0
    service: float = 900.0
    endpoint: float = 600.0
    interval: float = 10.0


EMULATOR_BUDGETS = Budgets(pool=300.0, service=300.0, endpoint=300.0, interval=0.2)


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


def create_outsider(runner: SqlRunner, state: StackState, *, sql_dir: Path = REPO_ROOT / "sql") -> Secret:
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


def _undo(runner: SqlRunner, template: str, variables: dict[str, str]):
    statements = render(template, variables)  # rendered with the plan: a broken undo fails preflight

    def undo() -> None:
        runner.run(statements)

    return undo


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


def _pool_ready(runner: SqlRunner, pool: str) -> Probe[None]:
    row = runner.query("USE ROLE SYSADMIN", f"DESCRIBE COMPUTE POOL {pool}")[0]
    state = f"{row['state']} {row.get('status_message') or ''}".strip()
    return Probe(row["state"] in ("IDLE", "ACTIVE"), state=state)


def service_logs(runner: SqlRunner, fqn: str, container: str, *, previous: bool = False) -> str:
    rows = runner.query(
        "USE ROLE SYSADMIN",
        f"CALL SYSTEM$GET_SERVICE_LOGS('{fqn}', '0', '{container}', 200, {str(previous).upper()})",
    )
    return str(next(iter(rows[0].values()))) if rows else ""


def _service_running(runner: SqlRunner, fqn: str, container: str) -> Probe[None]:
    """RUNNING is done; FAILED fails the wait at once, with the containers' messages and last logs."""
    status = runner.query("USE ROLE SYSADMIN", f"DESCRIBE SERVICE {fqn}")[0]["status"]
    if status == "FAILED":
        containers = runner.query("USE ROLE SYSADMIN", f"SHOW SERVICE CONTAINERS IN SERVICE {fqn}")
        messages = "; ".join(f"{c['container_name']}: {c['message']}" for c in containers)
        try:
            logs = service_logs(runner, fqn, container)
        except Exception as exc:  # no running container means no logs; say so
            logs = f"(no logs: {exc})"
        raise WaitFailed(f"service {fqn} FAILED ({messages})\n--- last logs ---\n{logs}")
    return Probe(status == "RUNNING", state=status)


def build_plan(
    target: Target,
    names: StackNames,
    *,
    image_tag: str | None = None,
    image_repository: str | None = None,
    budgets: Budgets | None = None,
    sql_dir: Path = REPO_ROOT / "sql",
    specs_dir: Path = REPO_ROOT / "specs",
    images_dir: Path = REPO_ROOT / "images",
    staging_dir: Path,
    cancelled: threading.Event | None = None,
) -> tuple[Plan, StackState]:
    budgets = budgets or (EMULATOR_BUDGETS if target.is_emulator else Budgets())
    created = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    state = StackState(
        names, new_password(), label(names.run_id, created), image_tag or f"run-{names.run_id}"
    )
    runner = SqlRunner(target, [state.password])
    specs = spec_variables(
        names, milvus_tag=state.image_tag, jupyter_tag=state.image_tag, repository=image_repository
    )
    state.spec_texts.update(checked_specs(specs_dir, specs, [state.password]))
    files = load_sql_dir(sql_dir)
    undo_files = load_sql_dir(sql_dir / "undo")
    variables = {**names.variables(), "comment": state.comment, "password": state.password}

    def sql_step(name: str, file: str, *, after: tuple[str, ...] = (), undo=None, wait=None) -> Step:
        sql_file = files[file]
        needed = {k: v for k, v in variables.items() if f"<% {k} %>" in sql_file.text}
        statements = render(sql_file.text, needed)  # now: a file that does not render fails preflight
        return Step(
            name,
            lambda: runner.run(statements),
            undo=undo,
            after=after,
            wait=wait,
            description=file,
        )

    fq = f"{names.database}.{names.schema}"

    def publish_images() -> None:
        if image_repository is not None:
            check_images(runner, image_repository, state.image_tag)
            return
        url = runner.query("USE ROLE SYSADMIN", f"SHOW IMAGE REPOSITORIES IN SCHEMA {fq}")[0][
            "repository_url"
        ]
        target.publish_image(f"{url}/milvus:{state.image_tag}", "milvus", None)
        target.publish_image(f"{url}/jupyter:{state.image_tag}", "jupyter", images_dir / "jupyter")

    def upload_specs() -> None:
        staging = staging_dir / "specs"
        staging.mkdir(parents=True, exist_ok=True)
        statements = ["USE ROLE SYSADMIN"]
        for spec, text in state.spec_texts.items():  # checked at preflight
            (staging / spec).write_text(text)
            statements.append(
                put_file(
                    staging / spec, f"{fq}.{names.specs_stage}", "OVERWRITE = TRUE AUTO_COMPRESS = FALSE"
                )
            )
        runner.run(statements)

    def until(probe, what: str, timeout: float):
        """A step's wait: poll ``probe`` with the run's interval and deadline, stopping on an interrupt."""
        return lambda: wait_for(
            probe, what=what, timeout=timeout, interval=budgets.interval, cancelled=cancelled
        )

    def ingress_probe() -> Probe[str]:
        rows = runner.query("USE ROLE SYSADMIN", f"SHOW ENDPOINTS IN SERVICE {fq}.{names.jupyter_service}")
        url = next((r["ingress_url"] for r in rows if r["is_public"] == "true"), None) or ""
        return Probe(bool(url) and PLACEHOLDER not in url, url, state=url or "no public endpoint")

    def wait_ingress() -> None:
        state.ingress_host = until(ingress_probe, "the Jupyter ingress URL", budgets.endpoint)()

    def undo(step: str):
        # sql/undo/<step>.sql, rendered like every other file: only validated names are substituted.
        text = undo_files[f"{step}.sql"].text
        return _undo(runner, text, {k: v for k, v in variables.items() if f"<% {k} %>" in text})

    service = f"{fq}.{names.milvus_service}", f"{fq}.{names.jupyter_service}"
    steps = [
        sql_step("account", "01_account.sql"),
        sql_step("role_and_user", "02_role_and_user.sql", undo=undo("role_and_user")),
        sql_step("storage", "03_storage.sql", after=("role_and_user",), undo=undo("storage")),
        sql_step("grants", "04_grants.sql", after=("storage",)),
        sql_step("network", "05_network.sql", after=("storage",), undo=undo("network")),
        sql_step(
            "pool_milvus",
            "06_compute_milvus.sql",
            undo=undo("pool_milvus"),
            wait=until(
                partial(_pool_ready, runner, names.milvus_pool),
                f"compute pool {names.milvus_pool} to be IDLE or ACTIVE",
                budgets.pool,
            ),
        ),
        sql_step(
            "pool_jupyter",
            "06_compute_jupyter.sql",
            undo=undo("pool_jupyter"),
            wait=until(
                partial(_pool_ready, runner, names.jupyter_pool),
                f"compute pool {names.jupyter_pool} to be IDLE or ACTIVE",
                budgets.pool,
            ),
        ),
        Step("images", publish_images, after=("storage",), description="publish or check the images"),
        Step("specs", upload_specs, after=("storage",), description="render and upload the specs"),
        sql_step(
            "service_milvus",
            "07_service_milvus.sql",
            after=("pool_milvus", "images", "specs", "network", "grants"),
            undo=undo("service_milvus"),
            wait=until(
                partial(_service_running, runner, service[0], "milvus"),
                f"service {service[0]} to be RUNNING",
                budgets.service,
            ),
        ),
        sql_step(
            "service_jupyter",
            "07_service_jupyter.sql",
            after=("pool_jupyter", "images", "specs", "network", "grants"),
            undo=undo("service_jupyter"),
            wait=until(
                partial(_service_running, runner, service[1], "jupyter"),
                f"service {service[1]} to be RUNNING",
                budgets.service,
            ),
        ),
        sql_step("endpoint_access", "08_endpoint_access.sql", after=("service_jupyter",), wait=wait_ingress),
    ]
    return Plan(steps), state
