"""Uploads and downloads through both connectors the project meets: 4.x, which the Snowflake CLI in
``.venvs/snow`` pins (it prefixes ``https://`` to any S3 ``endPoint``, so it is answered with GCS
presigned URLs), and the project's own 5.x (answered with an S3 stage on this server); and what a
GET's grant on the storage stand-in may read."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import snowflake.connector
from snowflake.connector.errors import ProgrammingError

from spcs_emulator.emulator import Emulator
from spcs_emulator.paths import fqn_dir
from spcs_emulator.protocol import stage_upload
from spcs_emulator.protocol.app import STAGE_BUCKET
from tests.emulator.fakes import FakeIngress, FakeRuntime
from tests.emulator.snow_cli import required_snow
from tests.emulator.sql import rows

SPEC = "spec:\n  containers:\n  - name: m\n    image: /d/public/r/m:1\n"
PASSWORD = "mallory-pw"
SETUP = (
    "CREATE DATABASE D",
    "CREATE STAGE D.PUBLIC.FILES",
    "CREATE STAGE D.PUBLIC.OTHER",
    "CREATE IMAGE REPOSITORY D.PUBLIC.R",
    "CREATE COMPUTE POOL P MIN_NODES=1 MAX_NODES=1 INSTANCE_FAMILY=CPU_X64_XS",
    "CREATE ROLE APP",
    f"CREATE USER MALLORY PASSWORD = '{PASSWORD}' DEFAULT_ROLE = APP",
    "GRANT ROLE APP TO USER MALLORY",
    "GRANT USAGE ON DATABASE D TO ROLE APP",
    "GRANT USAGE ON SCHEMA D.PUBLIC TO ROLE APP",
    "GRANT READ, WRITE ON STAGE D.PUBLIC.FILES TO ROLE APP",
)


def setup(admin) -> None:
    for sql in SETUP:
        admin.execute(sql)


# -- the Snowflake CLI (connector 4.x) ---------------------------------------------------------------


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Emulator, dict[str, str]]]:
    required_snow()
    with Emulator(runtime=FakeRuntime(), ingress=FakeIngress()) as emu:
        with snowflake.connector.connect(**emu.connection_parameters()) as conn:
            setup(conn.cursor())
        home = tmp_path_factory.mktemp("snowflake-home")
        (home / "connections.toml").write_text(
            emu.connections_toml("emu") + 'database = "D"\nschema = "PUBLIC"\n'
        )
        (home / "connections.toml").chmod(0o600)  # snow refuses files others can read
        yield emu, {**os.environ, "SNOWFLAKE_HOME": str(home)}


def snow(env: dict[str, str], *args: str, cwd: Path | None = None) -> object:
    done = subprocess.run(
        [required_snow(), *args, "-c", "emu", "--format", "JSON"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


def test_snow_stage_copy_up_and_down_returns_the_same_bytes(stack, tmp_path: Path) -> None:
    _, env = stack
    blob = tmp_path / "blob.bin"
    blob.write_bytes(os.urandom(300_000))
    up = snow(env, "stage", "copy", str(blob), "@D.PUBLIC.FILES/up/")
    assert [(r["target"], r["target_size"], r["status"]) for r in up] == [("blob.bin", 300_000, "UPLOADED")]
    down = tmp_path / "down"
    down.mkdir()
    got = snow(env, "stage", "copy", "@D.PUBLIC.FILES/up/blob.bin", str(down))
    assert [(r["file"], r["size"], r["status"]) for r in got] == [("blob.bin", 300_000, "DOWNLOADED")]
    assert (down / "blob.bin").read_bytes() == blob.read_bytes()


def test_snow_stage_copy_of_a_wildcard_up_and_a_stage_folder_down(stack, tmp_path: Path) -> None:
    _, env = stack
    source = tmp_path / "many"
    source.mkdir()
    for name in ("a.csv", "b.csv", "c.txt"):
        (source / name).write_text(f"{name}\n" * 1000)
    up = snow(env, "stage", "copy", f"{source}/*.csv", "@D.PUBLIC.FILES/many/", "--auto-compress")
    assert sorted((r["target"], r["status"]) for r in up) == [
        ("a.csv.gz", "UPLOADED"),
        ("b.csv.gz", "UPLOADED"),
    ]
    down = tmp_path / "down"
    down.mkdir()
    got = snow(env, "stage", "copy", "@D.PUBLIC.FILES/many/", str(down))
    assert sorted(r["file"] for r in got) == ["a.csv.gz", "b.csv.gz"]
    assert gzip.decompress((down / "a.csv.gz").read_bytes()) == (source / "a.csv").read_bytes()


def test_snow_spcs_service_create_with_a_spec_path(stack, tmp_path: Path) -> None:
    emu, env = stack
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC)
    created = snow(
        env, "spcs", "service", "create", "FROM_PATH", "--compute-pool", "P", "--spec-path", str(spec)
    )
    assert created == {"status": "Service FROM_PATH successfully created."}
    with snowflake.connector.connect(**emu.connection_parameters()) as conn:
        assert "/d/public/r/m:1" in rows(conn.cursor(), "DESCRIBE SERVICE D.PUBLIC.FROM_PATH")[0]["spec"]


def test_snow_spcs_service_deploy_uploads_its_spec_and_creates_the_service(stack, tmp_path: Path) -> None:
    """A project definition: snow PUTs the artifacts on the stage, then CREATE SERVICE ... FROM @stage."""
    emu, env = stack
    (tmp_path / "spec.yaml").write_text(SPEC)
    (tmp_path / "snowflake.yml").write_text(
        "definition_version: 2\nentities:\n  web:\n    type: service\n    identifier:\n      name: WEB\n"
        "    stage: D.PUBLIC.SVC_STAGE\n    compute_pool: P\n    spec_file: spec.yaml\n"
        "    artifacts:\n      - spec.yaml\n"
    )
    assert snow(env, "spcs", "service", "deploy", cwd=tmp_path) == {
        "status": "Service WEB successfully created."
    }
    with snowflake.connector.connect(**emu.connection_parameters()) as conn:
        cur = conn.cursor()
        assert [r["name"] for r in rows(cur, "LIST @D.PUBLIC.SVC_STAGE")] == ["svc_stage/spec.yaml"]
        assert "/d/public/r/m:1" in rows(cur, "DESCRIBE SERVICE D.PUBLIC.WEB")[0]["spec"]


# -- the project's connector (5.x) -------------------------------------------------------------------


def test_the_projects_connector_puts_and_gets_the_same_bytes(
    emulator: Emulator, admin, tmp_path: Path
) -> None:
    setup(admin)
    source = tmp_path / "src"
    source.mkdir()
    (source / "blob.bin").write_bytes(os.urandom(300_000))
    (source / "notes.txt").write_text("notes\n" * 100)
    admin.execute(f"PUT 'file://{source}/blob.bin' @D.PUBLIC.FILES/deep/er AUTO_COMPRESS=FALSE")
    admin.execute(f"PUT 'file://{source}/notes.txt' @D.PUBLIC.FILES/deep")
    down = tmp_path / "down"
    down.mkdir()
    got = admin.execute(f"GET @D.PUBLIC.FILES/deep 'file://{down}/'").fetchall()
    assert sorted((r[0], r[2]) for r in got) == [("blob.bin", "DOWNLOADED"), ("notes.txt.gz", "DOWNLOADED")]
    assert (down / "blob.bin").read_bytes() == (source / "blob.bin").read_bytes()
    assert gzip.decompress((down / "notes.txt.gz").read_bytes()) == (source / "notes.txt").read_bytes()
    pattern = admin.execute(f"GET @D.PUBLIC.FILES 'file://{tmp_path}/' PATTERN = '.*[.]gz'").fetchall()
    assert [r[0] for r in pattern] == ["notes.txt.gz"]


# -- what a GET may read -----------------------------------------------------------------------------


@pytest.fixture
def mallory(emulator: Emulator, admin) -> Iterator[snowflake.connector.cursor.SnowflakeCursor]:
    setup(admin)
    params = emulator.connection_parameters(user="mallory", password=PASSWORD)
    conn = snowflake.connector.connect(**{**params, "role": "APP", "database": "D", "schema": "PUBLIC"})
    yield conn.cursor()
    conn.close()


def refused(cur, sql: str) -> ProgrammingError:
    with pytest.raises(ProgrammingError) as info:
        cur.execute(sql)
    return info.value


def test_get_refuses_a_stage_path_that_climbs(mallory, tmp_path: Path) -> None:
    down = tmp_path / "down"
    down.mkdir()
    err = refused(mallory, f"GET @FILES/../../../../.. 'file://{down}/'")
    assert (err.errno, err.sqlstate) == (2043, "22023")
    assert list(down.iterdir()) == []


def test_get_needs_read_on_the_stage(mallory, admin, tmp_path: Path) -> None:
    admin.execute("GRANT WRITE ON STAGE D.PUBLIC.OTHER TO ROLE APP")
    for sql in (f"GET @OTHER 'file://{tmp_path}/'", "LIST @OTHER"):
        err = refused(mallory, sql)
        assert (err.errno, err.sqlstate) == (3001, "42501"), sql
    admin.execute("DROP STAGE D.PUBLIC.OTHER")
    admin.execute("CREATE STAGE D.PUBLIC.OTHER")  # no grant at all: invisible
    err = refused(mallory, f"GET @OTHER 'file://{tmp_path}/'")
    assert (err.errno, err.sqlstate) == (2003, "02000")


LOGIN = "/session/v1/login-request?databaseName=&schemaName=&warehouse=&roleName=APP"


def _post(emulator: Emulator, path: str, body: dict, token: str | None = None) -> requests.Response:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f'Snowflake Token="{token}"'
    url = f"http://127.0.0.1:{emulator.port}{path}"
    return requests.post(url, data=json.dumps(body).encode(), headers=headers, timeout=60)


def _statement_as_mallory(emulator: Emulator, sql: str) -> dict:
    """The answer to one statement, asked for over plain HTTP as an attacker would."""
    data = {"ACCOUNT_NAME": "x", "LOGIN_NAME": "MALLORY", "PASSWORD": PASSWORD}
    token = _post(emulator, LOGIN, {"data": data}).json()["data"]["token"]
    answer = _post(emulator, "/queries/v1/query-request", {"sqlText": sql}, token).json()
    assert answer["success"], answer
    return answer["data"]


def _stage_dir(emulator: Emulator) -> Path:
    return fqn_dir(emulator.state_dir / "stages", ("D", "PUBLIC", "FILES"))


@pytest.fixture
def get_grant(emulator: Emulator, mallory, admin, tmp_path: Path) -> tuple[str, dict]:
    """(grant, answer) of MALLORY's GET of @FILES/mine, with another file beside it and a host secret."""
    stage = _stage_dir(emulator)
    (stage / "mine").mkdir(parents=True)
    (stage / "mine" / "a.txt").write_text("mine\n")
    (stage / "theirs.txt").write_text("not in the GET\n")
    (tmp_path / "host-secret.txt").write_text("host secret\n")
    answer = _statement_as_mallory(emulator, f"GET @D.PUBLIC.FILES/mine 'file://{tmp_path}/'")
    assert answer["command"] == "DOWNLOAD"
    assert answer["src_locations"] == ["mine/a.txt"]
    return answer["stageInfo"]["path"].strip("/"), answer


