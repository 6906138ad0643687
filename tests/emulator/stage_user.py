"""MALLORY: a user whose role APP holds READ and WRITE on stage D.PUBLIC.FILES and nothing more (what a
run's role holds on its stage), for the tests that attack the account as her. The ``stage_user`` and
``mallory`` fixtures (conftest.py) create her and connect as her."""

from __future__ import annotations

import json
from pathlib import Path

import requests

from spcs_emulator.emulator import Emulator
from tests.emulator.sql import rows

PASSWORD = "mallory-pw"
SETUP = (
    "CREATE DATABASE D",
    "CREATE STAGE D.PUBLIC.FILES",
    "CREATE ROLE APP",
    f"CREATE USER MALLORY PASSWORD = '{PASSWORD}' DEFAULT_ROLE = APP",
    "GRANT ROLE APP TO USER MALLORY",
    "GRANT USAGE ON DATABASE D TO ROLE APP",
    "GRANT USAGE ON SCHEMA D.PUBLIC TO ROLE APP",
    "GRANT READ, WRITE ON STAGE D.PUBLIC.FILES TO ROLE APP",
)
LOGIN = "/session/v1/login-request?databaseName=&schemaName=&warehouse=&roleName=APP"


def create_stage_user(admin) -> None:
    for sql in SETUP:
        admin.execute(sql)


def mallory_params(emulator: Emulator) -> dict:
    params = emulator.connection_parameters(user="mallory", password=PASSWORD)
    return {**params, "role": "APP", "database": "D", "schema": "PUBLIC"}


def user_row(admin, name: str = "MALLORY") -> dict:
    return next(r for r in rows(admin, "SHOW USERS") if r["name"] == name)


def _post(emulator: Emulator, path: str, body: dict, token: str | None = None) -> requests.Response:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f'Snowflake Token="{token}"'
    url = f"http://127.0.0.1:{emulator.port}{path}"
    return requests.post(url, data=json.dumps(body).encode(), headers=headers, timeout=60)


def grant_as_mallory(emulator: Emulator, tmp_path: Path, path: str = "") -> tuple[str, str]:
    """(session token, grant) of a PUT into @D.PUBLIC.FILES``path``, asked for over plain HTTP as an
    attacker would."""
    data = {"ACCOUNT_NAME": "x", "LOGIN_NAME": "MALLORY", "PASSWORD": PASSWORD}
    token = _post(emulator, LOGIN, {"data": data}).json()["data"]["token"]
    payload = tmp_path / "grant.txt"
    payload.write_text("x")
    sql = f"PUT 'file://{payload}' @D.PUBLIC.FILES{path} AUTO_COMPRESS=FALSE"
    answer = _post(emulator, "/queries/v1/query-request", {"sqlText": sql}, token)
    return token, answer.json()["data"]["stageInfo"]["path"].strip("/")
