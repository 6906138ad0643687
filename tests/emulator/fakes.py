"""Test doubles of the runtime and ingress, for control-plane tests that need no real processes."""

from __future__ import annotations

from dataclasses import dataclass, field

from spcs_emulator.spcs.runtime_api import ContainerLaunch, IngressRoute


@dataclass
class FakeHandle:
    launch: ContainerLaunch
    state: str = "READY"
    restarts: int = 0
    stopped: bool = False

    def status(self) -> tuple[str, str]:
        return self.state, "Running" if self.state == "READY" else "Waiting"

    @property
    def restart_count(self) -> int:
        return self.restarts

    @property
    def last_exit_code(self) -> int | None:
        return None

    @property
    def start_time(self) -> float | None:
        return 0.0

    def logs(self, *, previous: bool = False, lines: int | None = None, timestamps: bool = False) -> str:
        text = f"{'previous' if previous else 'current'} log of {self.launch.container}"
        # As the runtimes stamp each line on arrival (spcs/container_logs.py), at a fixed time here.
        return f"2024-10-22T01:12:29.873896187Z {text}" if timestamps else text

    def crash(self) -> None:
        self.restarts += 1

    def stop(self) -> None:
        self.stopped = True


@dataclass
class FakeRuntime:
    handles: list[FakeHandle] = field(default_factory=list)
    initial_state: str = "READY"

    def launch(self, launch: ContainerLaunch) -> FakeHandle:
        handle = FakeHandle(launch, state=self.initial_state)
        self.handles.append(handle)
        return handle

    def update_hosts(self, hosts: object) -> None:
        pass  # fake containers resolve nothing

    def forget_service(self, service_id: str) -> None:
        pass  # fake containers keep nothing on the host

    def shutdown(self) -> None:
        for handle in self.handles:
            handle.stop()


@dataclass
class FakeIngress:
    routes: dict[str, IngressRoute] = field(default_factory=dict)

    def open(self, route: IngressRoute) -> str:
        self.routes[f"{route.service}/{route.endpoint}"] = route
        return f"127.0.0.1:{40000 + len(self.routes)}"

    def close(self, service: str) -> None:
        self.routes = {k: v for k, v in self.routes.items() if v.service != service}

    def shutdown(self) -> None:
        self.routes.clear()


@dataclass
class FakeJobHandle(FakeHandle):
    """A container that runs until the test ends it: ``finish(0)`` is a job container exiting with code
    0 (DONE), any other code FAILED, as the runtimes report a job's container (ContainerLaunch.job)."""

    exit_code: int | None = None

    def status(self) -> tuple[str, str]:
        if self.exit_code is None:
            return super().status()
        if self.exit_code == 0:
            return "DONE", "Completed successfully"
        return "FAILED", f"Container {self.launch.container} exited with code {self.exit_code}"

    @property
    def last_exit_code(self) -> int | None:
        return self.exit_code

    def finish(self, exit_code: int) -> None:
        self.exit_code = exit_code


@dataclass
class FakeJobRuntime(FakeRuntime):
    """FakeRuntime whose handles are FakeJobHandles (services' and jobs' alike)."""

    jobs: list[FakeJobHandle] = field(default_factory=list)

    def launch(self, launch: ContainerLaunch) -> FakeJobHandle:
        handle = FakeJobHandle(launch, state=self.initial_state)
        self.handles.append(handle)
        self.jobs.append(handle)
        return handle
