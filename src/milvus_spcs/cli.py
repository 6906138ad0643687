"""``milvus-spcs``: the harness outside pytest. ``milvus-spcs emulator`` serves the bundled emulator."""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from milvus_spcs.stack.progress import Progress
    from milvus_spcs.target import Target

app = typer.Typer(
    help="Milvus on Snowpark Container Services: acceptance harness and emulator.", no_args_is_help=True
)
emulator_app = typer.Typer(help="The bundled emulator of Snowflake's SQL endpoint and SPCS.")
app.add_typer(emulator_app, name="emulator")

ADMIN_PASSWORD_ENV = "SPCS_EMULATOR_ADMIN_PASSWORD"


@emulator_app.callback(invoke_without_command=True)
def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Address to bind; loopback unless you mean it.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port of the SQL endpoint (0: a free one).")] = 0,
    admin_password: Annotated[
        str | None,
        typer.Option(
            envvar=ADMIN_PASSWORD_ENV,
            help=(
                "Password of the ADMIN user (default: random). Prefer the environment variable: on the "
                "command line it is readable by every local user in the process list."
            ),
        ),
    ] = None,
    profile: Annotated[str, typer.Option(help="Lifecycle timing: instant or realistic.")] = "instant",
    time_scale: Annotated[float, typer.Option(help="Multiplies every delay of the profile.")] = 1.0,
    state_dir: Annotated[
        Path | None, typer.Option(help="Where stages, volumes and logs live (default: temp).")
    ] = None,
    container_runtime: Annotated[
        str,
        typer.Option(
            help=(
                "What runs the services: process (local stand-ins chosen by the image's label), docker "
                "(the pushed images, pulled from the emulator's registry) or auto (docker where an engine "
                "and docker-registry are there)."
            )
        ),
    ] = "process",
) -> None:
    """Serve one emulated account until SIGINT or SIGTERM, then stop every process it started."""
    if ctx.invoked_subcommand is not None:
        return
    if container_runtime not in ("process", "docker", "auto"):
        raise typer.BadParameter("choose process, docker or auto", param_hint="--container-runtime")
    from spcs_emulator import PROFILES, Emulator, SharedStateDir, StateDirInUse

    if profile not in PROFILES:
        raise typer.BadParameter(f"choose one of {', '.join(PROFILES)}", param_hint="--profile")
    if time_scale <= 0:
        raise typer.BadParameter("must be positive", param_hint="--time-scale")
    if host not in ("127.0.0.1", "localhost", "::1"):
        typer.secho(
            f"WARNING: binding {host}: the emulator has no TLS and one admin password.", fg="red", err=True
        )
    source = ctx.get_parameter_source("admin_password")  # typer's own copy of click's ParameterSource
    if source is not None and source.name == "COMMANDLINE":
        typer.secho(
            f"WARNING: --admin-password is readable by every local user in /proc/<pid>/cmdline; "
            f"set {ADMIN_PASSWORD_ENV} instead.",
            fg="red",
            err=True,
        )
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        emulator = Emulator(
            host=host,
            port=port,
            admin_password=admin_password,
            profile=profile,
            time_scale=time_scale,
            state_dir=state_dir,
            registry=None,  # where docker-registry is installed: docker login/push as on SPCS
            container_runtime=container_runtime,
        )
        emulator.start()
    except (StateDirInUse, SharedStateDir, RuntimeError, FileNotFoundError) as exc:
        typer.secho(f"ERROR: {exc}", fg="red", err=True)
        raise typer.Exit(1) from None
    try:
        typer.echo("# spcs-emulator is serving one account; add this to connections.toml:")
        typer.echo(emulator.connections_toml())
        typer.echo(
            f"# control API: http://{host}:{emulator.port}/_emulator/ (header X-Emulator-Admin-Password)"
        )
        registry = emulator.account.state.registry_host
        typer.echo(f"# container-runtime={emulator.container_runtime} registry={registry}")
        typer.echo(f"# profile={profile} time-scale={time_scale} state-dir={emulator.state_dir}", nl=True)
        stop.wait()
        typer.echo("# stopping: services, ingress proxies, SQL endpoint")
    finally:
        emulator.stop()


