"""Where the prebuilt JupyterLab extension lives inside this package.

Re-export ``_jupyter_labextension_paths`` from the package ``__init__`` so that
``jupyter labextension develop`` finds it; normal installs use the wheel's shared-data copy in
``share/jupyter/labextensions/automl-agent-jupyter``.
"""

from __future__ import annotations

LABEXTENSION_NAME = "automl-agent-jupyter"


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    return [{"src": "labextension", "dest": LABEXTENSION_NAME}]