def _fetch(emulator: Emulator, grant: str, key: str) -> requests.Response:
    return requests.get(f"http://127.0.0.1:{emulator.port}/{STAGE_BUCKET}/{grant}/{key}", timeout=10)


def test_a_get_grant_reads_its_files_as_the_answer_names_them(emulator: Emulator, get_grant) -> None:
    grant, answer = get_grant
    [url] = answer["presignedUrls"]
    assert requests.get(url, timeout=10).content == b"mine\n"
    assert _fetch(emulator, grant, "mine/a.txt").content == b"mine\n"


@pytest.mark.parametrize(
    "key",
    [
        "theirs.txt",  # in the stage, but not among the GET's files
        "mine/../theirs.txt",
        "..%2F..%2F..%2Fhost-secret.txt",
        "mine/%2E%2E/%2E%2E/%2E%2E/%2E%2E/host-secret.txt",
        "%2Fetc%2Fpasswd",
        "0",
    ],
)
def test_a_get_grant_reads_nothing_the_get_did_not_answer(emulator: Emulator, get_grant, key: str) -> None:
    grant, _ = get_grant
    answer = _fetch(emulator, grant, key)
    assert 400 <= answer.status_code < 500, (answer.status_code, answer.text)
    assert b"not in the GET" not in answer.content
    assert b"host secret" not in answer.content
    assert b"root:" not in answer.content
    assert b"Traceback" not in answer.content


