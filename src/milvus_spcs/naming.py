"""Run ids: short, random, and part of every name the harness creates."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

# Every pattern here is applied with fullmatch: `$` would accept a trailing newline.
RUN_ID_PATTERN = re.compile(r"[a-z0-9]{6}")
# Docker's tag grammar, https://docs.docker.com/reference/cli/docker/image/tag/ (no leading '.' or '-').
IMAGE_TAG_PATTERN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")


def printable(name: object) -> str:
    """An object name as a terminal may show it: control characters (an escape sequence in a name
    someone else chose) are written as Python escapes, never sent raw."""
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in str(name))


def new_run_id() -> str:
    """Six lowercase base-36-ish characters: short enough for identifiers, random enough per run."""
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    return "".join(secrets.choice(alphabet) for _ in range(6))


def check_run_id(run_id: str) -> str:
    if not RUN_ID_PATTERN.fullmatch(run_id):
        raise ValueError(f"run id {run_id!r} must be 6 characters of [a-z0-9]")
    return run_id


def image_tag_problem(tag: str) -> str | None:
    """Why ``tag`` is not a usable image tag, or None. '..' is refused too: a tag may end up in a path."""
    if not IMAGE_TAG_PATTERN.fullmatch(tag) or ".." in tag:
        return (
            f"{tag!r} is not an image tag (1-128 characters of [A-Za-z0-9_.-], not starting with "
            "'.' or '-', without '..')"
        )
    return None


LABEL_PREFIX = "milvus-spcs run="
LABEL_PATTERN = re.compile(r"milvus-spcs run=(?P<run>[a-z0-9]{6}) created=(?P<created>\S+)")


def label(run_id: str, created: str) -> str:
    """The COMMENT every object of a run carries; the janitor finds leaked objects by it."""
    return f"{LABEL_PREFIX}{check_run_id(run_id)} created={created}"


@dataclass(frozen=True)
class StackNames:
    """Every name of one run's stack. Account-level objects carry the run id; objects inside the
    run's database need not (the database is the run's)."""

    run_id: str

    @property
    def prefix(self) -> str:
        return f"MILVUS_SPCS_{check_run_id(self.run_id).upper()}"

    @property
    def role(self) -> str:
        return f"{self.prefix}_ROLE"

    @property
    def user(self) -> str:
        return f"{self.prefix}_USER"

    @property
    def outsider(self) -> str:
        """A user of the run without endpoint access (the ingress suite's refused user)."""
        return f"{self.prefix}_OUTSIDER"

    @property
    def warehouse(self) -> str:
        return f"{self.prefix}_WH"

    @property
    def database(self) -> str:
        return f"{self.prefix}_DB"

    schema: str = "PUBLIC"
    repository: str = "IMAGES"
    specs_stage: str = "SPECS"
    files_stage: str = "FILES"
    network_rule: str = "EGRESS_RULE"
    secret: str = "MILVUS_CREDENTIALS"
    milvus_service: str = "MILVUS"
    jupyter_service: str = "JUPYTER"
    # One per account (Snowflake allows one SNOWSERVICES_INGRESS integration): reused, never dropped.
    ingress_integration: str = "SNOWSERVICES_INGRESS_OAUTH"

    @property
    def integration(self) -> str:
        return f"{self.prefix}_EAI"

    @property
    def milvus_pool(self) -> str:
        return f"{self.prefix}_MILVUS_POOL"

    @property
    def jupyter_pool(self) -> str:
        return f"{self.prefix}_JUPYTER_POOL"

    def variables(self) -> dict[str, str]:
        """Identifier variables of the sql/ files (snow's `<% name %>` syntax), all validated names."""
        return {
            "run_id": self.run_id,
            "role": self.role,
            "user": self.user,
            "outsider": self.outsider,
            "warehouse": self.warehouse,
            "database": self.database,
            "schema": self.schema,
            "repository": self.repository,
            "specs_stage": self.specs_stage,
            "files_stage": self.files_stage,
            "network_rule": self.network_rule,
            "integration": self.integration,
            "secret": self.secret,
            "milvus_pool": self.milvus_pool,
            "jupyter_pool": self.jupyter_pool,
            "milvus_service": self.milvus_service,
            "jupyter_service": self.jupyter_service,
            "ingress_integration": self.ingress_integration,
        }
