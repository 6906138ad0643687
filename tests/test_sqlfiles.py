"""sql/ and its renderer: every file renders, bad values are refused before anything is rendered, and
the rendered stack builds and tears down on the emulator (through the connector and through `snow`)."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import snowflake.connector

from milvus_spcs.naming import StackNames, label
from milvus_spcs.sqlfiles import SQL_DIR, load_sql_dir, redact, render, secrets_of, split_statements
from milvus_spcs.waits import Probe, wait_for
from spcs_emulator.emulator import Emulator
from tests.emulator.fakes import FakeIngress, FakeRuntime
from tests.emulator.images import publish
from tests.emulator.snow_cli import required_snow

RUN = "abc123"
NAMES = StackNames(RUN)
LABEL = label(RUN, "2026-05-01T10:00:00+00:00")
PASSWORD = "Gen3rated-Passw0rd_xyz"
FILES = load_sql_dir()
SETUP = [name for name in FILES if name < "90"]


def stack_variables(names: StackNames = NAMES, comment: str = LABEL) -> dict[str, str]:
    return {**names.variables(), "comment": comment, "password": PASSWORD}


# -- the files -------------------------------------------------------------------------------------


def test_the_files_are_the_stages_in_order() -> None:
    assert list(FILES) == [
        "01_account.sql",
        "02_role_and_user.sql",
        "03_storage.sql",
        "04_grants.sql",
        "05_network.sql",
        "06_compute_jupyter.sql",
        "06_compute_milvus.sql",
        "07_service_jupyter.sql",
        "07_service_milvus.sql",
        "08_endpoint_access.sql",
        "90_teardown.sql",
    ]
    assert Path(__file__).resolve().parents[1] / "sql" == SQL_DIR


@pytest.mark.parametrize("name", list(FILES))
def test_each_file_says_what_it_does_its_role_and_its_variables(name: str) -> None:
    text = FILES[name].text
    header = "\n".join(re.findall(r"^-- ?(.*)$", text.split("\n\n")[0], re.M))
    assert text.startswith("-- ")
    assert re.search(r"^USE ROLE \w+;$", text, re.M)
    listed = set(re.findall(r"\w+", header.split("Variables:")[1]))
    assert FILES[name].variables <= listed, "the header lists every variable the file needs"
    assert "<%" not in "\n".join(re.findall(r"--.*", text)), "snow renders comments too"


@pytest.mark.parametrize("name", list(FILES))
def test_each_file_renders_with_the_stack_variables(name: str) -> None:
    statements = FILES[name].statements(stack_variables())
    assert statements
    for sql in statements:
        assert "<%" not in sql
        assert "%>" not in sql
        assert "--" not in sql
        if sql.startswith("CREATE SECURITY INTEGRATION"):
            # Shared by every run (one per account): labelled as shared, so the janitor leaves it.
            assert "COMMENT = 'milvus-spcs: shared by every run, never dropped'" in sql
        elif sql.startswith("CREATE"):
            assert f"COMMENT = '{LABEL}'" in sql, "every object of the run carries the run label"


def test_teardown_is_idempotent_and_spares_the_shared_ingress_integration() -> None:
    statements = FILES["90_teardown.sql"].statements(stack_variables())
    for sql in statements:
        assert sql.startswith("USE ROLE") or " IF EXISTS " in sql
    assert NAMES.ingress_integration not in "\n".join(statements)
    drops = [s for s in statements if s.startswith("DROP SERVICE")]
    assert drops
    assert all(s.endswith(" FORCE") for s in drops)
    first_pool_drop = next(i for i, s in enumerate(statements) if s.startswith("DROP COMPUTE POOL"))
    assert max(statements.index(s) for s in drops) < first_pool_drop


# -- validation ------------------------------------------------------------------------------------

TEMPLATE = (
    "CREATE ROLE <% role %> COMMENT = '<% comment %>';\n"
    "ALTER USER <% user %> SET PASSWORD = '<% password %>';"
)


def test_render_substitutes_and_splits() -> None:
    assert render(TEMPLATE, stack_variables()) == [
        f"CREATE ROLE {NAMES.role} COMMENT = '{LABEL}'",
        f"ALTER USER {NAMES.user} SET PASSWORD = '{PASSWORD}'",
    ]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        pytest.param({"role": None}, "without a value: role", id="missing"),
        pytest.param({"owner": "SYSADMIN"}, "unknown SQL variable 'owner'", id="unknown"),
        pytest.param({"role": "x; DROP DATABASE y"}, "'role' has an invalid value", id="injected-identifier"),
        pytest.param({"role": "1ROLE"}, "'role'", id="identifier-starts-with-digit"),
        pytest.param({"role": "A" * 256}, "'role'", id="identifier-too-long"),
        pytest.param({"database": 'DB"; DROP'}, "'database'", id="quoted-identifier"),
        pytest.param({"comment": "hello"}, "'comment'", id="not-a-label"),
        pytest.param({"comment": "milvus-spcs run=abc123 created=x';DROP"}, "'comment'", id="quote-in-label"),
        pytest.param({"comment": label("zzz999", "2026-05-01T10:00:00Z")}, "'comment'", id="other-run"),
        pytest.param({"password": "it's-a-quote-1234567"}, "'password'", id="quote-in-password"),
        pytest.param({"password": "short"}, "'password'", id="short-password"),
        pytest.param({"run_id": "ABC123"}, "'run_id'", id="bad-run-id"),
    ],
)
def test_bad_variables_raise_before_rendering(change: dict[str, str | None], message: str) -> None:
    variables = {k: v for k, v in {**stack_variables(), **change}.items() if v is not None}
    with pytest.raises(ValueError, match=re.escape(message)):
        render(TEMPLATE, variables)


def test_a_bad_password_is_not_echoed() -> None:
    bad = "secret'value-123456789"
    with pytest.raises(ValueError, match="password") as info:
        render(TEMPLATE, {**stack_variables(), "password": bad})
    assert bad not in str(info.value)


def test_malformed_placeholders_are_refused() -> None:
    for text in ("SELECT <% role.name %>", "SELECT <%role", "SELECT <% role | upper %>"):
        with pytest.raises(ValueError, match="malformed"):
            render(text, stack_variables())


def test_unused_known_variables_are_allowed() -> None:
    assert render("USE ROLE SYSADMIN;", stack_variables()) == ["USE ROLE SYSADMIN"]


def test_redact_hides_the_password() -> None:
    statements = FILES["02_role_and_user.sql"].statements(stack_variables())
    logged = "\n".join(redact(s, secrets_of(stack_variables())) for s in statements)
    assert PASSWORD not in logged
    assert "PASSWORD = '****'" in logged
    assert redact("no secret here", ["", PASSWORD]) == "no secret here"


def test_split_keeps_semicolons_in_quotes_dollars_and_comments() -> None:
    text = (
        "-- a comment; with a semicolon and an apostrophe's\n"
        "SELECT 'a;b', 'it''s -- not a comment';  -- trailing; comment\n"
        "CREATE SERVICE s IN COMPUTE POOL p FROM SPECIFICATION $$\nspec: {x: 'y;z'}\n$$;\n"
        '/* block; comment */ SELECT "odd;name"\n'
    )
    assert split_statements(text) == [
        "SELECT 'a;b', 'it''s -- not a comment'",
        "CREATE SERVICE s IN COMPUTE POOL p FROM SPECIFICATION $$\nspec: {x: 'y;z'}\n$$",
        'SELECT "odd;name"',
    ]


# -- on the emulator -------------------------------------------------------------------------------

MILVUS_SPEC = """\
spec:
  containers:
  - name: milvus
    image: {image}
    volumeMounts:
    - name: data
      mountPath: /var/lib/milvus
  endpoints:
  - name: grpc
    port: 19530
  volumes:
  - name: data
    source: block
    size: 10Gi
