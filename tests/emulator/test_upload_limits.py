"""What a PUT may store and what a LIST costs (issue 16 §17), through the real connector.

The S3 stand-in keeps at most the emulator's per-file bound (lowered here so the files stay small) and
refuses the rest as S3 does, storing nothing; LIST answers from the MD5 the upload took, so listing
large files does not hold the account: another session's statement is answered meanwhile.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import threading
import time
from pathlib import Path

import pytest
import requests
import snowflake.connector
from snowflake.connector.errors import OperationalError

from spcs_emulator.emulator import Emulator
from spcs_emulator.protocol import stage_upload
from spcs_emulator.protocol.app import STAGE_BUCKET
from tests.emulator.sql import rows

LIMIT = 256 * 1024


@pytest.fixture
def admin(admin):
    admin.execute("CREATE DATABASE D")
    admin.execute("CREATE STAGE D.PUBLIC.S")
    return admin


@pytest.fixture
def low_limit(monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr(stage_upload, "MAX_OBJECT_BYTES", LIMIT)
    return LIMIT


def sparse(path: Path, size: int) -> Path:
    with path.open("wb") as handle:
        handle.truncate(size)
    return path


def stored(emulator: Emulator) -> list[Path]:
    return sorted(p for p in (emulator.state_dir / "stages").rglob("*") if p.is_file())


def test_a_put_over_the_per_file_bound_is_refused_and_stores_nothing(
    emulator: Emulator, admin, low_limit: int, tmp_path: Path
) -> None:
    big = sparse(tmp_path / "big.bin", low_limit + 1)
    with pytest.raises(OperationalError) as refused:
        admin.execute(f"PUT 'file://{big}' @D.PUBLIC.S AUTO_COMPRESS=FALSE")
    assert "EntityTooLarge" in refused.value.msg
    assert "Your proposed upload exceeds the maximum allowed size" in refused.value.msg
    assert stored(emulator) == []  # neither the file nor a partial upload
    assert rows(admin, "LIST @D.PUBLIC.S") == []
    # Up to the bound, files land as before, with their MD5.
    fits = sparse(tmp_path / "fits.bin", low_limit)
    admin.execute(f"PUT 'file://{fits}' @D.PUBLIC.S AUTO_COMPRESS=FALSE")
    [row] = rows(admin, "LIST @D.PUBLIC.S")
    assert (row["name"], row["size"]) == ("s/fits.bin", low_limit)
    assert row["md5"] == hashlib.md5(bytes(low_limit)).hexdigest()


def _grant(emulator: Emulator, tmp_path: Path) -> str:
    """The S3 grant a PUT hands out, asked for over plain HTTP as a client of its own would."""
    base = f"http://127.0.0.1:{emulator.port}"
    params = emulator.connection_parameters()
    login = {"data": {"ACCOUNT_NAME": "x", "LOGIN_NAME": params["user"], "PASSWORD": params["password"]}}
    token = requests.post(f"{base}/session/v1/login-request", json=login, timeout=30).json()["data"]["token"]
    payload = sparse(tmp_path / "grant.bin", 1)
    answer = requests.post(
        f"{base}/queries/v1/query-request",
        json={"sqlText": f"PUT 'file://{payload}' @D.PUBLIC.S AUTO_COMPRESS=FALSE"},
        headers={"Authorization": f'Snowflake Token="{token}"'},
        timeout=30,
    )
    return str(answer.json()["data"]["stageInfo"]["path"]).strip("/")


def test_a_streamed_body_past_the_bound_is_cut_off_and_nothing_is_kept(
    emulator: Emulator, admin, low_limit: int, tmp_path: Path
) -> None:
    """A client of its own sends the body chunked (no Content-Length to refuse up front)."""
    grant = _grant(emulator, tmp_path)
    conn = http.client.HTTPConnection("127.0.0.1", emulator.port, timeout=30)
    try:
        chunks = (bytes(64 * 1024) for _ in range(low_limit // (64 * 1024) + 2))
        conn.request("PUT", f"/{STAGE_BUCKET}/{grant}/huge.bin", body=chunks, encode_chunked=True)
        answer = conn.getresponse()
        body = answer.read().decode()
    finally:
        conn.close()
    assert answer.status == 400, body
    assert "<Code>EntityTooLarge</Code>" in body
    assert stored(emulator) == []


FILES, FILE_BYTES = 4, 64 * 1024 * 1024


def test_listing_large_files_does_not_hold_the_account(emulator: Emulator, admin, tmp_path: Path) -> None:
    folder = tmp_path / "large"
    folder.mkdir()
    for i in range(FILES):
        sparse(folder / f"f{i}.bin", FILE_BYTES)
    admin.execute(f"PUT 'file://{folder}/*.bin' @D.PUBLIC.S AUTO_COMPRESS=FALSE")
    # What reading and hashing those files costs on this machine now: LIST used to do it under the lock.
    started = time.monotonic()
    digest = ""
    for path in sorted(folder.iterdir()):
        digest = hashlib.md5(path.read_bytes()).hexdigest()
    hashing = time.monotonic() - started

    listed: list[dict[str, object]] = []
    lister = threading.Thread(target=lambda: listed.extend(rows(admin, "LIST @D.PUBLIC.S")))
    with snowflake.connector.connect(**emulator.connection_parameters()) as other:
        cursor = other.cursor()
        cursor.execute("SELECT 1")  # logged in before the LIST starts
        latencies = []
        lister.start()
        while lister.is_alive() or not latencies:
            started = time.monotonic()
            assert cursor.execute("SELECT 1").fetchall() == [(1,)]
            latencies.append(time.monotonic() - started)
        lister.join()
    assert [(r["size"], r["md5"]) for r in listed] == [(FILE_BYTES, digest)] * FILES
    assert max(latencies) < hashing / 3, (json.dumps(latencies), hashing)
