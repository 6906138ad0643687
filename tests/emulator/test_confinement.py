"""The emulator does not hand the host to its users (issue 7 §1, §2 secrets, §7 emulator inputs).

Each test is the attack, through the real connector (or raw HTTP where the attacker would use it):
stage paths and spec files stay inside their stage (LIST, REMOVE, PUT and uploads never follow a symlink),
spec paths stay inside the container, a service mounts only secrets its owner role may read, and the
HTTP endpoints answer hostile bytes with a 4xx.
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import http.client
import json
import logging
import time
import zlib
from pathlib import Path

import pytest
import requests
import snowflake.connector
from snowflake.connector.errors import ProgrammingError

from spcs_emulator import ControlError
from spcs_emulator.emulator import ADMIN_USER, Emulator
from spcs_emulator.paths import fqn_dir
from spcs_emulator.protocol.app import STAGE_BUCKET
from spcs_emulator.spcs.lifecycle import InstanceState
from spcs_emulator.spcs.spec import parse_spec
from tests.emulator.images import control_client, publish
from tests.emulator.sql import rows
from tests.emulator.stage_user import grant_as_mallory

USER_PASSWORD = "mallory-pw"
OUTSIDE_SPEC = (
    "spec:\n  containers:\n  - name: m\n    image: /d/public/r/m:1\n"
    "    env:\n      STOLEN: host-file-contents\n"
)


@pytest.fixture
def admin(admin):
    """ACCOUNTADMIN, with database D, stage FILES, repository R, pool P, and role APP for user MALLORY.

    APP holds what the harness's run role holds: READ and WRITE on the one stage, and what CREATE
    SERVICE needs (CREATE SERVICE on the schema, USAGE on the pool, READ on the repository)."""
    for sql in (
        "CREATE DATABASE D",
        "CREATE STAGE D.PUBLIC.FILES",
        "CREATE IMAGE REPOSITORY D.PUBLIC.R",
        "CREATE COMPUTE POOL P MIN_NODES=1 MAX_NODES=1 INSTANCE_FAMILY=CPU_X64_XS",
        "CREATE ROLE APP",
        f"CREATE USER MALLORY PASSWORD = '{USER_PASSWORD}' DEFAULT_ROLE = APP",
        "GRANT ROLE APP TO USER MALLORY",
        "GRANT USAGE ON DATABASE D TO ROLE APP",
        "GRANT USAGE ON SCHEMA D.PUBLIC TO ROLE APP",
        "GRANT READ, WRITE ON STAGE D.PUBLIC.FILES TO ROLE APP",
        "GRANT CREATE SERVICE ON SCHEMA D.PUBLIC TO ROLE APP",
        "GRANT USAGE ON COMPUTE POOL P TO ROLE APP",
        "GRANT READ ON IMAGE REPOSITORY D.PUBLIC.R TO ROLE APP",
    ):
        admin.execute(sql)
    return admin


@pytest.fixture
def mallory(emulator: Emulator, admin):
    params = emulator.connection_parameters(user="mallory", password=USER_PASSWORD)
    conn = snowflake.connector.connect(**{**params, "role": "APP", "database": "D", "schema": "PUBLIC"})
    yield conn.cursor()
    conn.close()


def create_sql(spec: str) -> str:
    return f"CREATE SERVICE S IN COMPUTE POOL P FROM SPECIFICATION $${spec}$$"


def refused(cur, sql: str) -> ProgrammingError:
    with pytest.raises(ProgrammingError) as info:
        cur.execute(sql)
    return info.value


def files_named(root: Path, name: str) -> list[Path]:
    return [p for p in root.rglob(name) if p.is_file()]


LOGIN = "/session/v1/login-request?databaseName=&schemaName=&warehouse=&roleName="


def _post(emulator: Emulator, path: str, body: bytes, **headers: str) -> requests.Response:
    return requests.post(
        f"http://127.0.0.1:{emulator.port}{path}",
        data=body,
        headers={"Content-Type": "application/json", **headers},
        timeout=60,
    )


# -- 1. stage paths stay inside their stage ------------------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        "@D.PUBLIC.FILES/../../../../../escaped",
        "@D.PUBLIC.FILES/sub/../../../../../../escaped",
        "@FILES/..",
        "@FILES/./../FILES2",
    ],
)
def test_put_cannot_climb_out_of_the_stage(mallory, tmp_path: Path, target: str) -> None:
    payload = tmp_path / "payload.txt"
    payload.write_text("written by a user with READ/WRITE on one stage\n")
    err = refused(mallory, f"PUT 'file://{payload}' {target} AUTO_COMPRESS=FALSE")
    assert (err.errno, err.sqlstate) == (2043, "22023")
    assert "'..'" in err.msg
    assert files_named(tmp_path, "payload.txt") == [payload]  # nothing written anywhere


def test_put_into_a_sub_path_still_works(mallory, tmp_path: Path) -> None:
    payload = tmp_path / "payload.txt"
    payload.write_text("fine\n")
    mallory.execute(f"PUT 'file://{payload}' @FILES/a//b/./c/ AUTO_COMPRESS=FALSE")
    assert [r["name"] for r in rows(mallory, "LIST @FILES")] == ["files/a/b/c/payload.txt"]
    assert [r["name"] for r in rows(mallory, "LIST @FILES/a/b")] == ["files/a/b/c/payload.txt"]


@pytest.mark.parametrize("statement", ["LIST @FILES/../..", "REMOVE @FILES/../../..", "RM @FILES/x/../.."])
def test_list_and_remove_refuse_dot_dot(mallory, statement: str) -> None:
    err = refused(mallory, statement)
    assert (err.errno, err.sqlstate) == (2043, "22023")


@pytest.mark.parametrize("name", ['".."', '"../../../../x"', '"a/b"', '"."'])
def test_a_quoted_stage_name_is_one_directory_of_its_own(emulator, admin, tmp_path: Path, name: str) -> None:
    """CREATE/DROP STAGE clear the stage's directory: a name like ".." must not clear its parent, and
    files PUT into such a stage stay under the state directory's stages."""
    payload = tmp_path / "keep.txt"
    payload.write_text("keep me\n")
    admin.execute(f"PUT 'file://{payload}' @D.PUBLIC.FILES AUTO_COMPRESS=FALSE")
    admin.execute(f"CREATE STAGE D.PUBLIC.{name}")
    admin.execute(f"PUT 'file://{payload}' @D.PUBLIC.{name} AUTO_COMPRESS=FALSE")
    stages = (emulator.state_dir / "stages").resolve()
    copies = [p for p in files_named(tmp_path, "keep.txt") if p != payload]
    assert len(copies) == 2
    assert all(p.resolve().is_relative_to(stages) for p in copies)
    assert [r["name"] for r in rows(admin, "LIST @D.PUBLIC.FILES")] == ["files/keep.txt"]
    admin.execute(f"DROP STAGE D.PUBLIC.{name}")
    assert [r["name"] for r in rows(admin, "LIST @D.PUBLIC.FILES")] == ["files/keep.txt"]


