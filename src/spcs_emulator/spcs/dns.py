"""Service DNS for unmodified clients inside the emulated containers, without editing /etc/hosts.

Mechanism: nss_wrapper (Debian package ``libnss-wrapper``). Every container process is started with
``LD_PRELOAD=libnss_wrapper.so`` and ``NSS_WRAPPER_HOSTS=<a hosts file>`` listing each service's DNS
name (``milvus.a1b2.svc.spcs.internal``) and short name (``milvus``) with its loopback address. The
wrapper answers ``getaddrinfo``/``gethostbyname`` from that file and passes every other name to the
system resolver, so ``localhost`` and real hosts still resolve. It needs no root and changes nothing
outside the container's own processes; children (Jupyter kernels) inherit it through the environment.

Scope: as on SPCS, where a service's short name resolves only within its schema, each container
gets the fully qualified names of every service (``<service>.<schema id>.svc.spcs.internal``) but the
short names only of the services in its own schema's domain (the launch's ``search_domain``, see
:func:`scoped_hosts`). Two runs in two schemas may both have a ``milvus``: each reaches its own.

Limits:
- Only dynamically linked programs that resolve through libc see the names: Python's ``socket``,
  ``requests``, curl. Statically linked programs, Go's own resolver (unless ``GODEBUG=netdns=cgo``) and
  resolvers that speak DNS themselves do not. gRPC's default c-ares resolver is one of those, hence
  ``GRPC_DNS_RESOLVER=native`` (pymilvus rides on gRPC).
- There is no real search domain: a short name resolves only because it is listed in the file.
- Processes that scrub ``LD_PRELOAD`` from their children's environment lose the names.
- The file is rewritten in place (atomic rename) when services come and go; nss_wrapper rereads a
  changed file on the next lookup, but clients cache connections and sometimes answers.

Fallback when the library is missing: the same mapping is still exported as JSON in
``SPCS_EMULATOR_HOSTS`` and as a hosts file in ``SPCS_EMULATOR_HOSTS_FILE``; only clients that read
those (none unmodified) can use them, so service-to-service DNS then does not work for real clients.
``dns_environment`` says which case applies in ``SPCS_EMULATOR_DNS`` (``nss_wrapper`` or ``none``).
"""

from __future__ import annotations

import glob
import grp
import json
import os
import pwd
import subprocess
from collections.abc import Mapping
from pathlib import Path

LIBRARY_NAME = "libnss_wrapper.so"
APT_PACKAGE = "libnss-wrapper"
HOSTS_JSON_ENV = "SPCS_EMULATOR_HOSTS"
HOSTS_FILE_ENV = "SPCS_EMULATOR_HOSTS_FILE"
MECHANISM_ENV = "SPCS_EMULATOR_DNS"

_LOOPBACK_LINES = ("127.0.0.1 localhost", "::1 localhost ip6-localhost ip6-loopback")


def nss_wrapper_library() -> Path | None:
    """Where ``libnss_wrapper.so`` is installed, or None (then service DNS falls back, see module doc)."""
    patterns = (
        f"/usr/lib/*/{LIBRARY_NAME}",
        f"/usr/lib/{LIBRARY_NAME}",
        f"/usr/lib64/{LIBRARY_NAME}",
        f"/usr/local/lib/{LIBRARY_NAME}",
        f"/usr/lib/*/{LIBRARY_NAME}.*",
    )
    for pattern in patterns:
        for found in sorted(glob.glob(pattern)):
            return Path(found)
    return _from_dpkg()


