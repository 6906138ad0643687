"""A recording names no account, user or host: `milvus-spcs record` scrubs the connection's own identity
from every answer, as whole words in any case (a user named AB leaves ABC alone)."""

from __future__ import annotations

from pathlib import Path

from milvus_spcs.conformance.catalogue import CatalogueRun
from milvus_spcs.conformance.observation import Observation
from milvus_spcs.conformance.scrub import Scrubber
from milvus_spcs.target import EmulatorTarget
from tests.conformance.conftest import conformance_emulator


def scrubber() -> Scrubber:
    scrub = Scrubber()
    scrub.identify(account="MYORG-ACCT1", user="AB", host="myorg-acct1.snowflakecomputing.com")
    return scrub


def test_the_connections_identity_is_scrubbed_as_whole_words_in_any_case() -> None:
    scrub = scrubber()
    assert scrub.text("AB") == "<user>"
    assert scrub.text("user ab logged in to myorg-acct1") == "user <user> logged in to <account>"
    assert scrub.text('"AB".ABC AB_2 ABC xAB AB$1') == '"<user>".ABC AB_2 ABC xAB AB$1'
    assert scrub.text("https://myorg-acct1.snowflakecomputing.com:443/x") == "https://<host>:443/x"
    assert scrub.text("Object 'MYORG-ACCT1.AB' does not exist") == "Object '<account>.<user>' does not exist"


def test_hosts_that_hold_the_account_stay_one_placeholder() -> None:
    scrub = scrubber()
    assert scrub.text("myorg-acct1.registry.snowflakecomputing.com/db/s/repo") == "<registry-host>/db/s/repo"
    assert scrub.text("https://abc12-myorg-acct1.snowflakecomputing.app/") == "https://<ingress-host>/"


def test_nothing_is_identified_from_empty_values() -> None:
    scrub = Scrubber()
    scrub.identify(account="", user=None, host="  ")
    assert scrub.identities == {}
    assert scrub.text("anything at all") == "anything at all"


def test_a_recording_scrubs_the_account_and_user_it_ran_as(tmp_path: Path) -> None:
    observation = Observation(
        id="who",
        source="this test",
        sql="SELECT CURRENT_ACCOUNT(), CURRENT_USER(), 'ADMINS', 'ADMIN_2'",
        expect={"rows": [["<account>", "<user>", "ADMINS", "ADMIN_2"]]},
    )
    with conformance_emulator(tmp_path / "state") as emu:
        target = EmulatorTarget("recorded on", emu.connection_parameters())
        answers = CatalogueRun(target, with_services=False, service_timeout=10).run([observation])
    assert answers["who"]["rows"] == [
        {
            "CURRENT_ACCOUNT()": "<account>",
            "CURRENT_USER()": "<user>",
            "'ADMINS'": "ADMINS",  # longer words than the user's name are not the user
            "'ADMIN_2'": "ADMIN_2",
        }
    ]