@emulator_app.command()
def push(
    image: Annotated[
        str, typer.Argument(help="<repository_url>/<image>:<tag>, as SHOW IMAGE REPOSITORIES shows it.")
    ],
    runtime: Annotated[
        str, typer.Option(help="What the image runs locally: milvus, milvus-lite or jupyter.")
    ],
    port: Annotated[int, typer.Option(help="Port of the running emulator.")],
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    files: Annotated[
        Path | None,
        typer.Option(help="Directory the container sees as its working directory (e.g. the notebook)."),
    ] = None,
    admin_password: Annotated[
        str, typer.Option(envvar=ADMIN_PASSWORD_ENV, prompt=True, hide_input=True)
    ] = "",
) -> None:
    """Publish an image into an emulated image repository (stands in for ``docker push``)."""
    from spcs_emulator import RUNTIMES, ControlClient, ControlError

    if runtime not in RUNTIMES:
        raise typer.BadParameter(f"choose one of {', '.join(RUNTIMES)}", param_hint="--runtime")
    try:
        published = ControlClient(host, port, admin_password, timeout=30).publish_image(image, runtime, files)
    except ControlError as exc:
        typer.secho(f"push failed ({exc.status}): {exc.error}", fg="red", err=True)
        raise typer.Exit(1) from None
    except OSError as exc:
        typer.secho(f"push failed: no emulator answers on {host}:{port} ({exc})", fg="red", err=True)
        raise typer.Exit(1) from None
    typer.echo(published.image)


def _progress() -> Progress:
    """A live table on a terminal, timestamped lines in a log (MILVUS_SPCS_PROGRESS overrides)."""
    from milvus_spcs.stack.progress_display import terminal_progress

    return terminal_progress(typer.echo, stream=sys.stdout)


def _target(connection: str | None) -> Target:
    from milvus_spcs.config import resolve_config
    from milvus_spcs.errors import PreflightError
    from milvus_spcs.library_warnings import silence_library_warnings
    from milvus_spcs.target import resolve_target

    silence_library_warnings()  # before the first connection
    if connection is None:
        raise typer.BadParameter(
            "name a connections.toml entry (a running `milvus-spcs emulator` or an account): a stack on "
            "a self-started emulator would vanish with this command",
            param_hint="--snowflake-connection",
        )
    try:
        return resolve_target(resolve_config({"snowflake_connection": connection}, {}))
    except PreflightError as exc:
        typer.secho(str(exc), fg="red", err=True)
        raise typer.Exit(2) from None


Connection = Annotated[
    str | None,
    typer.Option(
        "--snowflake-connection", envvar="MILVUS_SPCS_SNOWFLAKE_CONNECTION", help="connections.toml entry"
    ),
]