def _from_dpkg() -> Path | None:
    """Ask dpkg for the package's files (covers an unusual multiarch directory)."""
    try:
        listing = subprocess.run(
            ["dpkg", "-L", APT_PACKAGE], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    for line in listing.stdout.splitlines():
        path = Path(line.strip())
        if path.name.startswith(LIBRARY_NAME) and path.is_file():
            return path
    return None


# A name's address, or its addresses (a service with several READY instances answers with each).
Addresses = str | tuple[str, ...]


def _each(addresses: Addresses) -> tuple[str, ...]:
    return (addresses,) if isinstance(addresses, str) else addresses


def scoped_hosts(hosts: Mapping[str, Addresses], search_domain: str) -> dict[str, Addresses]:
    """``hosts`` plus the short name of every name inside ``search_domain`` (none when it is empty).

    A name listed in ``hosts`` keeps its own addresses; a short name never comes from another domain.
    """
    out = dict(hosts)
    suffix = "." + search_domain.lower().strip(".")
    if suffix == ".":
        return out
    for name, ip in hosts.items():
        label, _, domain = name.lower().partition(".")
        if "." + domain == suffix:
            out.setdefault(label, ip)
    return out


def hosts_file_text(hosts: Mapping[str, Addresses]) -> str:
    """A hosts(5) file: loopback names first, then one line per address with all its names (a name
    with several addresses is on several lines; nss_wrapper answers with all of them)."""
    by_ip: dict[str, list[str]] = {}
    for name, addresses in sorted(hosts.items()):
        for ip in _each(addresses):
            by_ip.setdefault(ip, []).append(name.lower())
    lines = [*_LOOPBACK_LINES, *(f"{ip} {' '.join(names)}" for ip, names in sorted(by_ip.items()))]
    return "\n".join(lines) + "\n"


def _write(path: Path, text: str) -> None:
    """Write via a temporary file and rename, so a process starting meanwhile never reads half a file."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def _passwd_text() -> str:
    # nss_wrapper serves users and groups from its own files once they are set; copying the system's
    # entries keeps user lookups (``~``, getpass.getuser()) exactly as they were.
    return "".join(
        f"{p.pw_name}:x:{p.pw_uid}:{p.pw_gid}:{p.pw_gecos}:{p.pw_dir}:{p.pw_shell}\n" for p in pwd.getpwall()
    )


def _group_text() -> str:
    return "".join(f"{g.gr_name}:x:{g.gr_gid}:{','.join(g.gr_mem)}\n" for g in grp.getgrall())


def dns_environment(
    hosts: Mapping[str, Addresses], workdir: Path, *, use_nss_wrapper: bool = True, search_domain: str = ""
) -> dict[str, str]:
    """Environment variables that make ``hosts`` (name -> ip) resolve inside processes started with them.

    Names in ``search_domain`` also resolve by their short name (:func:`scoped_hosts`). Writes
    ``hosts``, ``passwd`` and ``group`` files into ``workdir``. ``use_nss_wrapper=False`` forces the
    fallback (tests of it; or when preloading a library into the processes is unwanted).
    """
    hosts = scoped_hosts(hosts, search_domain)
    workdir.mkdir(parents=True, exist_ok=True, mode=0o700)
    hosts_file = workdir / "hosts"
    _write(hosts_file, hosts_file_text(hosts))
    env = {
        HOSTS_JSON_ENV: json.dumps(dict(sorted(hosts.items()))),
        HOSTS_FILE_ENV: str(hosts_file),
        MECHANISM_ENV: "none",
        # gRPC's own (c-ares) resolver bypasses libc; the native one goes through getaddrinfo.
        "GRPC_DNS_RESOLVER": "native",
    }
    library = nss_wrapper_library() if use_nss_wrapper else None
    if library is None:
        return env
    passwd_file, group_file = workdir / "passwd", workdir / "group"
    _write(passwd_file, _passwd_text())
    _write(group_file, _group_text())
    preload = [str(library), *(p for p in os.environ.get("LD_PRELOAD", "").split() if p)]
    env.update(
        {
            "LD_PRELOAD": " ".join(dict.fromkeys(preload)),
            "NSS_WRAPPER_HOSTS": str(hosts_file),
            "NSS_WRAPPER_PASSWD": str(passwd_file),
            "NSS_WRAPPER_GROUP": str(group_file),
            MECHANISM_ENV: "nss_wrapper",
        }
    )
    return env
