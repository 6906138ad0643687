"""The emulated account's image registry: storage (``oci_storage``), front (``registry_front``), the
decisions (``registry_auth``), and what a push changes in the account (the repository's images).

The emulator serves :meth:`EmulatedRegistry.app` on loopback; its ``host:port`` becomes the host of
every ``repository_url`` (a loopback registry needs no TLS: the Docker daemon trusts 127.0.0.0/8).
"""

from __future__ import annotations

import dataclasses
import logging
import secrets
import shutil
from pathlib import Path

from aiohttp import web

from spcs_emulator.account.context import Context
from spcs_emulator.account.object_kinds import ObjectKind
from spcs_emulator.account.objects import CatalogObject
from spcs_emulator.account.state import AccountState
from spcs_emulator.paths import fqn_dir
from spcs_emulator.spcs import images, pushed_images
from spcs_emulator.spcs.identity import SessionResolver
from spcs_emulator.spcs.oci_storage import DistributionStore
from spcs_emulator.spcs.processes import Lifeline
from spcs_emulator.spcs.registry_auth import Action, Decision, authenticate, authorize_repository
from spcs_emulator.spcs.registry_front import RegistryFront
from spcs_emulator.sql import ast

log = logging.getLogger(__name__)


class EmulatedRegistry:
    def __init__(
        self,
        account: AccountState,
        sessions: SessionResolver,
        lifeline: Lifeline,
        binary: str,
        directory: Path,
    ) -> None:
        self._account = account
        self._sessions = sessions
        self.store = DistributionStore(directory, lifeline, binary)
        self._files = directory / "files"
        # What the platform pulls with (the docker runtime): never a user's, never accepted for a push.
        self.platform_credentials = ("0platform", secrets.token_urlsafe(32))
        self.front = RegistryFront(
            self.store, self.authorize, self.record_push, realm=f"{account.name} registry"
        )

    def start(self) -> EmulatedRegistry:
        self.store.start()
        return self

    def stop(self) -> None:
        self.store.stop()

    def forget_repository(self, repository: tuple[str, ...]) -> None:
        """An image repository was dropped: its layers and tags go too (a repository created again
        under the same name starts empty, and nothing pulls the old images by tag or digest)."""
        stored = self.store.directory / "storage/docker/registry/v2/repositories"
        shutil.rmtree(stored.joinpath(*(p.lower() for p in repository)), ignore_errors=True)
        shutil.rmtree(fqn_dir(self._files, tuple(p.lower() for p in repository)), ignore_errors=True)

    def reset(self) -> None:
        """The account was reset: no repository is left, so no image either."""
        shutil.rmtree(self.store.directory / "storage/docker/registry/v2/repositories", ignore_errors=True)
        shutil.rmtree(self._files, ignore_errors=True)

    def repository_kind(self, kind: ObjectKind) -> ObjectKind:
        """``kind`` (the account's image repository kind) whose DROP also empties the registry."""
        previous = kind.on_drop

        def on_drop(ctx: Context, obj: CatalogObject) -> None:
            if previous is not None:
                previous(ctx, obj)
            self.forget_repository(obj.fqn)

        return dataclasses.replace(kind, on_drop=on_drop)

    def app(self) -> web.Application:
        return self.front.app()

    def authorize(
        self, repository: tuple[str, str, str] | None, action: Action, credentials: tuple[str, str] | None
    ) -> Decision:
        """``repository`` None: only who is asking (``GET /v2/``, ``/login``)."""
        if credentials is not None and credentials[0] == self.platform_credentials[0]:
            if not secrets.compare_digest(credentials[1], self.platform_credentials[1]):
                return Decision(401, None, "the platform's credential is wrong")
            if action != "pull":
                return Decision(403, "the platform", "the platform pulls only")
            return Decision(200, "the platform", "platform pull")
        with self._account.lock:  # decided on the account as it is now
            if repository is None:
                who = authenticate(self._account, self._sessions, credentials)
                return who if isinstance(who, Decision) else Decision(200, who[0], "authenticated")
            return authorize_repository(self._account, self._sessions, repository, action, credentials)

    def record_push(self, repository: tuple[str, str, str], image: str, tag: str, digest: str) -> None:
        """List a pushed tag in its repository, with what the process runtime needs to stand in for it."""
        path = "/".join(p.lower() for p in repository) + f"/{image}"
        pushed = pushed_images.describe(self.store, path, digest or tag)
        runtime = pushed.labels.get(pushed_images.RUNTIME_LABEL)
        ref = images.ImageRef(repository, image, tag)
        files = None
        if runtime == "jupyter":  # the notebook in the image's working directory
            files = images.files_dir(self._files, ref)
            shutil.rmtree(files, ignore_errors=True)
            count = pushed_images.extract_working_dir(self.store, path, pushed, files)
            log.info("pushed %s:%s: %d files from %s", path, tag, count, pushed.working_dir)
        with self._account.lock:
            repo = self._account.catalog.get(ast.IMAGE_REPOSITORY, repository)
            if repo is None:  # dropped while the push ran
                return
            images.record_push(
                repo, ref, digest=pushed.digest, platform=pushed.platform, runtime=runtime, files=files
            )
