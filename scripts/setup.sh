#!/usr/bin/env bash
# Set up a fresh machine: a virtual environment in .venv with the package, its test tools and (where apt
# is available) Debian's Chromium for the browser tests. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then "$PY" -m venv .venv; fi
.venv/bin/pip install -q --upgrade pip
# CPU build of torch, pinned: an open range pulls a multi-GB CUDA build (users with GPUs bring their own).
.venv/bin/pip install -q "torch==2.13.0"
.venv/bin/pip install -q -e ".[test,deep,cluster]"
# The extension's lint tools (tests/test_lint.py): its built assets are committed, so only lint needs Node.
if command -v npm >/dev/null 2>&1; then
  (cd labextension && npm ci --no-audit --no-fund --loglevel=error) || echo "setup: npm ci failed; the extension lint test will fail" >&2
fi
if ! command -v chromium >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null) \
    || echo "setup: could not install chromium; browser tests will be skipped" >&2
fi