def test_a_get_grant_does_not_read_through_a_symlink_planted_after_it(
    emulator: Emulator, get_grant, tmp_path: Path
) -> None:
    grant, _ = get_grant
    listed = _stage_dir(emulator) / "mine" / "a.txt"
    listed.unlink()
    listed.symlink_to(tmp_path / "host-secret.txt")
    answer = _fetch(emulator, grant, "mine/a.txt")
    assert answer.status_code == 404
    assert b"host secret" not in answer.content
    (_stage_dir(emulator) / "mine").rename(_stage_dir(emulator) / "moved")
    (_stage_dir(emulator) / "mine").symlink_to(tmp_path)  # the folder itself, now
    (tmp_path / "a.txt").write_text("host file\n")
    answer = _fetch(emulator, grant, "mine/a.txt")
    assert answer.status_code == 404
    assert b"host file" not in answer.content


def test_a_get_grant_dies_with_the_read_privilege(emulator: Emulator, get_grant, admin) -> None:
    grant, _ = get_grant
    admin.execute("REVOKE READ ON STAGE D.PUBLIC.FILES FROM ROLE APP")
    assert _fetch(emulator, grant, "mine/a.txt").status_code == 403
    admin.execute("GRANT READ ON STAGE D.PUBLIC.FILES TO ROLE APP")
    assert _fetch(emulator, grant, "mine/a.txt").status_code == 403  # gone for good


