"""The SPCS control plane: pools and services as state machines, driven by a reconciler thread.

Statement handlers (spcs/statements/) change desired state under the account lock; the reconciler
advances actual state every tick: it starts containers through the runtime when a service is
scheduled, marks it RUNNING once every container is READY, opens ingress after the endpoint delay,
and stops containers on suspend and drop (off the lock, on a worker pool, since stopping takes time).

A service runs MIN_INSTANCES instances (CPU-based autoscaling up to MAX_INSTANCES is not emulated:
nothing here measures load), each with its own set of the spec's containers, its own block and local
volumes and its own loopback address from the emulator's own block (``addresses``), so two emulators
on one host never hand out the same one. The addresses are taken at CREATE SERVICE and at ALTER
SERVICE ... SET MIN_INSTANCES before the catalog changes (a full block or the emulator's service
quotas refuse the statement, never half-create a service) and given back once the dropped service's
containers have stopped. The service's DNS name answers with the addresses of its READY instances
(instance 0's while none is), and its ingress spreads requests over them. Whatever a service owns on the host
(volumes, logs, container folders) is keyed by its object id, never its name, and goes with it
(``service_files``). What each container is started with (env, secrets, volumes, the session token
file) is prepared by ``launches``; the runtime behind ``runtime_api.Runtime`` starts it.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from pathlib import Path

from spcs_emulator import errors
from spcs_emulator.account.objects import CatalogObject
from spcs_emulator.account.state import AccountState
from spcs_emulator.spcs import images, service_files
from spcs_emulator.spcs.addresses import AddressBlock, AddressesExhausted
from spcs_emulator.spcs.events import PULL_FAILED, ServiceRecord
from spcs_emulator.spcs.identity import SessionResolver
from spcs_emulator.spcs.ingress_auth import ServiceAccess, authorize_endpoint
from spcs_emulator.spcs.launches import LaunchError, Launches
from spcs_emulator.spcs.lifecycle import PROFILES, InstanceState, PoolState, PoolStatus, ServiceState, Timing
from spcs_emulator.spcs.runtime_api import (
    Authorizer,
    ContainerLaunch,
    Ingress,
    IngressRoute,
    Runtime,
)
from spcs_emulator.spcs.spec import Container, ServiceSpec
from spcs_emulator.sql import ast

log = logging.getLogger(__name__)

MAX_RESTARTS_BEFORE_FAILED = 3
# "You can create up to 200 services in a Snowflake account" (docs: spcs-guidelines-and-limitations).
MAX_SERVICES = 200
# The emulator's own quota (Snowflake has none per role): one role cannot take the whole account's.
MAX_SERVICES_PER_ROLE = 100
# ... nor, with several instances each, every address of the emulator's block (254).
MAX_INSTANCES_PER_ROLE = 100


def dns_label(name: str) -> str:
    return name.lower().replace("_", "-")


class ControlPlane:
    def __init__(
        self,
        account: AccountState,
        *,
        runtime: Runtime | None,
        ingress: Ingress | None,
        profile: str = "instant",
        time_scale: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        tick_seconds: float = 0.1,
        runs_images: bool = False,
        token_resolver: SessionResolver = lambda token: None,
    ) -> None:
        """``runs_images``: the runtime runs the pushed images themselves (docker), not local stand-ins
        named by a label. ``token_resolver``: how the ingress finds a session by its token (the
        Emulator's session store)."""
        if profile not in PROFILES:
            raise ValueError(f"unknown profile {profile!r}; choose one of {', '.join(PROFILES)}")
        self.account = account
        self.runtime = runtime
        # What a container is started with (launches.py); the Emulator tells it where the SQL API is.
        self.launches = Launches(account, runs_images=runs_images)
        self.ingress = ingress
        self.timing: Timing = PROFILES[profile].scaled(time_scale)
        self.profile = profile
        self.clock = clock
        self.tick_seconds = tick_seconds
        self.pools: dict[tuple[str, ...], PoolState] = {}
        self.services: dict[tuple[str, ...], ServiceState] = {}
        # Each service's platform events and suspend/resume times (SPCS_GET_EVENTS, SHOW SERVICES).
        self.records: dict[tuple[str, ...], ServiceRecord] = {}
        self._start_faults: dict[str, str] = {}  # service name (upper) -> failure message at start
        self.token_resolver = token_resolver
        # Service key (service_files.service_key) -> its addresses, held until its containers have stopped.
        self._ips: dict[str, list[str]] = {}
        self._keys: dict[tuple[str, ...], str] = {}  # service fqn -> its key
        self._stopping: dict[str, list[Future[None]]] = {}  # service key -> its stops in flight
        self._addresses: AddressBlock | None = None  # claimed when the first service needs an address
        self._stopper = ThreadPoolExecutor(max_workers=4, thread_name_prefix="spcs-stop")
        # Notified after every tick: a synchronous EXECUTE JOB SERVICE waits on it, which releases the
        # account lock while it waits (statements/jobs.py).
        self.ticked = threading.Condition(account.lock)
        self.sync_job_waits = 0  # statements waiting on it now (under the account lock)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- reconciler thread ------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="spcs-reconciler", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.tick_seconds):
            try:
                self.tick()
            except Exception:  # a bug in one tick must not stop the control plane
                log.exception("reconciler tick failed")

    def shutdown(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        with self.account.lock:
            states = list(self.services.values())
            keys = list(self._keys.values())
            self.services.clear()
            self._keys.clear()
        for state in states:
            self._stop_instances(state.instances, state.dns_name)
        self._stopper.shutdown(wait=True)  # the stops and clean-ups of dropped services finish first
        for key in keys:  # the catalog dies with the emulator: nothing can own these files any more
            self._remove_files(key)
        if self.ingress is not None:
            self.ingress.shutdown()
        if self.runtime is not None:
            self.runtime.shutdown()
        if self._addresses is not None:
            self._addresses.release()

    def reset(self) -> None:
        for fqn, state in list(self.services.items()):
            if self.ingress is not None:
                self.ingress.close(state.dns_name)
            self._forget(self._keys[fqn], state)
        self.services.clear()
        self._keys.clear()
        self.pools.clear()
        self.records.clear()
        self._start_faults.clear()

    # -- pools ------------------------------------------------------------------------------------

    def pool_created(self, obj: CatalogObject, suspended: bool) -> None:
        now = self.clock()
        self.pools[obj.fqn] = PoolState(
            "SUSPENDED" if suspended else "STARTING",
            None if suspended else now + self.timing.pool_start,
            starting_since=None if suspended else now,
        )

    def pool_services(self, pool_name: str) -> list[CatalogObject]:
        """The pool's services and running jobs (a finished job runs nothing: it keeps no pool busy)."""
        return [
            s
            for s in self.account.catalog.all(ast.SERVICE)
            if s.properties.get("COMPUTE_POOL") == pool_name and not self._finished_job(s.fqn)
        ]

    def _finished_job(self, fqn: tuple[str, ...]) -> bool:
        state = self.services.get(fqn)
        return state is not None and state.job and state.status in ("DONE", "FAILED")

    def pool_state(self, obj: CatalogObject) -> PoolStatus:
        """What SHOW says: a running pool is ACTIVE while it has services, IDLE without."""
        state = self.pools[obj.fqn]
        if state.state in ("IDLE", "ACTIVE"):
            return "ACTIVE" if self.pool_services(obj.name) else "IDLE"
        return state.state

    def pool_status_message(self, obj: CatalogObject) -> str:
        """DESCRIBE's status_message: while a pool starts, how long it has been starting (as Snowflake
        words it: "Compute pool is starting for last 0 minutes", Terraform's testint); else empty."""
        state = self.pools[obj.fqn]
        if state.state != "STARTING":
            return state.status_message
        since = state.starting_since if state.starting_since is not None else self.clock()
        minutes = int((self.clock() - since) // 60)
        return f"Compute pool is starting for last {minutes} minutes"

    def suspend_pool(self, obj: CatalogObject) -> None:
        for service in self.pool_services(obj.name):
            self.suspend_service(service)
        self.pools[obj.fqn].state = "SUSPENDED"
        self.pools[obj.fqn].ready_at = None

    def resume_pool(self, obj: CatalogObject) -> None:
        state = self.pools[obj.fqn]
        if state.state == "SUSPENDED":
            state.state, state.ready_at = "STARTING", self.clock() + self.timing.pool_resume
            state.starting_since = self.clock()

    # -- services ---------------------------------------------------------------------------------

    def dns_domain(self, schema_fqn: tuple[str, ...]) -> str:
        """The schema's DNS label (four random characters, chosen once per schema, no other schema's)."""
        schema = self.account.catalog.get(ast.SCHEMA, schema_fqn)
        if schema is None:
            raise ValueError(f"no schema {'.'.join(schema_fqn)}")  # callers looked it up under the lock
        if "_DNS_ID" not in schema.properties:
            taken = {s.properties.get("_DNS_ID") for s in self.account.catalog.all(ast.SCHEMA)}
            alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
            label = None
            while label is None or label in taken:
                label = "".join(secrets.choice(alphabet) for _ in range(4))
            schema.properties["_DNS_ID"] = label
        return str(schema.properties["_DNS_ID"])

    @property
    def address_block(self) -> AddressBlock:
        """This instance's own /24 of loopback addresses (claimed once, released on shutdown)."""
        if self._addresses is None:
            self._addresses = AddressBlock.claim()
            log.info("service addresses come from %s", self._addresses)
        return self._addresses

    def service_created(
        self,
        obj: CatalogObject,
        spec: ServiceSpec,
        owner: str,
        *,
        instances: int = 1,
        job: bool = False,
        async_job: bool = False,
    ) -> ServiceState:
        """Admit a new service of ``instances`` instances (``job``: a job service) of role ``owner``:
        call it before the catalog changes, since it refuses (a SnowflakeError) when a quota or the
        address block is exhausted, and then changes nothing."""
        self._check_quotas(owner)
        self._check_instance_quota(owner, instances, f"Cannot create service {obj.name}")
        dns = f"{dns_label(obj.name)}.{self.dns_domain(obj.fqn[:2])}.svc.spcs.internal"
        clash = next((f for f, s in self.services.items() if s.dns_name == dns), None)
        if clash is not None:  # the ingress and DNS know a service by this name: it must be one service's
            raise errors.invalid(
                f"Service name {obj.name!r} gives the DNS name {dns.split('.')[0]}, which service "
                f"{'.'.join(clash)} already has; SPCS supports only unquoted service names."
            )
        addresses = self._free_addresses(instances, f"Cannot create service {obj.name}")
        key = service_files.service_key(obj)
        state = ServiceState(
            spec=spec,
            status="PENDING",
            addresses=addresses,
            dns_name=dns,
            schedule_at=self.clock() + self.timing.service_schedule,
            job=job,
            async_job=async_job,
            replicas=instances if job else 1,
        )
        self._ips[key] = list(addresses)
        self._keys[obj.fqn] = key
        self.services[obj.fqn] = state
        self.records[obj.fqn] = ServiceRecord()
        self.records[obj.fqn].service("PENDING")
        self._ensure_pool_running(obj)
        self._publish_hosts()
        return state

    def _free_addresses(self, count: int, refusal: str) -> list[str]:
        """``count`` addresses no service holds; refuses (391418) when the block has fewer."""
        taken = {ip for ips in self._ips.values() for ip in ips}
        found: list[str] = []
        try:
            for _ in range(count):
                found.append(self.address_block.next_free(taken | set(found)))
        except AddressesExhausted as exc:
            raise _limit(f"{refusal}: no service address is free ({exc}).") from None
        return found

    def reserve_instances(self, obj: CatalogObject, instances: int) -> None:
        """ALTER SERVICE ... SET MIN_INSTANCES = ``instances``: an address for each new instance, before
        the catalog changes (a full block refuses the statement). The tick starts or stops instances."""
        state = self.services[obj.fqn]
        missing = instances - len(state.addresses)
        if missing > 0:
            refusal = f"Cannot scale service {obj.name} to {instances} instances"
            self._check_instance_quota(
                self.account.access.owner(ast.SERVICE, obj.fqn) or "", missing, refusal
            )
            more = self._free_addresses(missing, refusal)
            state.addresses.extend(more)
            self._ips[self._keys[obj.fqn]].extend(more)

    @staticmethod
    def target_instances(service: CatalogObject, state: ServiceState) -> int:
        """How many instances the service runs now: none while suspended, a job's REPLICAS until it
        ends, else MIN_INSTANCES (SHOW SERVICES' target_instances)."""
        if state.job:  # its instances until it ends (Terraform's testint: 0..1 right after ASYNC)
            return state.replicas if state.status in ("PENDING", "RUNNING") else 0
        if state.status in ("SUSPENDED", "SUSPENDING"):
            return 0
        return int(service.properties.get("MIN_INSTANCES", 1))

    def _check_quotas(self, owner: str) -> None:
        if len(self.services) >= MAX_SERVICES:
            raise _limit(f"Cannot create service: this account has {MAX_SERVICES} services, the most it may.")
        owned = sum(1 for fqn in self.services if self.account.access.owner(ast.SERVICE, fqn) == owner)
        if owned >= MAX_SERVICES_PER_ROLE:
            raise _limit(
                f"Cannot create service: role {owner} owns {owned} services, the most one role may own "
                "on this emulator."
            )

    def _check_instance_quota(self, owner: str, more: int, refusal: str) -> None:
        held = sum(
            len(state.addresses)
            for fqn, state in self.services.items()
            if self.account.access.owner(ast.SERVICE, fqn) == owner
        )
        if held + more > MAX_INSTANCES_PER_ROLE:
            raise _limit(
                f"{refusal}: role {owner} holds {held} service instance addresses and asks for {more} more; "
                f"one role may hold {MAX_INSTANCES_PER_ROLE} on this emulator."
            )

    def _publish_hosts(self) -> None:
        # Containers already running learn the new name too (the runtime rewrites their hosts files).
        if self.runtime is not None:
            self.runtime.update_hosts(self.hosts())

    def _ensure_pool_running(self, service: CatalogObject) -> None:
        pool = self.account.catalog.get(ast.COMPUTE_POOL, (service.properties["COMPUTE_POOL"],))
        if (
            pool is not None
            and self.pools[pool.fqn].state == "SUSPENDED"
            and pool.properties.get("AUTO_RESUME", True) is not False
        ):
            self.resume_pool(pool)

    def suspend_service(self, obj: CatalogObject, *, upgrade: bool = False) -> None:
        state = self.services[obj.fqn]
        if state.status in ("SUSPENDED", "SUSPENDING"):
            return
        record = self.records[obj.fqn]
        if not upgrade:  # an upgrade replaces the containers; it suspends nothing SHOW would tell
            record.suspended_on = time.time()
            record.service("SUSPENDING")
        for instance in state.instances:
            record.instance(instance.id, "TERMINATING")
        record.forget_containers()
        state.ready_addresses = ()
        state.status = "SUSPENDING"
        state.suspend_done_at = self.clock() + self.timing.service_suspend
        state.running_since = None
        self._close_ingress(state)
        self._stop_async(state, self._keys[obj.fqn])

    def resume_service(self, obj: CatalogObject, *, upgrade: bool = False) -> None:
        state = self.services[obj.fqn]
        if state.status in ("SUSPENDED", "SUSPENDING", "FAILED"):
            record = self.records[obj.fqn]
            if upgrade:
                record.service("UPGRADING")
            else:
                record.resumed_on = time.time()
                record.service("RESUMING")
            state.status, state.failure = "PENDING", ""
            state.schedule_at = self.clock() + self.timing.service_schedule
            self._ensure_pool_running(obj)

    def upgrade_service(self, obj: CatalogObject, spec: ServiceSpec) -> None:
        """ALTER SERVICE ... FROM SPECIFICATION: the containers are replaced by the new spec's."""
        self.suspend_service(obj, upgrade=True)
        self.services[obj.fqn].spec = spec
        self.resume_service(obj, upgrade=True)
        self.services[obj.fqn].upgrading = True  # until the new spec's containers are READY

    def drop_service(self, obj: CatalogObject) -> None:
        self.records.pop(obj.fqn, None)
        state = self.services.pop(obj.fqn, None)
        key = self._keys.pop(obj.fqn, None)
        self._publish_hosts()
        if state is not None and key is not None:
            self._close_ingress(state)
            self._forget(key, state)

    # -- what the emulator's control API asks for (control_api.py) --------------------------------

    def fail_next_start(self, service: str, message: str) -> None:
        """The next start of a service named ``service`` (in any schema; a qualified name counts by its
        last part) FAILS with ``message``."""
        with self.account.lock:
            self._start_faults[service.split(".")[-1].upper()] = message

    def crash_container(self, service: str, container: str, instance: int = 0) -> None:
        """Kill a running container's process (the runtime restarts it). ``service`` may be qualified
        ("DB.SCHEMA.SVC") or a trailing part of it ("SVC")."""
        fqn = tuple(part.upper() for part in service.split("."))
        with self.account.lock:
            state = next((s for f, s in self.services.items() if f[-len(fqn) :] == fqn), None)
            running = next((i for i in state.instances if i.id == instance), None) if state else None
            if running is None or container not in running.containers:
                raise NotFound(
                    f"no running container {container!r} in instance {instance} of service {service}"
                )
            handle = running.containers[container]
        handle.crash()  # off the lock: the runtime waits for the process to die

    def publish_image(self, ref: images.ImageRef, runtime: str, files: Path | None) -> images.PublishedImage:
        """Publish ``ref`` into its image repository (the emulator's ``docker push``)."""
        with self.account.lock:
            repository = self.account.catalog.get(ast.IMAGE_REPOSITORY, ref.repository)
            if repository is None:
                raise NotFound(f"no image repository {'.'.join(ref.repository)}")
            return images.publish(repository, ref, runtime, files, self.account.state_dir / "images")

    def service_roles(self, obj: CatalogObject) -> dict[str, tuple[str, ...]]:
        return self.services[obj.fqn].spec.service_roles

    def _close_ingress(self, state: ServiceState) -> None:
        if self.ingress is not None and state.ingress:
            self.ingress.close(state.dns_name)
        state.ingress.clear()

    def _stop_async(self, state: ServiceState, key: str) -> None:
        instances, state.instances = state.instances, []
        self._stop_later(key, instances, state.dns_name)

    def _stop_later(self, key: str, instances: list[InstanceState], service: str) -> None:
        """Stop ``instances`` on the worker pool (under the account lock: the stop is tracked)."""
        if not instances:
            return
        stopping = [f for f in self._stopping.get(key, []) if not f.done()]
        stopping.append(self._stopper.submit(self._stop_instances, instances, service))
        self._stopping[key] = stopping

    def _forget(self, key: str, state: ServiceState) -> None:
        """The service object is gone (under the account lock): once its containers have stopped, its
        files go and its address is free again."""
        self._stop_async(state, key)
        stopping = self._stopping.pop(key, [])
        self._stopper.submit(self._clean_up, key, stopping)

    def _clean_up(self, key: str, stopping: list[Future[None]]) -> None:
        # The stops were submitted before this job, so they have started or ended: no worker deadlock.
        wait(stopping)
        self._remove_files(key)
        with self.account.lock:
            self._ips.pop(key, None)

    def _remove_files(self, key: str) -> None:
        try:
            if self.runtime is not None:  # the runtime's own folders of the service (container directories)
                self.runtime.forget_service(key)
            service_files.remove(self.account.state_dir, key)
        except Exception:  # a clean-up that fails must not stop the next ones
            log.exception("removing the files of service %s failed", key)

    @staticmethod
    def _stop_instances(instances: list[InstanceState], service: str) -> None:
        for instance in instances:
            for handle in instance.containers.values():
                try:
                    handle.stop()
                except Exception:  # one container that will not stop must not keep the others running
                    log.exception("stopping a container of %s failed", service)

    # -- the tick ---------------------------------------------------------------------------------

    def tick(self) -> None:
        with self.account.lock:
            now = self.clock()
            for pool in self.pools.values():
                if pool.state == "STARTING" and pool.ready_at is not None and now >= pool.ready_at:
                    pool.state = "IDLE"
            for fqn, state in list(self.services.items()):
                service = self.account.catalog.get(ast.SERVICE, fqn)
                if service is not None:
                    self._advance(service, state, now)
            self.ticked.notify_all()

    def _pool_ready(self, service: CatalogObject) -> bool:
        pool = self.account.catalog.get(ast.COMPUTE_POOL, (service.properties["COMPUTE_POOL"],))
        return pool is not None and self.pools[pool.fqn].state in ("IDLE", "ACTIVE")

    def _advance(self, service: CatalogObject, state: ServiceState, now: float) -> None:
        if (
            state.status == "SUSPENDING"
            and state.suspend_done_at is not None
            and now >= state.suspend_done_at
        ):
            state.status = "SUSPENDED"
            self.records[service.fqn].service("SUSPENDED")
        if (
            state.status == "PENDING"
            and not state.instances
            and now >= state.schedule_at
            and self._pool_ready(service)
            and not self._still_stopping(service.fqn)
        ):
            self._launch(service, state, range(self.target_instances(service, state)))
        elif state.status in ("PENDING", "RUNNING") and state.instances and not state.job:
            self._scale(service, state)
        if state.status in ("PENDING", "RUNNING") and state.instances:
            self._observe(service, state, now)
        provisioned = (
            state.running_since is not None and now >= state.running_since + self.timing.endpoint_provision
        )
        if state.status == "RUNNING" and provisioned and not state.ingress and not state.job:
            self._open_ingress(service, state)

    def _still_stopping(self, fqn: tuple[str, ...]) -> bool:
        """A RESUME (or an upgrade) launches only once the containers it replaces have stopped: under
        load the engine may still be removing the old container, whose name the new one takes."""
        key = self._keys.get(fqn)
        return key is not None and any(not f.done() for f in self._stopping.get(key, []))

    def _scale(self, service: CatalogObject, state: ServiceState) -> None:
        """MIN_INSTANCES changed while the service runs: start the missing instances (once the pool
        runs), stop the ones above it (the highest ids go first, as a StatefulSet scales in)."""
        target = self.target_instances(service, state)
        extra = [i for i in state.instances if i.id >= target]
        if extra:
            record = self.records[service.fqn]
            for instance in extra:
                record.instance(instance.id, "TERMINATING")
                record.forget_containers(instance.id)
            state.instances = [i for i in state.instances if i.id < target]
            self._stop_later(self._keys[service.fqn], extra, state.dns_name)
            self._refresh_ready(state)
        running = {i.id for i in state.instances}
        missing = [i for i in range(target) if i not in running]
        # As a first launch: an instance id stopped a moment ago may still be leaving the engine.
        if missing and self._pool_ready(service) and not self._still_stopping(service.fqn):
            self._launch(service, state, missing)

    def _launch(self, service: CatalogObject, state: ServiceState, ids: range | list[int]) -> None:
        """Start the spec's containers for each instance id in ``ids``; one that cannot start (an image
        or a secret missing) FAILS the service and stops what this call started."""
        record = self.records[service.fqn]
        fault = self._start_faults.pop(service.name, None)
        if fault is None and self.runtime is None:
            fault = "No runtime: this emulator was started without one."
        if fault is not None:
            for container in state.spec.containers:
                record.container(ids[0], container.name, "FAILED", fault)
            self._fail(service, state, fault)
            return
        assert self.runtime is not None
        started: list[InstanceState] = []
        try:
            for instance_id in ids:
                instance = InstanceState(instance_id, ip=state.addresses[instance_id], start_time=time.time())
                started.append(instance)
                record.instance(instance_id, "PENDING")
                for container in state.spec.containers:
                    try:
                        request = self._launch_request(service, state, container, instance)
                    except LaunchError as exc:
                        # Snowflake reports a missing image as PENDING with "Failed to pull image" (and
                        # retries); the emulator fails the service at once with the same event.
                        pending = str(exc).startswith(PULL_FAILED)
                        status = "PENDING" if pending else "FAILED"
                        record.container(instance_id, container.name, status, str(exc), error=True)
                        raise
                    instance.containers[container.name] = self.runtime.launch(request)
        except LaunchError as exc:
            self._fail(service, state, str(exc))
            self._stop_later(self._keys[service.fqn], started, state.dns_name)
            return
        state.instances = sorted([*state.instances, *started], key=lambda i: i.id)

    def _fail(self, service: CatalogObject, state: ServiceState, failure: str) -> None:
        state.status, state.failure = "FAILED", failure
        self.records[service.fqn].service("FAILED")

    def _observe(self, service: CatalogObject, state: ServiceState, now: float) -> None:
        record = self.records[service.fqn]
        readiness = {c.name: c.readiness for c in state.spec.containers}
        for instance in state.instances:
            for name, handle in instance.containers.items():
                record.observe(instance.id, name, handle, readiness.get(name))
        if state.job:
            self._observe_job(service, state, now)
            return
        statuses = [h.status()[0] for i in state.instances for h in i.containers.values()]
        restarts = max((h.restart_count for i in state.instances for h in i.containers.values()), default=0)
        for instance in state.instances:
            ready = all(h.status()[0] == "READY" for h in instance.containers.values())
            if ready != instance.ready:
                instance.ready = ready
                record.instance(instance.id, "READY" if ready else "PENDING")
        self._refresh_ready(state)
        # MIN_READY_INSTANCES defaults to MIN_INSTANCES (docs: create-service).
        wanted = service.properties.get("MIN_READY_INSTANCES", service.properties.get("MIN_INSTANCES", 1))
        min_ready = min(int(wanted), len(state.instances))
        if state.status == "PENDING" and sum(i.ready for i in state.instances) >= max(1, min_ready):
            state.status, state.running_since = "RUNNING", now
            record.service("UPGRADED" if state.upgrading else "RUNNING")
            state.upgrading = False
        elif "FAILED" in statuses and restarts >= MAX_RESTARTS_BEFORE_FAILED:
            failed = [h for i in state.instances for h in i.containers.values() if h.status()[0] == "FAILED"]
            for instance in state.instances:
                record.instance(instance.id, "FAILED")
            self._fail(service, state, failed[0].status()[1])
            state.running_since = None
            state.upgrading = False
            self._close_ingress(state)

    def _observe_job(self, service: CatalogObject, state: ServiceState, now: float) -> None:
        """A job: RUNNING once its containers run, DONE when all ended with code 0, FAILED as soon as
        one fails (its containers are never restarted). Its ended containers stay, with their logs."""
        record = self.records[service.fqn]
        handles = [h for i in state.instances for h in i.containers.values()]
        statuses = [h.status() for h in handles]
        failed = next((message for status, message in statuses if status == "FAILED"), None)
        if failed is not None:
            for instance in state.instances:
                record.instance(instance.id, "FAILED")
            self._fail(service, state, failed)
            state.running_since = None
        elif all(status == "DONE" for status, _ in statuses):
            state.status, state.running_since = "DONE", None
        elif state.status == "PENDING" and all(status in ("READY", "DONE") for status, _ in statuses):
            state.status, state.running_since = "RUNNING", now
            for instance in state.instances:
                instance.ready = True
                record.instance(instance.id, "READY")
            record.service("RUNNING")

    def job_outcome(self, job: CatalogObject) -> tuple[str, str] | None:
        """(status, failure) of a job that has ended, None while it runs; ("DROPPED", "") once this job
        object is gone (dropped, even if another job took its name since, or the account was reset).
        A job suspended with its compute pool never runs on (jobs are not resumed): it has FAILED.
        Call under the account lock."""
        state = self.services.get(job.fqn)
        if state is None or self._keys.get(job.fqn) != service_files.service_key(job):
            return "DROPPED", ""
        if state.status in ("SUSPENDING", "SUSPENDED"):
            return "FAILED", "Its compute pool was suspended."
        return (state.status, state.failure) if state.status in ("DONE", "FAILED") else None

    def _refresh_ready(self, state: ServiceState) -> None:
        """The READY instances' addresses changed: the ingress and every container's DNS learn it."""
        ready = tuple(i.ip for i in state.instances if i.ready)
        if ready != state.ready_addresses:
            state.ready_addresses = ready
            self._publish_hosts()

    def _open_ingress(self, service: CatalogObject, state: ServiceState) -> None:
        if self.ingress is None:
            return
        for endpoint in state.spec.public_endpoints:
            route = IngressRoute(
                service=state.dns_name,
                endpoint=endpoint.name,
                target_host=state.ip,
                target_port=endpoint.port,
                authorize=self._authorizer(service.fqn, endpoint.name),
                upstream_secret=state.ingress_secret,
                targets=_ready_addresses_of(state),
            )
            state.ingress[endpoint.name] = self.ingress.open(route)

    # -- launching (the request itself: launches.py) ------------------------------------------------

    def _launch_request(
        self, service: CatalogObject, state: ServiceState, container: Container, instance: InstanceState
    ) -> ContainerLaunch:
        return self.launches.request(
            service, state, container, instance, key=self._keys[service.fqn], hosts=self.hosts()
        )

    def hosts(self) -> dict[str, tuple[str, ...]]:
        """Every service's fully qualified DNS name -> the addresses of its READY instances (instance
        0's while none is ready: a client that retries finds the service as it comes up).

        Short names are not in it: a container resolves only the short names of its own schema's
        services (``dns.scoped_hosts`` with the launch's ``search_domain``), as on SPCS.
        """
        return {state.dns_name: state.ready_addresses or (state.ip,) for state in self.services.values()}

    # -- ingress authorisation ----------------------------------------------------------------------

    def _authorizer(self, service_fqn: tuple[str, ...], endpoint: str) -> Authorizer:
        def authorize(token: str | None) -> tuple[bool, str | None, str]:
            with self.account.lock:  # decided on the account as it is now (a revoke counts at once)
                state = self.services.get(service_fqn)
                service = (
                    None
                    if state is None
                    else ServiceAccess(
                        service_fqn,
                        self.account.access.owner(ast.SERVICE, service_fqn),
                        state.spec.service_roles,
                    )
                )
                return authorize_endpoint(self.account, self.token_resolver, service, endpoint, token)

        return authorize


def _ready_addresses_of(state: ServiceState) -> Callable[[], tuple[str, ...]]:
    # Read without the account lock: the tick replaces the tuple whole.
    return lambda: state.ready_addresses


def _limit(text: str) -> errors.SnowflakeError:
    # Snowflake documents its service limit, not the error it answers: 54000 is SQL's "program limit
    # exceeded"; the errno is the emulator's own, next to SPCS's 3914xx codes.
    return errors.SnowflakeError(391418, "54000", text)


class NotFound(LookupError):
    """What a control API request names does not exist: an image repository, a running container."""
