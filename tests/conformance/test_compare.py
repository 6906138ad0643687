"""The pieces a replay's verdict rests on: scrubbing, comparing, and divergence bookkeeping."""

from __future__ import annotations

import datetime as dt

import pytest

from milvus_spcs.conformance.compare import differences
from milvus_spcs.conformance.observation import Observation, ObservationError, parse
from milvus_spcs.conformance.scrub import Scrubber
from milvus_spcs.conformance.verdict import verdict


def test_scrubbing_names_secrets_hosts_and_times() -> None:
    scrub = Scrubber(
        names={"MILVUS_SPCS_AB12CD_DB": "{db}", "MILVUS_SPCS_AB12CD_SVC": "{svc}"}, secrets=["s3cret"]
    )
    assert scrub.text("milvus-spcs-ab12cd-svc.x9zq.svc.spcs.internal") == "{svc}.<dns-id>.svc.spcs.internal"
    assert scrub.text("org-acct.registry.snowflakecomputing.com/milvus_spcs_ab12cd_db/public/r") == (
        "<registry-host>/{db}/public/r"
    )
    assert scrub.text("password s3cret") == "password <secret>"
    assert scrub.value(dt.datetime.now(dt.UTC)) == "<timestamp>"


def test_only_what_the_expectation_states_is_compared() -> None:
    answer = {
        "columns": ["name TEXT", "state TEXT"],
        "rows": [{"name": "P", "state": "IDLE"}],
        "row_count": 1,
    }
    assert (
        differences({"columns": ["name", "state TEXT"], "rows": [{"state": {"re": "IDLE|ACTIVE"}}]}, answer)
        == []
    )
    assert differences({"columns": ["name", "state FIXED"]}, answer)
    assert differences({"error": {"code": "002003"}}, answer)


def obs(**divergence: object) -> Observation:
    return Observation(
        id="x", source="DOC", sql="SELECT 1", expect={"row_count": 2}, divergence=divergence or None, file="f"
    )


def test_a_divergence_must_stay_as_documented() -> None:
    marked = obs(why="the emulator answers one row", emulator={"row_count": 1})
    assert verdict(marked, {"row_count": 1}) == []
    assert "now answers as Snowflake" in verdict(marked, {"row_count": 2})[0]
    assert "divergence changed" in verdict(marked, {"row_count": 3})[0]
    assert "source: DOC" in verdict(obs(), {"row_count": 3})[0]


def test_an_observation_without_source_is_refused() -> None:
    with pytest.raises(ObservationError, match="no source"):
        parse(
            {"observations": [{"id": "x", "source": " ", "sql": "SELECT 1", "expect": {"row_count": 1}}]}, "f"
        )


def test_what_a_recording_leaves_out() -> None:
    """Pools and services only with --with-services; services on an account only with an image."""
    from milvus_spcs.conformance.catalogue import CatalogueRun
    from milvus_spcs.target import AccountTarget

    account = AccountTarget("an account", {})
    pool, service = obs(), obs()
    pool.needs, service.needs = "pool", "service"
    assert CatalogueRun(account).skip_reason(pool) == "needs a pool (--with-services)"
    assert CatalogueRun(account, with_services=True).skip_reason(pool) is None
    assert "--service-image" in str(CatalogueRun(account, with_services=True).skip_reason(service))
    assert CatalogueRun(account, with_services=True, image="/d/s/r/i:1").skip_reason(service) is None
