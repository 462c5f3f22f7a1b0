"""Metrics in one place: the agent's scoring and the generated code compute them with the same functions."""
from __future__ import annotations

import inspect

import numpy as np
import pytest

from automl_agent_jupyter import templates
from automl_agent_jupyter.tasks import scoring


def test_the_generated_code_defines_the_agents_metric_functions():
    code = templates.render("common/metrics")
    for fn in (scoring.score_classification, scoring.score_regression):
        assert inspect.getsource(fn).strip() in code
    namespace: dict = {}
    exec(compile(code, "<metrics cell>", "exec"), namespace)  # standalone: no import of the package
    assert namespace["LOWER_IS_BETTER"] == scoring.LOWER_IS_BETTER == ("rmsle", "rmse", "mae", "mse")
    y, p = np.array([0, 1, 1, 0, 1]), np.array([0, 1, 0, 0, 1])
    assert namespace["score_classification"](y, p, 2) == scoring.score_classification(y, p, 2)


def test_rmsle_is_left_out_for_negative_targets_everywhere():
    y, p = np.array([-1.0, 2.0, 3.0]), np.array([0.5, 2.5, 2.0])
    assert "rmsle" not in scoring.score_regression(y, p) and "rmse" in scoring.score_regression(y, p)
    with pytest.raises(ValueError, match="negative targets"):
        scoring.score("rmsle", y, p)
    assert scoring.score("rmsle", np.abs(y), p) == pytest.approx(scoring.score_regression(np.abs(y), p)["rmsle"])


def test_no_template_keeps_its_own_list_of_error_metrics():
    from pathlib import Path

    root = Path(templates.__file__).parent
    for path in root.rglob("*.j2"):
        text = path.read_text()
        assert '"rmsle", "rmse"' not in text, path
        assert "def score_classification" not in text and "def score_regression" not in text, path
