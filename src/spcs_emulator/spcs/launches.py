"""What a container is started with: the ContainerLaunch the control plane hands its runtime.

The control plane decides which container of which instance starts and when (control.py); this module
turns the spec's container, the published image, the secrets its owner may read and the platform's
variables into the runtime's request, and refuses (:class:`LaunchError`, the service FAILS) what cannot
start: an image never published or for another platform, an image without a stand-in for the process
runtime, a secret the owner may not read. It reads the account, never changes it.

Each container is started with what SPCS gives a container: the spec's env and secrets, the platform's
``SNOWFLAKE_*`` variables (:meth:`Launches.platform_environment`) and a session token file at
``/snowflake/session/token`` (written below the container's stand-in root; the runtime exports its
directory as ``SPCS_SECRET_DIR_SNOWFLAKE_SESSION``). The token is random and opaque: on SPCS it is an
OAuth token of the service user, accepted by a login with ``authenticator=oauth``. The emulator has no
service users and no OAuth login, so the token authenticates nothing here; it exists so that code
reading the file finds one, never as a credential of the emulator.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping

from spcs_emulator.account.objects import CatalogObject
from spcs_emulator.account.state import AccountState
from spcs_emulator.spcs import images, service_files
from spcs_emulator.spcs.dns import Addresses
from spcs_emulator.spcs.lifecycle import InstanceState, ServiceState
from spcs_emulator.spcs.runtime_api import ContainerLaunch, EndpointSpec
from spcs_emulator.spcs.spec import Container, SecretMount
from spcs_emulator.sql import ast

SESSION_TOKEN_DIR = "/snowflake/session"
SESSION_TOKEN_FILE = "token"


class LaunchError(Exception):
    """A container cannot start (image never published, secret missing): the service FAILS."""


class Launches:
    """Builds the runtime's requests from the account as it is now (call under the account lock).

    ``runs_images``: the runtime runs the pushed images themselves (docker), so an image needs no
    stand-in label. ``snowflake_endpoint``: where containers reach this emulator's SQL API, known once
    it listens (the Emulator sets it before the control plane starts).
    """

    def __init__(self, account: AccountState, *, runs_images: bool = False) -> None:
        self.account = account
        self.runs_images = runs_images
        self.snowflake_endpoint: tuple[str, int] | None = None

    def request(
        self,
        service: CatalogObject,
        state: ServiceState,
        container: Container,
        instance: InstanceState,
        *,
        key: str,
        hosts: Mapping[str, Addresses],
    ) -> ContainerLaunch:
        """The launch of ``container`` in ``instance`` of ``service`` (its object key ``key``); ``hosts``:
        the service DNS names and addresses now."""
        ref = images.parse_image(container.image)
        repo = self.account.catalog.get(ast.IMAGE_REPOSITORY, ref.repository)
        published = images.images_of(repo).get(ref.key) if repo is not None else None
        if published is None:
            raise LaunchError(f"Failed to pull image {container.image}: image not found in the repository.")
        if published.platform != "linux/amd64":
            # SPCS runs linux/amd64 images only (reference/pitfalls.md §1.3).
            raise LaunchError(
                f"Failed to pull image {container.image}: platform {published.platform} is not supported; "
                "build it for linux/amd64."
            )
        if published.runtime is None and not self.runs_images:
            raise LaunchError(
                f"Image {container.image} has no stand-in for the process runtime (its image carries no "
                "io.milvus-spcs.runtime label); run it with the emulator's docker runtime."
            )
        pull_reference = None
        if published.pushed:
            path = "/".join(p.lower() for p in ref.repository)
            pull_reference = f"{self.account.registry_host}/{path}/{ref.name}@{published.digest}"
        env = {**self.platform_environment(service), **container.env}
        secret_files: dict[str, dict[str, str]] = {}
        for mount in container.secrets:
            values = self._secret_values(service, mount)
            if mount.env_var:
                env[mount.env_var] = values.get(mount.key or "", "") or ""
            else:
                secret_files[mount.directory or "/"] = {k: v for k, v in values.items() if v is not None}
        secret_files[SESSION_TOKEN_DIR] = {SESSION_TOKEN_FILE: secrets.token_urlsafe(32)}  # see module doc
        shared = {v.name for v in state.spec.volumes if v.source == "stage"}  # a stage is one for all
        volumes = {
            path: service_files.volume_dir(
                self.account.state_dir, key, name, None if name in shared else instance.id
            )
            for name, path in container.mounts.items()
        }
        return ContainerLaunch(
            service=".".join(service.fqn),
            service_id=key,
            instance_id=instance.id,
            container=container.name,
            runtime=published.runtime,
            image=container.image,
            env=env,
            secret_files=secret_files,
            command=container.command,
            args=container.args,
            endpoints=tuple(EndpointSpec(e.name, e.port, e.protocol, e.public) for e in state.spec.endpoints),
            volumes=volumes,
            readiness=container.readiness,
            ip=instance.ip,
            hosts=hosts,
            dns_name=state.dns_name,
            log_dir=service_files.log_dir(self.account.state_dir, key, container.name),
            files=published.files,
            ingress_secret=state.ingress_secret,
            search_domain=state.dns_name.split(".", 1)[1],
            pull_reference=pull_reference,
            cpu_limit=container.cpu_limit,
            memory_limit=container.memory_limit,
            job=state.job,
        )

    def platform_environment(self, service: CatalogObject) -> dict[str, str]:
        """The variables SPCS sets in every container: the account, where its SQL API is, the service.

        ``SNOWFLAKE_HOST``/``SNOWFLAKE_PORT`` are this emulator's (plain http, hence
        ``SNOWFLAKE_PROTOCOL``, which SPCS leaves unset for https).
        """
        database, schema, name = service.fqn
        env = {
            "SNOWFLAKE_ACCOUNT": self.account.name,
            "SNOWFLAKE_DATABASE": database,
            "SNOWFLAKE_SCHEMA": schema,
            "SNOWFLAKE_SERVICE_NAME": name,
        }
        if self.snowflake_endpoint is not None:
            host, port = self.snowflake_endpoint
            env |= {"SNOWFLAKE_HOST": host, "SNOWFLAKE_PORT": str(port), "SNOWFLAKE_PROTOCOL": "http"}
        return env

    def _secret_values(self, service: CatalogObject, mount: SecretMount) -> dict[str, str | None]:
        """The values, while the service's owner role may READ the secret (a revoke takes effect at the
        next start, as on SPCS)."""
        fqn = mount.fqn(service.fqn)
        secret = self.account.catalog.get(ast.SECRET, fqn)
        access = self.account.access
        owner_roles = access.closure([access.owner(ast.SERVICE, service.fqn) or ""])
        if secret is None or not access.holds(owner_roles, ast.SECRET, fqn, "READ"):
            raise LaunchError(f"Secret '{'.'.join(fqn)}' does not exist or not authorized.")
        return dict(secret.properties["_VALUES"])
