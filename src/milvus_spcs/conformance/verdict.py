"""What a replay concludes about one observation: agreement, a documented divergence still as
documented, or a failure that names the observation and its source."""

from __future__ import annotations

from typing import Any

from milvus_spcs.conformance.compare import differences
from milvus_spcs.conformance.observation import Observation


def verdict(obs: Observation, answer: dict[str, Any]) -> list[str]:
    """The problems (empty: the emulator answers as the observation says it does)."""
    where = f"observation {obs.id!r} ({obs.file}; source: {obs.source})"
    if "skipped" in answer:
        return []
    if "setup_error" in answer:
        return [f"{where}: setup failed: {answer['setup_error']}"]
    if obs.divergence is None:
        found = differences(obs.expect, answer)
        return [f"{where}: the emulator differs from Snowflake:", *found] if found else []
    if not differences(obs.expect, answer):
        return [f"{where}: the emulator now answers as Snowflake does: remove the divergence mark"]
    from_emulator = differences(obs.divergence["emulator"], answer)
    if from_emulator:
        return [f"{where}: the documented divergence changed ({obs.divergence['why']}):", *from_emulator]
    return []