def _http_login(emulator: Emulator, user: str, password: str) -> str:
    data = {"ACCOUNT_NAME": "x", "LOGIN_NAME": user, "PASSWORD": password}
    answer = _post(emulator, LOGIN + "APP", json.dumps({"data": data}).encode())
    return answer.json()["data"]["token"]


def _grant_for_upload(emulator: Emulator, tmp_path: Path) -> str:
    """The S3 grant a PUT hands out, asked for over plain HTTP as an attacker would."""
    token = _http_login(emulator, "MALLORY", USER_PASSWORD)
    payload = tmp_path / "grant.txt"
    payload.write_text("x")
    answer = _post(
        emulator,
        "/queries/v1/query-request",
        json.dumps({"sqlText": f"PUT 'file://{payload}' @D.PUBLIC.FILES AUTO_COMPRESS=FALSE"}).encode(),
        Authorization=f'Snowflake Token="{token}"',
    )
    return answer.json()["data"]["stageInfo"]["path"].strip("/")


@pytest.mark.parametrize(
    "key",
    [
        "..%2F..%2F..%2Fescaped.txt",
        "%2E%2E%2F%2E%2E%2Fescaped.txt",
        "..",
        "%2E%2E",
        "a%00b",
        "..%5C..%5Cescaped.txt",
    ],
)
def test_the_s3_stand_in_refuses_keys_that_escape(emulator, mallory, tmp_path: Path, key: str) -> None:
    grant = _grant_for_upload(emulator, tmp_path)
    conn = http.client.HTTPConnection("127.0.0.1", emulator.port, timeout=10)
    try:
        conn.request("PUT", f"/{STAGE_BUCKET}/{grant}/{key}", body=b"owned", headers={"Content-Length": "5"})
        answer = conn.getresponse()
        body = answer.read()
    finally:
        conn.close()
    assert 400 <= answer.status < 500, (answer.status, body)
    assert b"Traceback" not in body
    assert not [p for p in tmp_path.rglob("*") if p.is_file() and p.read_bytes() == b"owned"]