@app.command()
def up(
    connection: Connection = None,
    run_id: Annotated[str | None, typer.Option(help="6 characters [a-z0-9] (default: random)")] = None,
    image_tag: Annotated[str | None, typer.Option(help="images already pushed with this tag")] = None,
    image_repository: Annotated[
        str | None, typer.Option(help="DB.SCHEMA.REPO with the pushed images (a real account)")
    ] = None,
    artifacts_dir: Annotated[Path, typer.Option()] = Path("artifacts"),
    image_source: Annotated[
        str,
        typer.Option(
            help="emulator: publish (stand-ins by name) or push (build, docker login, push to its registry)"
        ),
    ] = "publish",
    specs_dir: Annotated[
        Path | None, typer.Option(help="your own milvus.yaml and jupyter.yaml (default: the bundled specs)")
    ] = None,
) -> None:
    """Provision a whole stack and keep it (remove it with `milvus-spcs down --run ID`)."""
    from milvus_spcs.config import resolve_config
    from milvus_spcs.errors import PreflightError
    from milvus_spcs.stack.run import provisioned_stack

    try:
        config = resolve_config(
            {
                "snowflake_connection": connection,
                "run_id": run_id,
                "image_tag": image_tag,
                "image_repository": image_repository,
                "artifacts_dir": str(artifacts_dir),
                "keep_stack": "1",
                "image_source": image_source,
                "specs_dir": str(specs_dir) if specs_dir is not None else None,
            },
            {},
        )
        target = _target(connection)  # after the options: a bad one is refused before connecting
        with provisioned_stack(target, config, report=typer.echo, progress=_progress()) as state:
            typer.echo(
                f"run {state.names.run_id}: database {state.names.database}, ingress {state.ingress_host}"
            )
    except PreflightError as exc:
        typer.secho(str(exc), fg="red", err=True)
        raise typer.Exit(2) from None


@app.command()
def status(connection: Connection = None) -> None:
    """Runs with labelled objects in the account, and what each still has."""
    from milvus_spcs.stack.janitor import find_runs
    from milvus_spcs.stack.sql_runner import SqlRunner

    runs = find_runs(SqlRunner(_target(connection), []), report=typer.echo)
    if not runs:
        typer.echo("no labelled objects")
    for run in sorted(runs.values(), key=lambda r: r.created):
        typer.echo(f"run {run.run_id} created {run.created.isoformat()}: {', '.join(run.objects)}")


@app.command()
def down(
    run: Annotated[str, typer.Option("--run", help="the run id to remove")],
    connection: Connection = None,
) -> None:
    """Remove every object of one run (services first; safe to repeat)."""
    from milvus_spcs.naming import check_run_id
    from milvus_spcs.stack.janitor import find_runs, teardown_run
    from milvus_spcs.stack.sql_runner import SqlRunner

    try:
        check_run_id(run)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--run") from None
    runner = SqlRunner(_target(connection), [])
    teardown_run(runner, run, progress=_progress())
    left = find_runs(runner, report=typer.echo).get(run)
    if left:
        typer.secho(f"run {run} still has: {', '.join(left.objects)}", fg="red", err=True)
        raise typer.Exit(1)
    typer.echo(f"run {run} removed")


@app.command()
def janitor(
    older_than: Annotated[str, typer.Option(help="e.g. 6h, 30m, 2d")],
    connection: Connection = None,
) -> None:
    """Remove every labelled run older than the given age (leaked by crashed runs): its Snowflake
    objects, and the local Docker containers the harness started for it (when an engine answers)."""
    from milvus_spcs.docker_engine import sweep_containers
    from milvus_spcs.stack.janitor import parse_duration, sweep
    from milvus_spcs.stack.sql_runner import SqlRunner

    try:
        age = parse_duration(older_than)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--older-than") from None
    containers = sweep_containers(age, report=typer.echo)
    typer.echo(f"removed {len(containers)} container(s)")
    if connection is None:
        typer.echo("no --snowflake-connection: only local containers were swept")
        return
    removed = sweep(SqlRunner(_target(connection), []), age, report=typer.echo, progress=_progress())
    typer.echo(f"removed {len(removed)} run(s): {', '.join(r.run_id for r in removed) or '-'}")


@app.command()
def record(
    out: Annotated[Path, typer.Option(help="the observation file to write (YAML)")],
    connection: Connection = None,
    with_services: Annotated[
        bool, typer.Option(help="also a compute pool and services (they cost credits on an account)")
    ] = False,
    service_image: Annotated[
        str | None, typer.Option(help="/db/schema/repo/image:tag for the services (an account)")
    ] = None,
) -> None:
    """Run the conformance catalogue in a labelled scratch database and write what was answered."""
    from milvus_spcs.conformance.run_record import record_catalogue

    record_catalogue(_target(connection), out, with_services, service_image, report=typer.echo)
    typer.echo(f"wrote {out}")


