#!/usr/bin/env bash
# The Snowflake CLI pins its own snowflake-connector-python and protobuf, which clash with ours
# (pymilvus needs protobuf 6): it gets a virtualenv of its own, .venvs/snow. Tests find it there.
set -euo pipefail
cd "$(dirname "$0")/.."
SNOW_VERSION=3.30.0  # 3.31.0 pins pip==26.2.2, which the package registry here does not carry
if [ -x .venvs/snow/bin/snow ] && .venvs/snow/bin/snow --version 2>/dev/null | grep -q "$SNOW_VERSION"; then
  echo "snow $SNOW_VERSION already in .venvs/snow"
  exit 0
fi
python -m venv .venvs/snow
.venvs/snow/bin/pip install --quiet "snowflake-cli==$SNOW_VERSION"
.venvs/snow/bin/snow --version
