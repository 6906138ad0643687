"""What users fear most on SPCS: an upgrade of Milvus on the same block volume. Destructive (it runs
last): a second Milvus service of the run, UPGRADE_MILVUS, in the run's Milvus pool, labelled like
every object of the run.

1. it starts on the older image, and the notebook (in the Jupyter service's kernel, through the
   ingress) writes the guide's documents and their index there, by its DNS name;
2. `ALTER SERVICE ... FROM SPECIFICATION` moves it to the newer image, same volume; the suite waits
   until it is RUNNING on the new spec (`spec_digest` changed, `is_upgrading` false);
3. the count, the guide's answer and the index are all still there.

Which images: on a real account, the run's pinned image, then `--upgrade-to-tag` (the newest 2.6.x,
pushed beforehand; without it the suite is skipped there). On the emulator: a Milvus image on a
stand-in of the `milvus` package's previous release (2.3.4), then the run's image (2.3.5) — a real
version change where the emulator runs the images (its docker runtime); under the process runtime,
published by name, both tags run the same local binary, and the suite checks the ALTER path and the
volume only.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import pytest

from milvus_spcs.config import HarnessConfig
from milvus_spcs.images.build import build_milvus_release
from milvus_spcs.images.commands import BuildLog
from milvus_spcs.images.push import registry_session
from milvus_spcs.jupyter_client import JupyterOverIngress, Kernel, KernelError
from milvus_spcs.stack.spcs_plan import Budgets, StackState
from milvus_spcs.stack.sql_runner import SqlRunner
from milvus_spcs.target import Target
from milvus_spcs.waits import Probe, wait_for

pytestmark = [pytest.mark.spcs, pytest.mark.destructive, pytest.mark.slow]

UPGRADE_FROM_RELEASE = "2.3.4"  # the emulator's older Milvus: the `milvus` package's release before 2.3.5
SERVICE = "UPGRADE_MILVUS"
DNS_NAME = "upgrade-milvus"  # SPCS: the service name in lower case, underscores as hyphens
TURING = "Alan Turing was the first person to conduct substantial research in AI."


@pytest.fixture(scope="module")
def upgrade_tags(
    spcs_target: Target, spcs_stack: StackState, harness_config: HarnessConfig
) -> tuple[str, str, bool]:
    """(older tag, newer tag, whether the Milvus release really changes)."""
    tag = spcs_stack.image_tag
    names = spcs_stack.names
    if not spcs_target.supplies_images:  # the test cannot make the other image: it is pushed beforehand
        if harness_config.upgrade_to_tag is None:
            pytest.skip("a real account's upgrade needs --upgrade-to-tag (the newer image, pushed)")
        return tag, harness_config.upgrade_to_tag, True
    older = f"{tag}-from"
    repository = f"{names.database}.{names.schema}.{names.repository}"
    if spcs_target.runs_pushed_images or harness_config.image_source == "push":
        log = BuildLog(harness_config.run_artifacts / "upgrade-build.log")
        built = build_milvus_release(UPGRADE_FROM_RELEASE, "upgrade-from", log)
        with registry_session(spcs_target, repository) as registry:
            registry.push(built.reference, "milvus", older)
        return older, tag, spcs_target.runs_pushed_images
    url = f"{_repository_url(spcs_target, names.database, names.schema, names.repository)}"
    spcs_target.publish_image(f"{url}/milvus:{older}", "milvus", None)
    return older, tag, False


def _repository_url(target: Target, database: str, schema: str, repository: str) -> str:
    conn = target.connect()
    try:
        cur = conn.cursor()
        cur.execute(f"SHOW IMAGE REPOSITORIES LIKE '{repository}' IN SCHEMA {database}.{schema}")
        names = [d[0] for d in cur.description or ()]
        return str(dict(zip(names, cur.fetchone() or (), strict=True))["repository_url"])
    finally:
        conn.close()


def _service(sql: SqlRunner, fqn: str) -> dict[str, str]:
    """SHOW SERVICES of the run's schema only: other runs on the account have an UPGRADE_MILVUS too."""
    database, schema, name = fqn.split(".")
    [row] = sql.query("USE ROLE SYSADMIN", f"SHOW SERVICES LIKE '{name}' IN SCHEMA {database}.{schema}")
    return row


@pytest.fixture(scope="module")
def upgrade_service(
    spcs_sql: SqlRunner, spcs_stack: StackState, spcs_budgets: Budgets, upgrade_tags: tuple[str, str, bool]
) -> Iterator[str]:
    names = spcs_stack.names
    fqn = f"{names.database}.{names.schema}.{SERVICE}"
    older, _, _ = upgrade_tags
    spec = _spec_for(spcs_stack, older)
    try:
        spcs_sql.run(
            [
                "USE ROLE SYSADMIN",
                f"CREATE SERVICE {fqn} IN COMPUTE POOL {names.milvus_pool} FROM SPECIFICATION $${spec}$$ "
                f"COMMENT = '{spcs_stack.comment}'",
            ]
        )
        _wait(
            spcs_sql,
            fqn,
            spcs_budgets,
            what="on the older image",
            done=lambda s: s["status"] == "RUNNING",
        )
        yield fqn
    finally:
        # snapshotOnDelete is false in the spec: nothing is kept, nothing is billed.
        spcs_sql.run(["USE ROLE SYSADMIN", f"DROP SERVICE IF EXISTS {fqn} FORCE"])


