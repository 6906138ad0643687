#!/usr/bin/env bash
# A Docker engine for the container half (testcontainers, pytest -m docker, milvus-spcs images build):
# - where a daemon already answers (a laptop, a CI runner), changes nothing;
# - otherwise installs Debian's docker.io (and docker-compose where no compose plugin exists, and
#   mmdebstrap for the stand-in bases), then starts dockerd in the background and waits for it.
# A daemon started here can never pull from a remote registry: its proxy is a closed loopback port, so
# a pull fails at once ("proxyconnect tcp: dial tcp 127.0.0.1:9: connect: connection refused") without
# any traffic leaving the machine, and containers get no masquerade route out. Idempotent.
set -euo pipefail

LOG=${MILVUS_SPCS_DOCKERD_LOG:-/var/log/milvus-spcs-dockerd.log}
READY_SECONDS=${MILVUS_SPCS_DOCKERD_READY_SECONDS:-60}
CLOSED_PORT_PROXY=http://127.0.0.1:9  # discard port: nothing listens on it here

say() { printf 'install-docker: %s\n' "$*"; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo "$@"
  else
    say "needs root for: $*" >&2
    say "run it as root: sudo bash scripts/install-docker.sh" >&2
    exit 1
  fi
}

compose_available() {
  docker compose version >/dev/null 2>&1 || command -v docker-compose >/dev/null 2>&1
}

install_packages() {
  local missing=()
  command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
  compose_available || missing+=(docker-compose)
  command -v mmdebstrap >/dev/null 2>&1 || missing+=(mmdebstrap)
  # The emulator's image registry (storage behind its SPCS-style authentication).
  command -v docker-registry >/dev/null 2>&1 || missing+=(docker-registry)
  if [ "${#missing[@]}" -eq 0 ]; then
    return
  fi
  if ! command -v apt-get >/dev/null 2>&1; then
    say "no apt-get here: install ${missing[*]} with this system's package manager" >&2
    exit 1
  fi
  say "installing ${missing[*]} from the distribution's packages"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

engine_answers() { timeout 10 docker info >/dev/null 2>&1; }

start_daemon() {
  say "starting dockerd (log: $LOG; remote pulls refused through the proxy $CLOSED_PORT_PROXY)"
  as_root mkdir -p "$(dirname "$LOG")"
  # setsid: the daemon outlives this script and its terminal; the proxy applies to the daemon's own
  # registry traffic (pulls, pushes); NO_PROXY keeps loopback registries (the emulator's) reachable.
  as_root env HTTP_PROXY="$CLOSED_PORT_PROXY" HTTPS_PROXY="$CLOSED_PORT_PROXY" \
    http_proxy="$CLOSED_PORT_PROXY" https_proxy="$CLOSED_PORT_PROXY" \
    NO_PROXY=localhost,127.0.0.1,::1 no_proxy=localhost,127.0.0.1,::1 \
    setsid dockerd --ip-masq=false >>"$LOG" 2>&1 </dev/null &
  local waited=0
  until engine_answers; do
    if [ "$waited" -ge "$READY_SECONDS" ]; then
      say "dockerd did not answer 'docker info' within ${READY_SECONDS}s; last lines of $LOG:" >&2
      tail -n 30 "$LOG" >&2 || true
      exit 1
    fi
    sleep 1
    waited=$((waited + 1))
  done
  say "dockerd answers after ${waited}s"
}

wait_for_engine() {
  local waited=0
  until engine_answers; do
    if [ "$waited" -ge "$READY_SECONDS" ]; then
      say "the engine did not answer 'docker info' within ${READY_SECONDS}s" >&2
      return 1
    fi
    sleep 1
    waited=$((waited + 1))
  done
}

# Under systemd, the package starts dockerd itself, without the proxy: give its unit the same proxy and
# restart it (not exercised on these machines, which have no systemd).
configure_systemd_daemon() {
  say "systemd runs dockerd: setting its proxy to $CLOSED_PORT_PROXY (docker.service.d/milvus-spcs-proxy.conf)"
  as_root mkdir -p /etc/systemd/system/docker.service.d
  printf '[Service]\nEnvironment="HTTP_PROXY=%s" "HTTPS_PROXY=%s" "NO_PROXY=localhost,127.0.0.1,::1"\n' \
    "$CLOSED_PORT_PROXY" "$CLOSED_PORT_PROXY" |
    as_root tee /etc/systemd/system/docker.service.d/milvus-spcs-proxy.conf >/dev/null
  as_root systemctl daemon-reload
  as_root systemctl restart docker
  wait_for_engine
}

if engine_answers; then
  say "a Docker engine already answers ($(docker version --format '{{.Server.Version}}' 2>/dev/null)); nothing changed"
  if ! compose_available; then
    say "note: no compose (docker compose or docker-compose): pytest -m docker will skip" >&2
  fi
  if ! command -v mmdebstrap >/dev/null 2>&1; then
    say "note: no mmdebstrap: images build --bases local cannot make stand-ins (apt-get install mmdebstrap)" >&2
  fi
  exit 0
fi
command -v docker >/dev/null 2>&1 || say "no docker CLI yet: it comes with docker.io"
install_packages
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
  configure_systemd_daemon
else
  start_daemon
fi
docker version --format 'install-docker: engine {{.Server.Version}}, client {{.Client.Version}}'
