"""Recording: run the catalogue on a target and write what it answered as an observation file that
tests/conformance replays as it is (MILVUS_SPCS_OBSERVATIONS=<file> pytest tests/conformance).

A recorded expectation keeps what the catalogue says matters: every column with its type, the row
count, and of each row only the columns the catalogue's observation names (a value where the catalogue
has a pattern stays that pattern when the recorded value matches it, so that a status still moving on
the account does not read as drift). Everything written is scrubbed (names, timestamps, ids, secrets).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from milvus_spcs.conformance.catalogue import CatalogueRun
from milvus_spcs.conformance.compare import value_matches
from milvus_spcs.conformance.observation import Observation, dump
from milvus_spcs.target import Target


@dataclass(frozen=True)
class Recording:
    text: str
    # Observations whose setup failed: a recording that silently shrank would replay green.
    setup_failures: list[str]


def generalise(catalogue_value: Any, recorded: Any) -> Any:
    """The catalogue's pattern when the recorded value fits it, else the recorded value."""
    if isinstance(catalogue_value, dict) and value_matches(catalogue_value, recorded):
        return catalogue_value
    return recorded


def recorded_expectation(obs: Observation, answer: dict[str, Any]) -> dict[str, Any]:
    said = obs.expect
    if "error" in answer:
        said_error = said.get("error", {})
        return {"error": {k: generalise(said_error.get(k), v) for k, v in answer["error"].items()}}
    if "status" in answer:  # an ingress answer
        out = {"status": generalise(said.get("status"), answer["status"])}
        if "location" in said and "location" in answer:
            out["location"] = generalise(said["location"], answer["location"])
        return out
    out = {"columns": answer["columns"], "row_count": answer["row_count"]}
    wanted = said.get("rows") or []
    if wanted:
        out["rows"] = [
            {column: generalise(pattern, got.get(column)) for column, pattern in want.items()}
            for want, got in zip(wanted, answer["rows"], strict=False)
        ]
        # Rows beyond what the catalogue names: keep their count, compare the columns of its last row.
        for got in answer["rows"][len(wanted) :]:
            out["rows"].append({column: got.get(column) for column in wanted[-1]})
    return out


def record(
    target: Target,
    catalogue: list[Observation],
    *,
    with_services: bool,
    image: str | None = None,
    report: Callable[[str], None] = lambda _: None,
) -> Recording:
    """The observation file's text, and the observations whose setup the target refused."""
    run = CatalogueRun(target, with_services=with_services, image=image, report=report)
    conn = target.connect()
    try:
        cursor = conn.cursor()
        row = cursor.execute("SELECT CURRENT_VERSION()").fetchone()
        version = str(row[0]) if row else "unknown"
    finally:
        conn.close()
    answers = run.run(catalogue)
    day = dt.datetime.now(dt.UTC).date().isoformat()
    recorded: list[Observation] = []
    left_out: list[str] = []
    setup_failures: list[str] = []
    for obs in catalogue:
        answer = answers[obs.id]
        if "skipped" in answer or "setup_error" in answer:
            left_out.append(f"{obs.id}: {answer.get('skipped') or answer.get('setup_error')}")
            if "setup_error" in answer:  # not a choice (services left out) but a change on the target
                setup_failures.append(left_out[-1])
            continue
        recorded.append(
            Observation(
                id=obs.id,
                source=f"recorded on {day}, Snowflake {version} ({target.kind.value}); "
                f"catalogue: {obs.source}",
                sql=obs.sql,
                http=obs.http,
                setup=obs.setup,
                session=obs.session,
                needs=obs.needs,
                expect=recorded_expectation(obs, answer),
            )
        )
    header = [
        f"Recorded by `milvus-spcs record` on {day} from a {target.kind.value} (Snowflake {version}).",
        f"{len(recorded)} observations; services {'included' if with_services else 'left out'}.",
        "Replay: MILVUS_SPCS_OBSERVATIONS=<this file> python -m pytest tests/conformance",
        *(["Not recorded:"] + [f"  {line}" for line in left_out] if left_out else []),
    ]
    return Recording(dump(recorded, "\n".join(header)), setup_failures)
