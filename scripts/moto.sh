#!/usr/bin/env bash
# Install moto's server (the loopback stand-in for AWS services that tests/support/moto.rs
# starts) from PyPI into a virtualenv under target/, the first time or when the pinned version
# changes, and print the path of its moto_server executable. .ci/run exports that path as
# MOTO_SERVER before `cargo test`; locally the tests also find this venv by themselves.
#
# The version is pinned: tests/eventbridge_moto.rs lists moto's known gaps and fails when moto
# stops having one, so a new moto is taken deliberately (change MOTO_VERSION, run the tests).
set -euo pipefail
cd "$(dirname "$0")/.."
MOTO_VERSION="5.2.5"
venv="target/moto-venv"
server="$venv/bin/moto_server"
installed="$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("moto"))' 2>/dev/null || true)"
if [ ! -x "$server" ] || [ "$installed" != "$MOTO_VERSION" ]; then
  echo "moto: installing moto[server]==$MOTO_VERSION into $venv" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION"
fi
echo "$PWD/$server"
