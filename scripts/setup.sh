#!/usr/bin/env bash
# One-time (idempotent) set-up on a fresh machine: ./.venv with opaudit and its pinned stack,
# plus Debian's chromium + chromedriver for the HTML-report browser tests.
set -euo pipefail
cd "$(dirname "$0")/.."

PY="${PYTHON:-}"
if [ -z "$PY" ]; then
  for c in python3.11 python3; do
    if command -v "$c" >/dev/null && "$c" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then PY="$c"; break; fi
  done
fi
[ -n "$PY" ] || { echo "setup: Python 3.11 is required (TensorFlow 2.21 wheels)" >&2; exit 2; }

[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".[dev]"
# Test oracle only (see the dev extra in pyproject.toml): its declared requirements are GUI and
# training tools the tests never import, so it comes without them.
.venv/bin/python -m pip install -q --disable-pip-version-check --no-deps "pixellib==0.7.1"

if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium chromium-driver >/dev/null
fi