def test_the_s3_stand_in_writes_a_plain_key_into_the_granted_directory(emulator, mallory, tmp_path) -> None:
    grant = _grant_for_upload(emulator, tmp_path)
    url = f"http://127.0.0.1:{emulator.port}/{STAGE_BUCKET}/{grant}/ok.txt"
    answer = requests.put(url, data=b"ok", timeout=10)
    assert answer.status_code == 200
    assert [r["name"] for r in rows(mallory, "LIST @FILES")] == ["files/ok.txt"]


# -- 2. spec files come from the stage -----------------------------------------------------------------------


@pytest.fixture
def host_spec(tmp_path: Path) -> Path:
    """A host file outside every stage that happens to parse as a spec (the attack reads any file)."""
    path = tmp_path / "host-secret.yaml"
    path.write_text(OUTSIDE_SPEC)
    return path


def _spec_file_attacks(host_spec: Path) -> list[str]:
    return [str(host_spec), "../" * 6 + host_spec.name, f"sub/../../../../../../{host_spec.name}"]


def test_create_service_reads_no_spec_file_outside_the_stage(mallory, host_spec: Path) -> None:
    for spec_file in _spec_file_attacks(host_spec):
        err = refused(
            mallory,
            f"CREATE SERVICE S IN COMPUTE POOL P FROM @FILES SPECIFICATION_FILE = '{spec_file}'",
        )
        assert (err.errno, err.sqlstate) == (2043, "22023"), spec_file
        assert "host-file-contents" not in err.msg
    assert rows(mallory, "SHOW SERVICES") == []


def test_create_service_refuses_a_stage_path_that_climbs(mallory, host_spec: Path) -> None:
    err = refused(
        mallory,
        "CREATE SERVICE S IN COMPUTE POOL P "
        f"FROM @FILES/../../../../../.. SPECIFICATION_FILE = '{host_spec.name}'",
    )
    assert (err.errno, err.sqlstate) == (2043, "22023")


