"""BCR-2206 (2026_01): deleting a block volume first snapshots it (billed, kept 7 days) unless the spec
opts out with blockConfig.snapshotOnDelete: false. The emulator keeps those snapshots, lists them in
SHOW SNAPSHOTS and lets their owner drop them (docs: release-notes/bcr-bundles/2026_01/bcr-2206,
sql-reference/sql/show-snapshots, drop-snapshot)."""

from __future__ import annotations

import json

import pytest
from snowflake.connector.errors import ProgrammingError

from tests.emulator.sql import rows

COLUMNS = [
    "name",
    "state",
    "database_name",
    "schema_name",
    "service_name",
    "volume_name",
    "instance",
    "size",
    "comment",
    "owner",
    "owner_role_type",
    "created_on",
    "encryption",
]


def spec(block_config: dict | None = None) -> str:
    volume: dict = {"name": "data", "source": "block", "size": "10Gi"}
    if block_config is not None:
        volume["blockConfig"] = block_config
    body = {
        "spec": {
            "containers": [
                {
                    "name": "m",
                    "image": "/d/public/r/m:1",
                    "volumeMounts": [{"name": "data", "mountPath": "/d"}],
                }
            ],
            "volumes": [volume],
        }
    }
    return json.dumps(body)


@pytest.fixture
def account(admin):
    admin.execute("CREATE DATABASE D")
    admin.execute("CREATE IMAGE REPOSITORY R")
    admin.execute("CREATE COMPUTE POOL P MIN_NODES=1 MAX_NODES=1 INSTANCE_FAMILY=CPU_X64_XS")
    return admin


def test_a_force_drop_leaves_a_billed_backup_snapshot_that_show_snapshots_lists(account) -> None:
    account.execute(f"CREATE SERVICE S IN COMPUTE POOL P FROM SPECIFICATION $${spec()}$$")
    account.execute("DROP SERVICE S FORCE")
    account.execute("SHOW SNAPSHOTS IN SCHEMA D.PUBLIC")
    assert [d[0] for d in account.description] == COLUMNS
    (snapshot,) = rows(account, "SHOW SNAPSHOTS IN SCHEMA D.PUBLIC")
    assert snapshot["name"].startswith("SYS_BACKUP_ON_DELETE")
    assert (snapshot["state"], snapshot["service_name"], snapshot["volume_name"]) == (
        "CREATED",
        "D.PUBLIC.S",
        "data",
    )
    assert (snapshot["instance"], snapshot["size"], snapshot["owner"]) == (0, 10, "ACCOUNTADMIN")
    (described,) = rows(account, f"DESCRIBE SNAPSHOT D.PUBLIC.{snapshot['name']}")
    assert described["name"] == snapshot["name"]
    assert account.execute(f"DROP SNAPSHOT D.PUBLIC.{snapshot['name']}").fetchone() == (
        f"{snapshot['name']} successfully dropped.",
    )
    assert rows(account, "SHOW SNAPSHOTS IN ACCOUNT") == []


def test_stop_all_backs_up_block_volumes_too(account) -> None:
    account.execute(f"CREATE SERVICE S IN COMPUTE POOL P FROM SPECIFICATION $${spec()}$$")
    account.execute("ALTER COMPUTE POOL P STOP ALL")
    assert [
        r["service_name"] for r in rows(account, "SHOW SNAPSHOTS LIKE 'SYS_BACKUP_ON_DELETE%' IN ACCOUNT")
    ] == ["D.PUBLIC.S"]


@pytest.mark.parametrize("statement", ["DROP SERVICE S FORCE", "ALTER COMPUTE POOL P STOP ALL"])
def test_snapshot_on_delete_false_opts_out(account, statement: str) -> None:
    account.execute(
        f"CREATE SERVICE S IN COMPUTE POOL P FROM SPECIFICATION $${spec({'snapshotOnDelete': False})}$$"
    )
    account.execute(statement)
    assert rows(account, "SHOW SNAPSHOTS IN ACCOUNT") == []


@pytest.mark.parametrize(
    ("block_config", "message"),
    [
        ({"snapshotOnDelete": "no"}, "snapshotOnDelete must be true or false"),
        ({"snapshotDeleteAfter": "7 days"}, "snapshotDeleteAfter must look like"),
        ("fast", "blockConfig must be a mapping"),
    ],
)
def test_a_malformed_block_config_is_refused_before_anything_starts(
    account, block_config, message: str
) -> None:
    with pytest.raises(ProgrammingError, match=message):
        account.execute(f"CREATE SERVICE S IN COMPUTE POOL P FROM SPECIFICATION $${spec(block_config)}$$")
    assert rows(account, "SHOW SERVICES IN ACCOUNT") == []


def test_dropping_the_database_takes_its_snapshots(account) -> None:
    account.execute(f"CREATE SERVICE S IN COMPUTE POOL P FROM SPECIFICATION $${spec()}$$")
    account.execute("DROP SERVICE S FORCE")
    account.execute("DROP DATABASE D")
    assert rows(account, "SHOW SNAPSHOTS IN ACCOUNT") == []


def test_create_snapshot_is_not_emulated_and_says_so(account) -> None:
    with pytest.raises(ProgrammingError) as refused:
        account.execute('CREATE SNAPSHOT X FROM SERVICE S VOLUME "data" INSTANCE 0')
    assert refused.value.errno == 1003
