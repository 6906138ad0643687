"""A run's checks before anything is created: what would make a step fail for certain, and objects of
the run id that ``IF NOT EXISTS`` would adopt. (The specs and SQL files are checked by build_plan.)"""

from __future__ import annotations

from milvus_spcs.config import HarnessConfig
from milvus_spcs.errors import PreflightError
from milvus_spcs.stack.janitor import labels_in, list_objects, named_as_run, runs_reported
from milvus_spcs.stack.sql_runner import SqlRunner
from milvus_spcs.target import Target


def images_pushed_by_run(target: Target, config: HarnessConfig) -> bool:
    """Whether the run builds and pushes its images; refuses a run whose images could never be there
    (the services could never start) or be pushed (no Docker engine)."""
    if not target.supplies_images and not (config.image_repository and config.image_tag):
        raise PreflightError(
            "a real account needs the images pushed to a repository first",
            [
                "milvus-spcs images push --snowflake-connection NAME --repository DB.SCHEMA.REPO --tag TAG",
                "then pass --image-repository DB.SCHEMA.REPO --image-tag TAG",
            ],
        )
    if config.image_repository is not None:  # pushed beforehand: the run only names them
        return False
    push = config.image_source == "push" or target.runs_pushed_images
    if push:
        from milvus_spcs.docker_engine import docker_engine_problem

        problem = docker_engine_problem()
        if problem:
            raise PreflightError(
                f"--image-source push builds and pushes images, which needs a Docker engine: {problem}",
                ["bash scripts/install-docker.sh", "or --image-source publish (stand-ins by name)"],
            )
    return push


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