def test_alter_service_reads_no_spec_file_outside_the_stage(mallory, host_spec: Path, tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text("spec:\n  containers:\n  - name: m\n    image: /d/public/r/m:1\n")
    mallory.execute(f"PUT 'file://{good}' @FILES/specs AUTO_COMPRESS=FALSE")
    mallory.execute("CREATE SERVICE S IN COMPUTE POOL P FROM @FILES/specs SPECIFICATION_FILE = 'good.yaml'")
    for spec_file in _spec_file_attacks(host_spec):
        err = refused(mallory, f"ALTER SERVICE S FROM @FILES SPECIFICATION_FILE = '{spec_file}'")
        assert (err.errno, err.sqlstate) == (2043, "22023"), spec_file
    assert "host-file-contents" not in rows(mallory, "DESCRIBE SERVICE S")[0]["spec"]


# -- 3. spec paths stay inside the container -----------------------------------------------------------------


def _spec_with_secret(directory: str, secret: str = "D.PUBLIC.CREDS") -> str:
    return (
        "spec:\n  containers:\n  - name: m\n    image: /d/public/r/m:1\n    secrets:\n"
        f"    - snowflakeSecret: {{objectName: {secret}}}\n      directoryPath: '{directory}'\n"
    )


@pytest.mark.parametrize(
    "directory", ["../../../../../../tmp/owned", "relative/dir", "/a/../../../../b", "/..", "/a/..", ""]
)
def test_secret_directory_path_must_be_absolute_without_dot_dot(admin, directory: str) -> None:
    admin.execute("CREATE SECRET D.PUBLIC.CREDS TYPE = PASSWORD USERNAME = 'u' PASSWORD = 'p'")
    err = refused(
        admin,
        f"CREATE SERVICE D.PUBLIC.S IN COMPUTE POOL P FROM SPECIFICATION $${_spec_with_secret(directory)}$$",
    )
    assert (err.errno, err.sqlstate) == (395018, "22023")
    assert "directoryPath" in err.msg


@pytest.mark.parametrize("mount_path", ["../../x", "data", "/data/../../x"])
def test_volume_mount_path_must_be_absolute_without_dot_dot(admin, mount_path: str) -> None:
    spec = (
        "spec:\n  containers:\n  - name: m\n    image: /d/public/r/m:1\n    volumeMounts:\n"
        f"    - name: v\n      mountPath: '{mount_path}'\n  volumes:\n  - name: v\n    source: local\n"
    )
    err = refused(admin, f"CREATE SERVICE D.PUBLIC.S IN COMPUTE POOL P FROM SPECIFICATION $${spec}$$")
    assert (err.errno, err.sqlstate) == (395018, "22023")
    assert "mountPath" in err.msg


def test_spec_paths_are_normalised() -> None:
    spec = parse_spec(
        "spec:\n  containers:\n  - name: m\n    image: /d/public/r/m:1\n    volumeMounts:\n"
        "    - {name: v, mountPath: /var//lib/./milvus/}\n    secrets:\n"
        "    - snowflakeSecret: {objectName: s}\n      directoryPath: /secrets//db/./\n"
        "  volumes:\n  - {name: v, source: local}\n"
    )
    (container,) = spec.containers
    assert container.mounts == {"v": "/var/lib/milvus"}
    assert container.secrets[0].directory == "/secrets/db"


# -- 4. a service mounts only secrets its owner role may read ------------------------------------------------


def _create_with_secret(cur, secret: str = "CREDS") -> None:
    cur.execute(create_sql(_spec_with_secret("/creds", secret)))


def test_service_owner_needs_read_on_each_secret(admin, mallory) -> None:
    admin.execute("CREATE SECRET D.PUBLIC.CREDS TYPE = PASSWORD USERNAME = 'admin' PASSWORD = 'hunter2'")
    err = refused(mallory, create_sql(_spec_with_secret("/c")))
    assert (err.errno, err.sqlstate) == (2003, "02000")  # not visible to APP: not revealed either
    assert "Secret 'D.PUBLIC.CREDS' does not exist or not authorized." in err.msg

    admin.execute("GRANT USAGE ON SECRET D.PUBLIC.CREDS TO ROLE APP")  # USAGE is for UDFs, not for SPCS
    err = refused(mallory, create_sql(_spec_with_secret("/c")))
    assert (err.errno, err.sqlstate) == (3001, "42501")
    assert rows(mallory, "SHOW SERVICES") == []

    admin.execute("GRANT READ ON SECRET D.PUBLIC.CREDS TO ROLE APP")
    _create_with_secret(mallory)
    assert [r["name"] for r in rows(mallory, "SHOW SERVICES")] == ["S"]


def test_alter_service_from_spec_checks_the_secret_too(admin, mallory) -> None:
    admin.execute("CREATE SECRET D.PUBLIC.CREDS TYPE = PASSWORD USERNAME = 'admin' PASSWORD = 'hunter2'")
    mallory.execute(create_sql("spec: {containers: [{name: m, image: /d/public/r/m:1}]}"))
    err = refused(mallory, f"ALTER SERVICE S FROM SPECIFICATION $${_spec_with_secret('/c')}$$")
    assert (err.errno, err.sqlstate) == (2003, "02000")
    assert "CREDS" not in rows(mallory, "DESCRIBE SERVICE S")[0]["spec"]


def test_a_missing_secret_is_refused_at_create(mallory) -> None:
    err = refused(mallory, create_sql(_spec_with_secret("/c", "NOPE")))
    assert (err.errno, err.sqlstate) == (2003, "02000")
    assert "Secret 'D.PUBLIC.NOPE' does not exist or not authorized." in err.msg


def _spec_with_stage_volume(stage: str) -> str:
    return (
        "spec: {containers: [{name: m, image: /d/public/r/m:1, volumeMounts: [{name: v, mountPath: /v}]}], "
        f"volumes: [{{name: v, source: stage, stageConfig: {{name: '{stage}'}}}}]}}"
    )


def test_a_stage_volume_needs_read_on_another_databases_stage(admin, mallory) -> None:
    """The red team's item 19: a ``source: stage`` volume naming a stage of a database the service's
    owner cannot read was accepted."""
    admin.execute("CREATE DATABASE OTHER")
    admin.execute("CREATE STAGE OTHER.PUBLIC.PRIVATE")
    err = refused(mallory, create_sql(_spec_with_stage_volume("@OTHER.PUBLIC.PRIVATE/data")))
    assert (err.errno, err.sqlstate) == (2003, "02000")
    assert "Stage 'OTHER.PUBLIC.PRIVATE' does not exist or not authorized." in err.msg

    for grant in (
        "USAGE ON DATABASE OTHER",
        "USAGE ON SCHEMA OTHER.PUBLIC",
        "WRITE ON STAGE OTHER.PUBLIC.PRIVATE",
    ):
        admin.execute(f"GRANT {grant} TO ROLE APP")
    err = refused(mallory, create_sql(_spec_with_stage_volume("@OTHER.PUBLIC.PRIVATE/data")))
    assert (err.errno, err.sqlstate) == (3001, "42501")
    err = refused(mallory, create_sql(_spec_with_stage_volume("@NOPE")))
    assert "Stage 'D.PUBLIC.NOPE' does not exist or not authorized." in err.msg
    assert rows(mallory, "SHOW SERVICES") == []

    admin.execute("GRANT READ ON STAGE OTHER.PUBLIC.PRIVATE TO ROLE APP")
    mallory.execute(create_sql(_spec_with_stage_volume("@OTHER.PUBLIC.PRIVATE/data")))
    assert [r["name"] for r in rows(mallory, "SHOW SERVICES")] == ["S"]


def test_revoked_read_stops_the_secret_at_the_next_start(emulator, admin, mallory) -> None:
    admin.execute("CREATE SECRET D.PUBLIC.CREDS TYPE = PASSWORD USERNAME = 'admin' PASSWORD = 'hunter2'")
    admin.execute("GRANT READ ON SECRET D.PUBLIC.CREDS TO ROLE APP")
    repo = rows(admin, "SHOW IMAGE REPOSITORIES IN SCHEMA D.PUBLIC")[0]["repository_url"]
    publish(emulator, f"{repo}/m:1", "jupyter")
    _create_with_secret(mallory)
    admin.execute("REVOKE READ ON SECRET D.PUBLIC.CREDS FROM ROLE APP")
    launch = emulator.control._launch_request  # the request the runtime would get
    service = emulator.account.state.catalog.get("SERVICE", ("D", "PUBLIC", "S"))
    state = emulator.control.services[("D", "PUBLIC", "S")]
    with pytest.raises(Exception, match="does not exist or not authorized"):
        launch(service, state, state.spec.containers[0], InstanceState(0, ip=state.ip))


# -- 5. hostile bytes on the HTTP endpoints ------------------------------------------------------------------


@pytest.mark.parametrize("value", ["pässwörd".encode(), b"\xff\xfe", "密码".encode()])
def test_control_api_answers_a_non_ascii_password_with_401(emulator, caplog, value: bytes) -> None:
    # Raw HTTP on purpose: the header's bytes are what is hostile, and ControlClient sends only str.
    caplog.set_level(logging.DEBUG)
    conn = http.client.HTTPConnection("127.0.0.1", emulator.port, timeout=10)
    try:
        conn.putrequest("POST", "/_emulator/reset")
        conn.putheader("X-Emulator-Admin-Password", value)
        conn.putheader("Content-Length", "2")
        conn.endheaders(b"{}")
        answer = conn.getresponse()
        body = answer.read()
    finally:
        conn.close()
    assert answer.status == 401, body
    assert b"Traceback" not in body
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


def test_control_api_answers_a_bad_json_body_with_400(emulator) -> None:
    # Raw HTTP on purpose: a body that is not JSON, which ControlClient never sends.
    answer = requests.post(
        f"http://127.0.0.1:{emulator.port}/_emulator/faults/statement",
        data=b"{not json",
        headers={"X-Emulator-Admin-Password": emulator.admin_password, "Content-Type": "application/json"},
        timeout=10,
    )
    assert answer.status_code == 400


@functools.cache  # 256 MiB deflated once per worker, not once per case
def gzip_bomb(inflated: int) -> bytes:
    """``inflated`` zero bytes, gzipped in chunks (the bomb never exists inflated on this side)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    chunk = bytes(1024 * 1024)
    out = [packer.compress(chunk) for _ in range(inflated // len(chunk))]
    return b"".join([*out, packer.flush()])


@pytest.mark.parametrize("encoding_header", [False, True])
def test_login_refuses_a_gzip_bomb_before_authentication(emulator, encoding_header: bool) -> None:
    bomb = gzip_bomb(256 * 1024 * 1024)
    assert len(bomb) < 1024 * 1024
    headers = {"Content-Encoding": "gzip"} if encoding_header else {}
    answer = _post(emulator, LOGIN, bomb, **headers)
    assert answer.status_code == 413, answer.text[:200]
    assert "Traceback" not in answer.text


def test_login_refuses_an_oversized_body(emulator) -> None:
    data = {"ACCOUNT_NAME": "x", "LOGIN_NAME": "x", "PASSWORD": "x", "PADDING": "y" * (8 * 1024 * 1024)}
    answer = _post(emulator, LOGIN, gzip.compress(json.dumps({"data": data}).encode()))
    assert answer.status_code == 413, answer.text[:200]


def test_a_normal_gzipped_login_still_works(emulator) -> None:
    data = {"ACCOUNT_NAME": "x", "LOGIN_NAME": ADMIN_USER, "PASSWORD": emulator.admin_password}
    answer = _post(emulator, LOGIN, gzip.compress(json.dumps({"data": data}).encode()))
    assert answer.status_code == 200
    assert answer.json()["success"] is True


def test_query_refuses_a_gzip_bomb(emulator, admin) -> None:
    token = _http_login(emulator, "MALLORY", USER_PASSWORD)
    answer = _post(
        emulator,
        "/queries/v1/query-request",
        gzip_bomb(512 * 1024 * 1024),
        Authorization=f'Snowflake Token="{token}"',
    )
    assert answer.status_code == 413, answer.text[:200]


def test_an_image_named_dot_dot_stays_in_its_repository(emulator, admin, tmp_path: Path) -> None:
    """Publishing copies the image's files under the state directory; ``..`` as name and tag must not
    clear another image's files (the copy starts with an rmtree)."""
    files = tmp_path / "image-files"
    files.mkdir()
    (files / "app.py").write_text("print('hi')\n")
    repo = rows(admin, "SHOW IMAGE REPOSITORIES IN SCHEMA D.PUBLIC")[0]["repository_url"]
    control = control_client(emulator)
    control.publish_image(f"{repo}/m:1", "jupyter", files)
    kept = files_named(emulator.state_dir / "images", "app.py")
    assert len(kept) == 1
    with contextlib.suppress(ControlError):  # refused or not: the other image's files must stay
        control.publish_image(f"{repo}/..:..", "jupyter", files)
    assert kept[0].is_file()


def _alias_bomb(levels: int) -> str:
    """The red team's spec (issue 16, item 9): each level names the previous one nine times."""
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, levels + 1):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    return (
        "\n".join(lines)
        + f"\nspec:\n  containers:\n  - name: m\n    image: /d/public/r/m:1\n    env:\n      X: *a{levels}\n"
    )


