"""The observation file format (YAML): one fact about Snowflake per entry, with its source.

    observations:
    - id: show-endpoints-columns
      source: "DOC show-endpoints; reference §1.11"
      needs: service            # optional: "pool" or "service" (they cost: recorded only with
                                # --with-services); default: nothing beyond the scratch database
      session: admin            # or "user": the run's user with the run's role only
      setup: ["CREATE ..."]     # run first, in order; any failure fails the observation
      sql: "SHOW ENDPOINTS IN SERVICE {svc}"      # or http: {endpoint, token} for the ingress
      expect:                   # what Snowflake answered
        columns: ["name TEXT", "port FIXED", ...]  # in order, "name TYPE" (connector type names)
        rows: [{name: ui, ingress_url: {re: "..."}}]  # the rows in order; only the columns given
        row_count: 1
        error: {code: "002003", sqlstate: "02000", message: {re: "..."}}
        status: 302             # http observations: the HTTP status
      divergence:               # where the emulator knowingly differs
        why: "..."
        emulator: {...}         # what the emulator answers instead (same keys as expect)

Placeholders in SQL and in expected values: {db} (the scratch database), {schema}, {role},
{user}, {password}, {wh}, {pool}, {pool2}, {svc}, {svc2}, {eai}, {image}, {label}. The account-level
ones are names the run teardown (sql/90_teardown.sql) drops: an observation creates no other account
object. A value ``{re: P}`` matches the whole scrubbed value against the regular expression P; any
other value must be equal.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

NEEDS = (None, "pool", "service")
SESSIONS = ("admin", "user")
EXPECT_KEYS = {"columns", "rows", "row_count", "error", "status", "location"}


class ObservationError(ValueError):
    """A malformed observation file (named, with the entry's id)."""


@dataclass
class Observation:
    id: str
    source: str
    sql: str | None = None
    http: dict[str, Any] | None = None
    setup: list[str] = field(default_factory=list)
    session: str = "admin"
    needs: str | None = None
    expect: dict[str, Any] = field(default_factory=dict)
    divergence: dict[str, Any] | None = None
    file: str = ""

    def check(self) -> None:
        where = f"{self.file}: observation {self.id!r}"
        if not self.source.strip():
            raise ObservationError(f"{where} has no source")
        if (self.sql is None) == (self.http is None):
            raise ObservationError(f"{where} needs exactly one of sql and http")
        if self.needs not in NEEDS or self.session not in SESSIONS:
            raise ObservationError(f"{where}: needs {self.needs!r} / session {self.session!r} unknown")
        if self.http is not None and self.needs != "service":
            raise ObservationError(f"{where}: an http observation needs a service")
        parts = [self.expect] + ([self.divergence.get("emulator", {})] if self.divergence else [])
        for part in parts:
            if not part or set(part) - EXPECT_KEYS:
                raise ObservationError(f"{where}: expect keys are {sorted(EXPECT_KEYS)}, got {part!r}")
        if self.divergence is not None and not str(self.divergence.get("why", "")).strip():
            raise ObservationError(f"{where}: a divergence says why")

    def to_yaml_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "source": self.source}
        if self.needs:
            out["needs"] = self.needs
        if self.session != "admin":
            out["session"] = self.session
        if self.setup:
            out["setup"] = self.setup
        out.update({"sql": self.sql} if self.sql is not None else {"http": self.http})
        out["expect"] = self.expect
        if self.divergence:
            out["divergence"] = self.divergence
        return out


def parse(document: Any, file: str) -> list[Observation]:
    if not isinstance(document, dict) or not isinstance(document.get("observations"), list):
        raise ObservationError(f"{file}: a mapping with a list 'observations' expected")
    found = []
    for entry in document["observations"]:
        try:
            obs = Observation(**entry, file=file)
        except TypeError as exc:
            raise ObservationError(f"{file}: {entry.get('id', entry)!r}: {exc}") from None
        obs.check()
        found.append(obs)
    return found


def load(path: Path) -> list[Observation]:
    return parse(yaml.safe_load(path.read_text()), path.name)


def load_dir(directory: Path) -> list[Observation]:
    """Every observation of ``directory``'s *.yaml files, file by file; ids unique."""
    found: list[Observation] = []
    for path in sorted(directory.glob("*.yaml")):
        found.extend(load(path))
    seen: set[str] = set()
    for obs in found:
        if obs.id in seen:
            raise ObservationError(f"{obs.file}: id {obs.id!r} used twice")
        seen.add(obs.id)
    return found


def dump(observations: list[Observation], header: str) -> str:
    """A file ``load`` reads back; ``header`` becomes its leading comment."""
    comment = "".join(f"# {line}\n" for line in header.splitlines())
    body = yaml.safe_dump(
        {"observations": [o.to_yaml_dict() for o in observations]},
        sort_keys=False,
        allow_unicode=True,
        width=110,
    )
    return comment + body
