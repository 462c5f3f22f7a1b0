"""automl-agent-jupyter: AutoML-Agent (ICML'25) as a JupyterLab/IPython extension.

Importing the package is cheap: the pipeline, widgets and magics load on first use.
"""
from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["AutoMLAgent", "Run", "__version__", "load_ipython_extension", "unload_ipython_extension"]


def __getattr__(name: str):
    if name in ("AutoMLAgent", "Run"):
        from . import api

        return getattr(api, name)
    raise AttributeError(name)


def load_ipython_extension(ipython) -> None:
    """%load_ext automl_agent_jupyter"""
    from .agents.model import warm_up_in_background as warm_up_probes
    from .brains.offline.words import warm_up_in_background
    from .notebook.magic import load

    load(ipython)
    warm_up_in_background()  # the prompt agent's word tables load while the first cell is written
    warm_up_probes()  # and the model agent's probe libraries (scikit-learn, LightGBM, XGBoost)


def unload_ipython_extension(ipython) -> None:
    from .notebook.magic import unload

    unload(ipython)


from .labextension_paths import _jupyter_labextension_paths  # noqa: E402,F401