def _spec_for(state: StackState, tag: str) -> str:
    spec = state.spec_texts["milvus.yaml"]
    pinned = f"/milvus:{state.image_tag}"
    assert pinned in spec, "the rendered Milvus spec names the run's image"
    return spec.replace(pinned, f"/milvus:{tag}")


def _wait(
    sql: SqlRunner, fqn: str, budgets: Budgets, *, what: str, done: Callable[[dict[str, str]], bool]
) -> dict[str, str]:
    def probe() -> Probe[dict[str, str]]:
        row = _service(sql, fqn)
        state = (
            f"status={row['status']} is_upgrading={row['is_upgrading']} spec_digest={row['spec_digest'][:12]}"
        )
        return Probe(done(row), row, state=state)

    row = wait_for(probe, what=f"{fqn} {what}", timeout=budgets.service, interval=budgets.interval)
    assert row is not None
    return row


@pytest.fixture(scope="module")
def kernel(ingress_url: str, run_user_token: str) -> Iterator[Kernel]:
    with JupyterOverIngress(ingress_url, run_user_token).kernel() as kernel:
        kernel.run(f"import os\nos.environ['MILVUS_URI'] = 'http://{DNS_NAME}:19530'\n")
        yield kernel


STATE_CODE = """
import json, os
from pymilvus import MilvusClient
from milvus_spcs.search import default_embedder
from milvus_spcs.search.collection import count, search
client = MilvusClient(os.environ['MILVUS_URI'], timeout=120)
client.load_collection({collection!r})
hits = search(client, {collection!r}, 'Who started AI research?', default_embedder(), limit=1)
described = [client.describe_index({collection!r}, i) for i in client.list_indexes({collection!r})]
indexes = sorted([d.get('field_name'), d.get('index_type'), d.get('metric_type')] for d in described)
print(json.dumps({{'version': client.get_server_version(), 'count': count(client, {collection!r}),
                  'top': hits[0].text, 'indexes': indexes}}))
"""


def _state(kernel: Kernel, collection: str) -> dict[str, object]:
    out = kernel.run(STATE_CODE.format(collection=collection))[0]
    return dict(json.loads(out.strip().splitlines()[-1]))


def test_milvus_keeps_documents_answer_and_index_across_an_upgrade_on_its_volume(
    spcs_sql: SqlRunner,
    spcs_stack: StackState,
    spcs_budgets: Budgets,
    upgrade_tags: tuple[str, str, bool],
    upgrade_service: str,
    kernel: Kernel,
) -> None:
    _, newer, version_changes = upgrade_tags
    collection = f"upgrade_{spcs_stack.names.run_id}"
    written = kernel.run_notebook("TestMilvus.ipynb", collection=collection)
    assert (written["count"], written["hits"][0]["text"]) == (3, TURING)
    before = _state(kernel, collection)
    assert (before["count"], before["top"]) == (3, TURING)
    assert before["indexes"], "the notebook built an index"

    digest = _service(spcs_sql, upgrade_service)["spec_digest"]
    newer_spec = _spec_for(spcs_stack, newer)
    spcs_sql.run(
        ["USE ROLE SYSADMIN", f"ALTER SERVICE {upgrade_service} FROM SPECIFICATION $${newer_spec}$$"]
    )
    upgraded = _wait(
        spcs_sql,
        upgrade_service,
        spcs_budgets,
        what="running the new spec",
        done=lambda s: (
            s["status"] == "RUNNING" and s["is_upgrading"] == "false" and s["spec_digest"] != digest
        ),
    )
    assert upgraded["spec_digest"] != digest

    after = wait_for(
        lambda: _answering(kernel, collection),
        what=f"{DNS_NAME} answering after the upgrade",
        timeout=spcs_budgets.service,
        interval=spcs_budgets.interval,
    )
    assert after is not None
    assert (after["count"], after["top"], after["indexes"]) == (3, TURING, before["indexes"])
    if version_changes:
        assert after["version"] != before["version"], f"still {before['version']}: the image did not change"


def _answering(kernel: Kernel, collection: str) -> Probe[dict[str, object]]:
    try:
        return Probe(True, _state(kernel, collection))
    except KernelError as exc:  # the new container may take a moment to serve after RUNNING
        return Probe(False, state=str(exc)[-300:])