"""
JUPYTER_SPEC = """\
spec:
  containers:
  - name: jupyter
    image: {image}
  endpoints:
  - name: jupyter
    port: 8888
    public: true
"""


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[Emulator]:
    with Emulator(runtime=FakeRuntime(), ingress=FakeIngress(), state_dir=tmp_path / "state") as emu:
        yield emu


def rows(cur, sql: str) -> list[dict]:
    cur.execute(sql)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def run_file(cur, name: str, variables: dict[str, str]) -> None:
    for sql in FILES[name].statements(variables):
        cur.execute(sql)


def publish_images_and_specs(emu: Emulator, cur, tmp_path: Path) -> None:
    """What the harness does between 06 and 07: push the images, PUT the specs."""
    db, schema, repo = NAMES.database, NAMES.schema, NAMES.repository
    url = rows(cur, f"SHOW IMAGE REPOSITORIES IN SCHEMA {db}.{schema}")[0]["repository_url"]
    path = f"/{db}/{schema}/{repo}".lower()
    for image, runtime, spec in (("milvus", "milvus", MILVUS_SPEC), ("jupyter", "jupyter", JUPYTER_SPEC)):
        publish(emu, f"{url}/{image}:test", runtime)
        (tmp_path / f"{image}.yaml").write_text(spec.format(image=f"{path}/{image}:test"))
        cur.execute(
            f"PUT file://{tmp_path / f'{image}.yaml'} @{db}.{schema}.{NAMES.specs_stage} "
            "overwrite=true auto_compress=false"
        )


def wait_running(cur, service: str) -> None:
    def probe() -> Probe[None]:
        status = rows(cur, f"DESCRIBE SERVICE {NAMES.database}.{NAMES.schema}.{service}")[0]["status"]
        return Probe(status == "RUNNING", state=status)

    wait_for(probe, what=f"service {service} to run", timeout=10, interval=0.05)


def test_the_stack_builds_grants_exactly_and_tears_down_on_the_emulator(
    emulator: Emulator, tmp_path: Path
) -> None:
    variables = stack_variables()
    conn = snowflake.connector.connect(**emulator.connection_parameters())
    cur = conn.cursor()
    try:
        for name in SETUP:
            if name == "07_service_jupyter.sql":  # the first service file
                publish_images_and_specs(emulator, cur, tmp_path)
            run_file(cur, name, variables)
        run_file(cur, "01_account.sql", variables)  # shared and IF NOT EXISTS: a second run reuses it
        cur.execute("USE ROLE ACCOUNTADMIN")
        for service in (NAMES.milvus_service, NAMES.jupyter_service):
            wait_running(cur, service)
        grants = {
            (g["privilege"], g["granted_on"], g["name"])
            for g in rows(cur, f"SHOW GRANTS TO ROLE {NAMES.role}")
        }
        db, schema = NAMES.database, f"{NAMES.database}.{NAMES.schema}"
        assert grants == {
            ("USAGE", "WAREHOUSE", NAMES.warehouse),
            ("USAGE", "DATABASE", db),
            ("USAGE", "SCHEMA", schema),
            ("READ", "IMAGE_REPOSITORY", f"{schema}.{NAMES.repository}"),
            ("READ", "STAGE", f"{schema}.{NAMES.specs_stage}"),
            ("READ", "STAGE", f"{schema}.{NAMES.files_stage}"),
            ("WRITE", "STAGE", f"{schema}.{NAMES.files_stage}"),
            ("USAGE", "SERVICE", f"{schema}.{NAMES.jupyter_service}"),
            ("USAGE", "SERVICE_ROLE", f"{schema}.{NAMES.jupyter_service}!ALL_ENDPOINTS_USAGE"),
        }
        labelled = {r["name"] for r in rows(cur, "SHOW COMPUTE POOLS") if r["comment"] == LABEL}
        assert labelled == {NAMES.milvus_pool, NAMES.jupyter_pool}

        user = snowflake.connector.connect(
            **emulator.connection_parameters(user=NAMES.user, password=PASSWORD)
        )
        try:
            assert rows(user.cursor(), "SELECT CURRENT_ROLE() AS r")[0]["R"] == NAMES.role
        finally:
            user.close()

        run_file(cur, "90_teardown.sql", variables)
        run_file(cur, "90_teardown.sql", variables)  # idempotent: nothing left, nothing fails
        cur.execute("USE ROLE ACCOUNTADMIN")
        for show in ("COMPUTE POOLS", "SERVICES IN ACCOUNT", "ROLES", "USERS", "DATABASES", "WAREHOUSES"):
            leftovers = [
                r for r in rows(cur, f"SHOW {show}") if RUN.upper() in r["name"] or r["comment"] == LABEL
            ]
            assert leftovers == [], show
        integrations = {r["name"] for r in rows(cur, "SHOW INTEGRATIONS")}
        assert integrations == {NAMES.ingress_integration}, "the shared ingress integration stays"
    finally:
        conn.close()


def test_a_file_runs_by_hand_with_snow_sql(emulator: Emulator, tmp_path: Path) -> None:
    snow = required_snow()
    home = tmp_path / "snowflake-home"
    home.mkdir()
    (home / "connections.toml").write_text(emulator.connections_toml("emu"))
    (home / "connections.toml").chmod(0o600)  # snow refuses files others can read
    defines = [
        f"{k}={v}" for k, v in stack_variables().items() if k in FILES["02_role_and_user.sql"].variables
    ]
    done = subprocess.run(
        [
            snow,
            "sql",
            "-f",
            str(FILES["02_role_and_user.sql"].path),
            *(a for d in defines for a in ("-D", d)),
            "-c",
            "emu",
            "--silent",  # otherwise snow echoes every statement, the password included
        ],
        env={**os.environ, "SNOWFLAKE_HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert PASSWORD not in done.stdout + done.stderr
    conn = snowflake.connector.connect(**emulator.connection_parameters())
    try:
        roles = {r["name"]: r for r in rows(conn.cursor(), "SHOW ROLES")}
        assert roles[NAMES.role]["comment"] == LABEL  # the label, spaces and all, went through -D intact
    finally:
        conn.close()
    user = snowflake.connector.connect(**emulator.connection_parameters(user=NAMES.user, password=PASSWORD))
    user.close()
