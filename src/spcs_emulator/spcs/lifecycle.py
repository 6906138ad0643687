"""Timing profiles and the state records of pools and services (the control plane advances them).

States (reference §1.8, §1.9, §1.12): pool STARTING -> IDLE (no services) / ACTIVE, SUSPENDED;
service PENDING -> RUNNING / FAILED, SUSPENDING -> SUSPENDED; a job service PENDING -> RUNNING ->
DONE / FAILED; container PENDING -> READY / FAILED (a job's container ends DONE or FAILED);
an endpoint's ingress_url shows :data:`ENDPOINT_PROVISIONING_TEXT` until some time after RUNNING.
The states are ``Literal`` strings: they are what SHOW and DESCRIBE print, compared as text everywhere.
A container's status is ``runtime_api.ContainerStatus`` (the runtime reports it).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Literal

from spcs_emulator.spcs.runtime_api import ContainerHandle
from spcs_emulator.spcs.spec import ServiceSpec

# What SHOW ENDPOINTS shows as an endpoint's ingress_url while its ingress is being provisioned.
ENDPOINT_PROVISIONING_TEXT = "Endpoints provisioning in progress... check back in a few minutes"

# A pool's recorded state; IDLE and ACTIVE are one recorded state (IDLE), shown ACTIVE while services
# run on the pool (ControlPlane.pool_state).
PoolStatus = Literal["STARTING", "IDLE", "ACTIVE", "SUSPENDED"]
# DONE: a job service whose containers all exited with code 0 (a job FAILS when one exits otherwise).
ServiceStatus = Literal["PENDING", "RUNNING", "FAILED", "SUSPENDING", "SUSPENDED", "DONE"]


@dataclass(frozen=True)
class Timing:
    """Seconds each transition takes before scaling (the runtime's real start-up time comes on top)."""

    pool_start: float
    pool_resume: float
    service_schedule: float  # PENDING before containers are started (scheduling, image pull)
    endpoint_provision: float  # after RUNNING, until the ingress URL replaces ENDPOINT_PROVISIONING_TEXT
    service_suspend: float  # SUSPENDING -> SUSPENDED

    def scaled(self, factor: float) -> Timing:
        return Timing(
            *(
                value * factor
                for value in (
                    self.pool_start,
                    self.pool_resume,
                    self.service_schedule,
                    self.endpoint_provision,
                    self.service_suspend,
                )
            )
        )


# `realistic` keeps Snowflake's proportions: a pool takes minutes, a service a minute or two, the
# ingress URL 2-3 minutes after RUNNING (reference pitfalls §1.5, §5.3). Use --time-scale to shrink.
PROFILES = {
    "instant": Timing(0.0, 0.0, 0.0, 0.0, 0.0),
    "realistic": Timing(
        pool_start=240.0,
        pool_resume=120.0,
        service_schedule=45.0,
        endpoint_provision=150.0,
        service_suspend=20.0,
    ),
}


@dataclass
class PoolState:
    state: PoolStatus
    ready_at: float | None  # when STARTING ends
    status_message: str = ""
    starting_since: float | None = None  # when STARTING began (DESCRIBE's status_message counts from it)
    error_code: str = ""


@dataclass
class InstanceState:
    """One instance of a service: its own address (SHOW SERVICE INSTANCES' ip_address), its own set of
    the spec's containers and its own block and local volumes."""

    id: int
    ip: str = ""
    containers: dict[str, ContainerHandle] = field(default_factory=dict)
    start_time: float | None = None
    ready: bool = False  # every container READY at the last tick (DNS and the ingress reach it)


@dataclass
class ServiceState:
    spec: ServiceSpec
    status: ServiceStatus
    # One loopback address per instance id (index), claimed at CREATE and when MIN_INSTANCES grows
    # (so a full address block refuses the statement); kept until the service is dropped.
    addresses: list[str]
    dns_name: str
    schedule_at: float  # earliest time containers may start
    instances: list[InstanceState] = field(default_factory=list)
    running_since: float | None = None
    suspend_done_at: float | None = None
    ingress: dict[str, str] = field(default_factory=dict)  # endpoint name -> ingress host
    failure: str = ""  # why the service FAILED (container message)
    upgrading: bool = False  # ALTER ... FROM SPECIFICATION until the new spec runs (SHOW's is_upgrading)
    job: bool = False  # EXECUTE JOB SERVICE: its containers run to completion, never restarted
    async_job: bool = False  # ... ASYNC = TRUE (SHOW's is_async_job)
    replicas: int = 1  # ... REPLICAS = n: the job's instances
    # Shared by the service's containers and its ingress routes only (ContainerLaunch.ingress_secret).
    ingress_secret: str = field(default_factory=lambda: secrets.token_urlsafe(32), repr=False)
    # The addresses of the READY instances, replaced as a whole each tick: the ingress reads it off the
    # account lock (IngressRoute.targets) and service DNS lists it (ControlPlane.hosts).
    ready_addresses: tuple[str, ...] = ()

    @property
    def ip(self) -> str:
        """Instance 0's address: where the service is found before any instance is ready."""
        return self.addresses[0]