@pytest.mark.parametrize("text", [_alias_bomb(8), "spec: &s\n  containers: [*s]\n", "[" * 5000 + "]" * 5000])
def test_a_spec_that_would_expand_or_recurse_is_refused_at_once(admin, text: str) -> None:
    started = time.monotonic()
    err = refused(admin, f"CREATE SERVICE D.PUBLIC.S IN COMPUTE POOL P FROM SPECIFICATION $${text}$$")
    assert (err.errno, err.sqlstate) == (395018, "22023")
    # Nothing expanded: the 8-level bomb is 43 million strings (minutes, gigabytes); the bound leaves
    # room for a loaded machine (parallel test workers on 2 cores).
    assert time.monotonic() - started < 10.0


# -- LIST, REMOVE and uploads never follow a symlink ---------------------------------------------------------


@pytest.fixture
def planted(emulator: Emulator, admin, tmp_path: Path) -> Path:
    """A host file a same-uid process linked into the stage (as files/leak.txt and files/dir/...)."""
    host = tmp_path / "host-secret.txt"
    host.write_text("host secret\n")
    stage = fqn_dir(emulator.state_dir / "stages", ("D", "PUBLIC", "FILES"))
    (stage / "leak.txt").symlink_to(host)
    (stage / "dir").symlink_to(tmp_path)
    return host


