#!/usr/bin/env bash
# Everything a fresh machine needs, in the active Python (or virtualenv):
# - libnss-wrapper (Debian/Ubuntu): resolves SPCS service DNS names inside emulated services;
# - the project with its dev tools (torch comes from the pinned 2.13.0 CPU build);
# - the Snowflake CLI in its own virtualenv, .venvs/snow (it pins an older connector).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! dpkg -s libnss-wrapper >/dev/null 2>&1; then
  if [ "$(id -u)" -eq 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libnss-wrapper
  elif command -v sudo >/dev/null 2>&1; then
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libnss-wrapper
  else
    echo "install libnss-wrapper (apt-get install libnss-wrapper): the SPCS suites need it" >&2
    exit 1
  fi
fi

python -m pip install -e '.[dev]'
bash scripts/install-snow.sh
