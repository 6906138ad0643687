"""Running observations on a target (the emulator or an account) inside a scratch database labelled
like a run's, so that ``milvus-spcs down``/the janitor remove whatever a killed run leaves, and torn
down like a run at the end (sql/90_teardown.sql with the run's names).

Account-level objects get the run's names (role, user, warehouse, pool, services, integration), which
the teardown and the janitor know; objects inside the scratch database need no run name. Compute pools
and services cost credits on an account: they are made only ``with_services``.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import requests

from milvus_spcs.conformance.capture import capture
from milvus_spcs.conformance.observation import Observation
from milvus_spcs.conformance.scrub import Scrubber, expand
from milvus_spcs.errors import HarnessError
from milvus_spcs.naming import StackNames, label, new_run_id
from milvus_spcs.stack.janitor import teardown_run
from milvus_spcs.stack.service_status import ENDPOINT_PROVISIONING_TEXT
from milvus_spcs.stack.sql_runner import SqlRunner
from milvus_spcs.target import Target, token_of
from milvus_spcs.waits import Probe, wait_for

BASE_ROLE = "SYSADMIN"  # the role every observation starts from (the harness's own)
SERVICE_SPEC = """spec:
  containers:
  - name: web
    image: {image}
  endpoints:
  - name: ui
    port: 8888
    public: true
  - name: api
    port: 9000
    protocol: TCP
serviceRoles:
- name: UI_USERS
  endpoints:
  - ui
"""


@dataclass
class Scratch:
    """One catalogue run's names, placeholders and scrubber."""

    run_id: str
    placeholders: dict[str, str]
    scrubber: Scrubber

    @classmethod
    def new(cls, image: str | None) -> Scratch:
        run_id = new_run_id()
        names = StackNames(run_id)
        created = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        drawn = {
            "db": names.database,
            "role": names.role,
            "user": names.user,
            "wh": names.warehouse,
            "pool": names.milvus_pool,
            "pool2": names.jupyter_pool,  # every account-level name is one the run teardown drops
            "svc": names.milvus_service,
            "svc2": names.jupyter_service,
            "eai": names.integration,
            "label": label(run_id, created),
        }
        password = secrets.token_urlsafe(18) + "aA1"
        placeholders = {**drawn, "schema": "PUBLIC", "password": password, "image": image or ""}
        scrubber = Scrubber(names={v: "{" + k + "}" for k, v in drawn.items()}, secrets=[password])
        return cls(run_id, placeholders, scrubber)

    def sql(self, text: str) -> str:
        return expand(text, self.placeholders)


@dataclass
class Sessions:
    """The admin session (the target's connection) and, on first use, the run's user."""

    target: Target
    scratch: Scratch
    conns: dict[str, Any] = field(default_factory=dict)

    def cursor(self, who: str) -> Any:
        if who not in self.conns:
            if who == "admin":
                self.conns[who] = self.target.connect()
            else:
                p = self.scratch.placeholders
                self.conns[who] = self.target.connect_as(p["user"], p["password"])
        return self.conns[who].cursor()

    def close(self) -> None:
        for conn in self.conns.values():
            conn.close()


def preamble() -> list[str]:
    """The scratch account objects every observation may use."""
    return [
        f"USE ROLE {BASE_ROLE}",
        "CREATE DATABASE {db} COMMENT = '{label}'",
        "CREATE WAREHOUSE {wh} WAREHOUSE_SIZE = 'X-SMALL' AUTO_SUSPEND = 60 INITIALLY_SUSPENDED = TRUE "
        "COMMENT = '{label}'",
        "USE ROLE USERADMIN",
        "CREATE ROLE {role} COMMENT = '{label}'",
        "CREATE USER {user} PASSWORD = '{password}' DEFAULT_ROLE = {role} MUST_CHANGE_PASSWORD = FALSE "
        "COMMENT = '{label}'",
        "USE ROLE SECURITYADMIN",
        "GRANT ROLE {role} TO USER {user}",
        f"USE ROLE {BASE_ROLE}",
        "GRANT USAGE ON DATABASE {db} TO ROLE {role}",
        "GRANT USAGE ON SCHEMA {db}.PUBLIC TO ROLE {role}",
        "GRANT USAGE ON WAREHOUSE {wh} TO ROLE {role}",
        "USE SCHEMA {db}.PUBLIC",
    ]


