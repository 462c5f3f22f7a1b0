"""Offline operation-agent debugger: known failure classes -> a concrete repair."""
from __future__ import annotations

import re

from ...schema import Repair


def diagnose(stage: str, error_type: str, error: str, attempt: int, template_source: str, cell_source: str,
             candidates: list[str]) -> Repair:
    """A repair for a failed generated cell, or give_up when no known class matches."""
    msg = f"{error_type}: {error}"
    if error_type in ("ModuleNotFoundError", "ImportError"):
        m = re.search(r"No module named '([\w.]+)'|import of ([\w.]+) halted", error)
        missing = ((m.group(1) or m.group(2)) if m else "").split(".")[0]
        owner = {"lightgbm": "lightgbm", "xgboost": "xgboost"}.get(missing)
        if owner and owner in candidates and len(candidates) > 1:
            return Repair(diagnosis=f"{missing} is not installed in this kernel; dropping the {owner} candidate "
                          "and keeping the others", action="rerender", params={"drop_candidate": owner})
        if owner:
            return Repair(diagnosis=f"{missing} is not installed; replacing it with scikit-learn's "
                          "HistGradientBoosting", action="rerender",
                          params={"replace_candidate": [owner, "hist_gradient_boosting"]})
    if cell_source.strip() != template_source.strip() and attempt == 1:
        return Repair(diagnosis=f"the cell differs from its tested template and raised {msg[:160]}; restoring the "
                      "template's code", action="source", source=template_source)
    if error_type == "NameError" and stage != "setup":
        name = re.search(r"name '(\w+)' is not defined", error)
        return Repair(diagnosis=f"'{name.group(1) if name else '?'}' comes from an earlier cell that has not run in "
                      "this kernel (restart or out-of-order run); running the earlier stages first",
                      action="rerun_from", params={"stage": "setup"})
    if error_type == "MemoryError" or "Unable to allocate" in error:
        return Repair(diagnosis="out of memory; training on a 50% subsample of the train split", action="rerender",
                      params={"max_train_fraction": 0.5})
    if "least populated class" in error or "The test_size" in error and "classes" in error:
        return Repair(diagnosis="a class is too small to stratify; splitting without stratification",
                      action="rerender", params={"stratify": False})
    if error_type == "ValueError" and re.search(r"could not convert string to float|non-numeric|Cannot use median", error):
        return Repair(diagnosis="a numeric column holds text; treating mixed columns as categorical",
                      action="rerender", params={"mixed_as_categorical": True})
    if stage == "train" and len(candidates) > 1 and attempt <= len(candidates) - 1:
        culprit = next((c for c in candidates if c in msg.lower()), candidates[-1])
        return Repair(diagnosis=f"training raised {msg[:160]}; dropping the {culprit} candidate", action="rerender",
                      params={"drop_candidate": culprit})
    return Repair(diagnosis=f"no known repair for {msg[:200]}", action="give_up")
