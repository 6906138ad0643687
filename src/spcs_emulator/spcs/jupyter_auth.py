"""Jupyter in the emulator answers only its ingress.

On SPCS a container is reachable only through the authenticating ingress; locally its port is on a
loopback address every local process can reach. So the emulator's Jupyter authenticates exactly one
thing: the service's ingress secret in ``INGRESS_SECRET_HEADER``, which the ingress adds after it has
authorised the caller. Login cookies, URL tokens and the login page count for nothing, so an ingress
caller whose access is revoked keeps nothing that works around the ingress.

The secret reaches the server through a 0600 file that its config file (also 0600) reads and removes at
start-up: it is never in argv or an environment, and the kernels the server starts later (same user)
cannot read it. XSRF and Origin checks are Jupyter's own (skipped for header-authenticated requests, as
for any token), and ``allow_remote_access`` stays off: Jupyter's Host check accepts loopback addresses
only (the container's own for probes, the ingress's for callers), no host names.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from spcs_emulator.spcs.runtime_api import INGRESS_SECRET_HEADER

CONFIG_FILE = "jupyter_server_config.py"

_CONFIG = """\
# Written by the SPCS emulator for this container only; see spcs_emulator/spcs/jupyter_auth.py.
import hmac
import os

from jupyter_server.auth.identity import IdentityProvider

_SECRET_FILE = {secret_file!r}
_SECRET = ""
if os.path.exists(_SECRET_FILE):
    with open(_SECRET_FILE, encoding="utf-8") as _file:
        _SECRET = _file.read()
    os.unlink(_SECRET_FILE)


class IngressSecretIdentityProvider(IdentityProvider):
    async def get_user_token(self, handler):
        sent = handler.request.headers.get({header!r}, "")
        if _SECRET and sent and hmac.compare_digest(sent.encode(), _SECRET.encode()):
            return self.generate_anonymous_user(handler)
        return None

    def get_user_cookie(self, handler):
        return None

    def set_login_cookie(self, handler, user):
        pass


c = get_config()  # noqa: F821 (provided by the config loader)
c.ServerApp.identity_provider_class = IngressSecretIdentityProvider
c.IdentityProvider.token = "ingress-only"  # not a credential: get_user_token above ignores it
c.ServerApp.allow_remote_access = False
c.ServerApp.local_hostnames = []
"""


def write_private(path: Path, text: str) -> None:
    """``text`` into ``path``, readable by this user only (the directory too)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    path.chmod(0o600)  # a file that already existed keeps its mode through O_CREAT


def write_ingress_only_config(config_dir: Path, secret_file: Path, secret: str | None) -> None:
    """Jupyter's config (in ``JUPYTER_CONFIG_DIR``) and the secret it reads once; without a secret, a
    random one that nobody knows (the server then answers no one but its readiness probe's ``/api``)."""
    write_private(secret_file, secret or secrets.token_urlsafe(32))
    write_private(
        config_dir / CONFIG_FILE, _CONFIG.format(secret_file=str(secret_file), header=INGRESS_SECRET_HEADER)
    )
