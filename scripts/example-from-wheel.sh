#!/usr/bin/env bash
# The harness as a user gets it: build milvus-spcs's wheel, install it into a fresh virtualenv (nothing of
# this checkout on its path), and run the example project's own tests with it, as a pytest plugin, against
# the self-started emulator (examples/team-handbook: its own collection, questions and notebook).
# Usage: bash scripts/example-from-wheel.sh [pytest args...]   (extra args go to the example's pytest)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# A copy of the checkout's tracked files: an in-tree build would reuse a stale build/ of this checkout.
git ls-files -z | tar --null -T - -cf - | tar -xf - -C "$work" --one-top-level=src-copy
python -m pip wheel -q --no-deps -w "$work/dist" "$work/src-copy"
python -m venv "$work/venv"
# --no-compile: byte-compiling torch and the rest at install costs a minute; imports compile what they use.
"$work/venv/bin/python" -m pip install -q --no-compile "$work"/dist/milvus_spcs-*.whl
# What the example imports must be the wheel's, not this checkout's (an editable install elsewhere).
"$work/venv/bin/python" -c 'import sys, milvus_spcs, spcs_emulator
for m in (milvus_spcs, spcs_emulator):
    assert m.__file__.startswith(sys.prefix), f"{m.__name__} comes from {m.__file__}, not the fresh venv"'
echo "example-from-wheel: $("$work/venv/bin/python" -m pip --version | cut -d' ' -f1-2) in a fresh venv;" \
  "milvus-spcs from $(basename "$work"/dist/milvus_spcs-*.whl)"

cd "$repo/examples/team-handbook"
# No PYTHONPATH, and the venv's own python: the checkout's sources cannot leak in.
env -u PYTHONPATH "$work/venv/bin/python" -m pytest -p no:cacheprovider "$@"
