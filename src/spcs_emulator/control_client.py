"""A typed client of the emulator's control API (control_api.py): what the harness and tests call
instead of posting JSON by hand. Standard library only: the harness may drive an emulator that another
process serves (``milvus-spcs emulator``), with nothing of it imported."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# The header that carries the admin password (control_api.py checks it).
HEADER = "X-Emulator-Admin-Password"


class ControlError(RuntimeError):
    """The control API refused a request: ``status`` is the HTTP status, ``error`` its message."""

    def __init__(self, route: str, status: int, error: str) -> None:
        super().__init__(f"{route} failed ({status}): {error}")
        self.status = status
        self.error = error


@dataclass(frozen=True)
class PublishedImage:
    image: str  # /<db>/<schema>/<repository>/<name>:<tag>
    digest: str
    runtime: str


class ControlClient:
    """The control API of the emulator at ``host``:``port``, authorised by its admin password."""

    def __init__(self, host: str, port: int, admin_password: str, *, timeout: float = 60.0) -> None:
        self.base = f"http://{host}:{port}/_emulator"
        self._password = admin_password
        self.timeout = timeout

    def __repr__(self) -> str:  # never the password
        return f"ControlClient({self.base!r})"

    def reset(self) -> None:
        """Back to a fresh account; every service's processes stop."""
        self._post("reset", {})

    def fail_statement(
        self,
        pattern: str,
        *,
        message: str | None = None,
        errno: int | None = None,
        sqlstate: str | None = None,
        times: int | None = None,
    ) -> None:
        """The next ``times`` statements matching ``pattern`` (a regex) fail with this error; what is left
        out takes the emulator's defaults (``Faults.fail_statement``)."""
        options = {"message": message, "errno": errno, "sqlstate": sqlstate, "times": times}
        body = {"pattern": pattern, **{key: value for key, value in options.items() if value is not None}}
        self._post("faults/statement", body)

    def fail_service_start(self, service: str, reason: str = "image") -> None:
        """The next start of ``service`` FAILS: reason ``image``, ``capacity`` or a message."""
        self._post("faults/service-start", {"service": service, "reason": reason})

    def crash_container(self, service: str, container: str, instance: int = 0) -> None:
        """Kill the process of ``container`` in ``instance`` of ``service`` (the runtime restarts it)."""
        self._post(
            "faults/crash-container", {"service": service, "container": container, "instance": instance}
        )

    def publish_image(self, image: str, runtime: str, files: Path | None = None) -> PublishedImage:
        """Publish ``image`` (``<repository_url>/<name>:<tag>``), run by the process runtime's stand-in
        ``runtime``, with ``files`` as what the container sees in its working directory."""
        body = {"image": image, "runtime": runtime, "files": str(files.resolve()) if files else None}
        answer = self._post("images", body)
        return PublishedImage(str(answer["image"]), str(answer["digest"]), str(answer["runtime"]))

    def _post(self, route: str, body: dict[str, Any]) -> dict[str, Any]:
        request = urllib.request.Request(
            f"{self.base}/{route}",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json", HEADER: self._password},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                answer: dict[str, Any] = json.load(response)
                return answer
        except urllib.error.HTTPError as exc:
            try:
                error = str(json.load(exc).get("error", exc.reason))
            except ValueError:
                error = str(exc.reason)
            raise ControlError(route, exc.code, error) from None
