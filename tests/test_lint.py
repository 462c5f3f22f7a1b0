"""Static checks that CI runs with the tests: ruff for Python, ESLint for the JupyterLab extension, and
one version for the Python package and the extension."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import automl_agent_jupyter

REPO = Path(__file__).resolve().parents[1]
LAB = REPO / "labextension"


def test_ruff_is_clean():
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    assert ruff, "ruff is not installed: pip install -e '.[test]' (scripts/setup.sh does)"
    proc = subprocess.run([ruff, "check", "--output-format", "concise", "."], cwd=REPO, capture_output=True,
                          text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]


def test_eslint_is_clean_on_the_extension():
    if shutil.which("npm") is None:
        pytest.skip("no npm on this machine: the extension's lint needs Node (scripts/setup.sh installs its tools)")
    eslint = LAB / "node_modules" / ".bin" / "eslint"
    assert eslint.exists(), "the extension's node_modules are missing: run scripts/setup.sh (npm ci in labextension/)"
    proc = subprocess.run([str(eslint), "src"], cwd=LAB, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]


def test_one_version_for_the_package_and_the_extension():
    """The version is written once, in automl_agent_jupyter/__init__.py (pyproject reads it through hatch);
    the extension's package.json and its built copy must say the same."""
    version = automl_agent_jupyter.__version__
    for path in (LAB / "package.json", REPO / "automl_agent_jupyter" / "labextension" / "package.json"):
        assert json.loads(path.read_text())["version"] == version, path
    pyproject = (REPO / "pyproject.toml").read_text()
    assert 'dynamic = ["version"]' in pyproject and 'path = "automl_agent_jupyter/__init__.py"' in pyproject


def test_the_protocol_version_is_the_same_on_both_sides():
    from automl_agent_jupyter.notebook.bridge import PROTOCOL_VERSION

    source = (LAB / "src" / "index.ts").read_text()
    assert f"export const PROTOCOL_VERSION = {PROTOCOL_VERSION};" in source