def test_a_get_grant_writes_nothing_and_a_put_grant_reads_nothing(
    emulator: Emulator, get_grant, tmp_path: Path
) -> None:
    grant, _ = get_grant
    url = f"http://127.0.0.1:{emulator.port}/{STAGE_BUCKET}/{grant}/planted.txt"
    assert requests.put(url, data=b"owned", timeout=10).status_code == 403
    assert not list(_stage_dir(emulator).rglob("planted.txt"))
    payload = tmp_path / "p.txt"
    payload.write_text("x")
    put = _statement_as_mallory(emulator, f"PUT 'file://{payload}' @D.PUBLIC.FILES/mine AUTO_COMPRESS=FALSE")
    put_grant = put["stageInfo"]["path"].strip("/")
    assert _fetch(emulator, put_grant, "mine/a.txt").status_code == 403
    assert _fetch(emulator, put_grant, "a.txt").status_code == 403


def test_a_wildcard_puts_url_names_no_file_and_writes_nothing(
    emulator: Emulator, mallory, tmp_path: Path
) -> None:
    """A GCS client uploads to the URL a PUT answered; a wildcard's names no file, so it answers as an
    expired URL does and the client asks per file (connector 4.x always asks per file anyway)."""
    put = _statement_as_mallory(
        emulator, f"PUT 'file://{tmp_path}/*.txt' @D.PUBLIC.FILES AUTO_COMPRESS=FALSE"
    )
    url = put["stageInfo"]["presignedUrl"]
    answer = requests.put(url, data=b"owned", timeout=10)
    assert answer.status_code == 400
    assert b"ExpiredToken" in answer.content
    assert not [p for p in _stage_dir(emulator).rglob("*") if p.is_file()]


@pytest.mark.parametrize(
    ("name", "head", "stored"),
    [
        ("notes.txt", b"\x1f\x8b\x08\x00", "notes.txt.gz"),  # the client gzipped it
        ("notes.txt", b"plain", "notes.txt"),  # it did not (a format it detected by content)
        ("data.csv.gz", b"\x1f\x8b\x08\x00", "data.csv.gz"),  # already named as compressed
        ("data.parquet", b"PAR1", "data.parquet"),
    ],
)
def test_the_name_a_client_stores_an_auto_compressed_file_under(name: str, head: bytes, stored: str) -> None:
    assert stage_upload.stored_name(name, head) == stored