POOL_PREAMBLE = [
    "CREATE COMPUTE POOL {pool} MIN_NODES = 1 MAX_NODES = 1 INSTANCE_FAMILY = CPU_X64_XS "
    "AUTO_RESUME = TRUE AUTO_SUSPEND_SECS = 300 COMMENT = '{label}'",
]
SERVICE_PREAMBLE = [
    # As sql/01_account.sql and 04_grants.sql: shared by every run, made only if missing, never dropped.
    "USE ROLE ACCOUNTADMIN",
    "CREATE SECURITY INTEGRATION IF NOT EXISTS SNOWSERVICES_INGRESS_OAUTH TYPE = OAUTH "
    "OAUTH_CLIENT = SNOWSERVICES_INGRESS ENABLED = TRUE "
    "COMMENT = 'milvus-spcs: shared by every run, never dropped'",
    "GRANT BIND SERVICE ENDPOINT ON ACCOUNT TO ROLE SYSADMIN",
    f"USE ROLE {BASE_ROLE}",
    "CREATE SERVICE {svc} IN COMPUTE POOL {pool} FROM SPECIFICATION $$"
    + SERVICE_SPEC
    + "$$ COMMENT = '{label}'",
]


def rows_of(cursor: Any, sql: str) -> list[dict[str, Any]]:
    """Rows by column name: an account may add columns a position would miss."""
    cursor.execute(sql)
    names = [d.name for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _first_value(cursor: Any, sql: str) -> Any:
    cursor.execute(sql)
    return cursor.fetchone()[0]


def wait_served(cursor: Any, scratch: Scratch, timeout: float) -> str:
    """Wait until {svc} runs and its public endpoint has an ingress host; that host."""

    def served() -> Probe[str]:
        services = rows_of(cursor, scratch.sql("SHOW SERVICES LIKE '{svc}' IN SCHEMA {db}.PUBLIC"))
        status = services[0]["status"] if services else "missing"
        if status == "FAILED":  # no point waiting out the timeout: the image or the spec is wrong
            raise HarnessError(f"the scratch service {scratch.placeholders['svc']} FAILED (its image?)")
        if status != "RUNNING":
            return Probe(False, state=f"service {status}")
        endpoints = rows_of(cursor, scratch.sql("SHOW ENDPOINTS IN SERVICE {db}.PUBLIC.{svc}"))
        url = str(next((e["ingress_url"] for e in endpoints if e["name"] == "ui"), None) or "")
        return Probe(bool(url) and ENDPOINT_PROVISIONING_TEXT not in url, url, f"ingress_url {url!r}")

    host = wait_for(served, what="the scratch service and its ingress", timeout=timeout, interval=1.0)
    assert host is not None
    dns_id = _first_value(cursor, scratch.sql("SELECT SYSTEM$GET_SERVICE_DNS_DOMAIN('{db}.PUBLIC')"))
    scratch.scrubber.values[str(dns_id)] = "<dns-id>"
    return host


def ingress_answer(target: Target, host: str, token: str | None) -> dict[str, Any]:
    """GET / of the public endpoint with ``token`` (None: no Authorization header at all)."""
    headers = {"Authorization": f'Snowflake Token="{token}"'} if token is not None else {}
    response = requests.get(
        f"{target.ingress_scheme}://{host}/", headers=headers, allow_redirects=False, timeout=60
    )
    answer: dict[str, Any] = {"status": response.status_code}
    if "Location" in response.headers:
        answer["location"] = response.headers["Location"]
    return answer


@dataclass
class CatalogueRun:
    target: Target
    with_services: bool = False
    image: str | None = (
        None  # a pushed image for services; else the target's own stand-in, if it supplies one
    )
    service_timeout: float = 1200.0
    report: Callable[[str], None] = lambda _: None
    answers: dict[str, dict[str, Any]] = field(default_factory=dict)

    def skip_reason(self, obs: Observation) -> str | None:
        if obs.needs and not self.with_services:
            return f"needs a {obs.needs} (--with-services)"
        if obs.needs == "service" and not (self.image or self.target.supplies_images):
            return "needs a service image (--service-image)"
        return None

    def run(self, observations: list[Observation]) -> dict[str, dict[str, Any]]:
        """Each observation's scrubbed answer by id ({"skipped": why} for those not run)."""
        with self._scratch() as (scratch, sessions, host):
            for obs in observations:
                why = self.skip_reason(obs)
                if why:
                    self.answers[obs.id] = {"skipped": why}
                    continue
                self.report(f"observation {obs.id}")
                self.answers[obs.id] = self._observe(obs, scratch, sessions, host)
        return self.answers

    def _observe(
        self, obs: Observation, scratch: Scratch, sessions: Sessions, host: str | None
    ) -> dict[str, Any]:
        admin = sessions.cursor("admin")
        for reset in (f"USE ROLE {BASE_ROLE}", scratch.sql("USE SCHEMA {db}.PUBLIC")):
            admin.execute(reset)
        cursor = sessions.cursor(obs.session)
        for statement in obs.setup:
            answer = capture(cursor, scratch.sql(statement), scratch.scrubber)
            if "error" in answer:
                return {"setup_error": {"sql": statement, **answer["error"]}}
        if obs.sql is not None:
            return capture(cursor, scratch.sql(obs.sql), scratch.scrubber)
        assert obs.http is not None
        assert host is not None
        token = {"none": None, "bad": "not-a-token-" + secrets.token_hex(8)}.get(obs.http["token"])
        if obs.http["token"] == "user":
            sessions.cursor("user")  # logs the run's user in, once
            token = str(token_of(sessions.conns["user"]))
        if token:
            scratch.scrubber.secrets.append(token)
        answer = ingress_answer(self.target, host, token)
        return {k: scratch.scrubber.value(v) for k, v in answer.items()}

    @contextmanager
    def _scratch(self) -> Iterator[tuple[Scratch, Sessions, str | None]]:
        scratch = Scratch.new(self.image)
        sessions = Sessions(self.target, scratch)
        self.report(f"scratch run {scratch.run_id}: database {scratch.placeholders['db']}")
        try:
            admin = sessions.cursor("admin")
            conn = sessions.conns["admin"]
            scratch.scrubber.identify(account=conn.account, user=conn.user, host=conn.host)
            host = None
            for statement in preamble():
                admin.execute(scratch.sql(statement))
            if self.with_services:
                if self.target.supplies_images and not self.image:
                    self._publish(admin, scratch)
                with_image = bool(scratch.placeholders["image"])  # else service observations are skipped
                for statement in POOL_PREAMBLE + (SERVICE_PREAMBLE if with_image else []):
                    admin.execute(scratch.sql(statement))
                if with_image:
                    host = wait_served(admin, scratch, self.service_timeout)
            yield scratch, sessions, host
        finally:
            sessions.close()
            teardown_run(SqlRunner(self.target, [scratch.placeholders["password"]]), scratch.run_id)
            self.report(f"scratch run {scratch.run_id} torn down")

    def _publish(self, admin: Any, scratch: Scratch) -> None:
        """The emulator's stand-in for a pushed image: a repository in the scratch database."""
        admin.execute(scratch.sql("CREATE IMAGE REPOSITORY {db}.PUBLIC.CONF_REPO"))
        repos = rows_of(admin, scratch.sql("SHOW IMAGE REPOSITORIES LIKE 'CONF_REPO' IN SCHEMA {db}.PUBLIC"))
        url = f"{repos[0]['repository_url']}/conf:1"
        self.target.publish_image(url, "jupyter", None)
        scratch.placeholders["image"] = "/" + "/".join(url.split("/")[1:])