def test_list_does_not_follow_symlinks(mallory, planted: Path) -> None:
    assert rows(mallory, "LIST @FILES") == []
    assert rows(mallory, "LIST @FILES/dir") == []


def test_remove_does_not_follow_symlinks(mallory, planted: Path) -> None:
    assert rows(mallory, "REMOVE @FILES") == []
    assert planted.read_text() == "host secret\n"


def test_put_does_not_write_through_a_symlinked_directory(mallory, planted: Path, tmp_path: Path) -> None:
    payload = tmp_path / "upload" / "p.txt"
    payload.parent.mkdir()
    payload.write_text("x")
    err = refused(mallory, f"PUT 'file://{payload}' @FILES/dir AUTO_COMPRESS=FALSE")
    assert (err.errno, err.sqlstate) == (2043, "22023")


def test_an_upload_does_not_write_through_a_symlink_planted_after_the_grant(
    emulator: Emulator, admin, tmp_path: Path
) -> None:
    """The grant's directory is swapped for a symlink to a host directory after the PUT was granted."""
    _, grant = grant_as_mallory(emulator, tmp_path, "/sub")
    stage = fqn_dir(emulator.state_dir / "stages", ("D", "PUBLIC", "FILES"))
    outside = tmp_path / "outside"
    outside.mkdir()
    (stage / "sub").rmdir()
    (stage / "sub").symlink_to(outside)
    url = f"http://127.0.0.1:{emulator.port}/{STAGE_BUCKET}/{grant}/x.txt"
    assert requests.put(url, data=b"owned", timeout=10).status_code in (400, 403)
    assert list(outside.iterdir()) == []