@app.command(
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []},
    add_help_option=False,
)
def bench(ctx: typer.Context) -> None:
    """Search at scale per Milvus backend and inside SPCS: the options of `python -m bench.scale --help`."""
    from milvus_spcs.bench.cli import main

    raise typer.Exit(main(list(ctx.args)))


images_app = typer.Typer(help="The Milvus and Jupyter images.")
app.add_typer(images_app, name="images")


@images_app.command("build")
def images_build(
    bases: Annotated[
        str,
        typer.Option(help="real (pull the pinned bases), local (stand-ins from Debian's packages), auto"),
    ] = "auto",
    tag: Annotated[str, typer.Option(help="tag of milvus-spcs/milvus and milvus-spcs/jupyter")] = "dev",
) -> None:
    """Build both images for linux/amd64; offline on stand-in bases where the real ones cannot be pulled."""
    from milvus_spcs.docker_engine import docker_engine_problem
    from milvus_spcs.errors import HarnessError, PreflightError
    from milvus_spcs.images.build import build_images
    from milvus_spcs.images.commands import BuildLog
    from milvus_spcs.images.standins import LOGS
    from milvus_spcs.naming import image_tag_problem

    log = BuildLog.dated(LOGS, "build")
    try:
        if image_tag_problem(tag) or tag == "latest":
            raise PreflightError(f"--tag {image_tag_problem(tag) or 'latest moves: pin a tag'}")
        problem = docker_engine_problem()
        if problem:
            raise PreflightError(
                f"building images needs a Docker engine: {problem}", ["bash scripts/install-docker.sh"]
            )
        typer.echo(f"building (log: {log.path})")
        for image in build_images(bases, tag, log):
            typer.echo(image.line())
    except PreflightError as exc:
        typer.secho(str(exc), fg="red", err=True)
        raise typer.Exit(2) from None
    except HarnessError as exc:
        typer.secho(str(exc), fg="red", err=True)
        raise typer.Exit(1) from None


@images_app.command("push")
def images_push(
    repository: Annotated[str, typer.Option(help="DATABASE.SCHEMA.REPOSITORY (created beforehand)")],
    tag: Annotated[str, typer.Option(help="image tag, never 'latest'")],
    connection: Connection = None,
    bases: Annotated[
        str,
        typer.Option(help="real (pull the pinned bases), local (stand-ins from Debian's packages), auto"),
    ] = "auto",
) -> None:
    """Build both images for linux/amd64 and push them (needs a Docker engine); prints each pushed
    reference and its digest."""
    from milvus_spcs.config import resolve_config
    from milvus_spcs.errors import HarnessError, PreflightError
    from milvus_spcs.images.commands import BuildLog
    from milvus_spcs.images.push import push_images
    from milvus_spcs.images.standins import LOGS

    try:
        config = resolve_config({"image_repository": repository, "image_tag": tag}, {})
        if tag == "latest":
            raise PreflightError("pin a tag: 'latest' is refused by the spec policy")
        from milvus_spcs.docker_engine import docker_engine_problem

        problem = docker_engine_problem()
        if problem:  # before touching Snowflake
            raise PreflightError(f"building images needs a Docker engine: {problem}")
        target = _target(connection)
        log = BuildLog.dated(LOGS, "push")
        typer.echo(f"the build's log, once the repository is found: {log.path}")
        for image in push_images(target, config.image_repository or repository, tag, bases=bases, log=log):
            typer.echo(f"pushed: {image.reference} {image.digest}")
    except PreflightError as exc:
        typer.secho(str(exc), fg="red", err=True)
        raise typer.Exit(2) from None
    except HarnessError as exc:
        typer.secho(str(exc), fg="red", err=True)
        raise typer.Exit(1) from None


if __name__ == "__main__":
    app()
