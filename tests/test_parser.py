"""The offline prompt agent on the paper's own phrasings, matched against real headers."""
from __future__ import annotations

import pytest
from shared_data import dataset

from automl_agent_jupyter.brains.offline import parser as P
from automl_agent_jupyter.tasks import peek_data


@pytest.mark.parametrize("text,name,value", [
    ("I need an F1 of at least 0.95", "f1", 0.95),
    ("with at least 0.98 accuracy", "accuracy", 0.98),
    ("I need 98% accuracy", "accuracy", 0.98),
    ("RMSLE less than 1.0", "rmsle", 1.0),
    ("a Rand index at least 0.75", "rand_index", 0.75),
    ("report the F1 score", "f1", None),
    ("weighted F1 of at least 0.9", "f1_weighted", 0.9),
])
def test_metrics_and_thresholds(text, name, value):
    metrics = P.find_metrics(text)
    assert metrics[0].name == name
    assert metrics[0].value == value


@pytest.mark.parametrize("text,name,value,unit", [
    ("training time does not exceed 30 minutes", "training_time", 1800, "s"),
    ("under 5 milliseconds per instance", "inference_latency", 5, "ms"),
    ("predictions under 5 ms each", "inference_latency", 5, "ms"),
    ("inference within 5 seconds on the test set", "inference_time_total", 5, "s"),
    ("at most 200 million parameters", "parameters", 200e6, "count"),
    ("a model size under 50 MB", "model_size", 50, "MB"),
    # limits in words
    ("the search can't run longer than 45 minutes", "training_time", 2700, "s"),
    ("training under three quarters of an hour", "training_time", 2700, "s"),
    ("the entire batch of 10,000 rows must be scored within 3 seconds", "inference_time_total", 3, "s"),
    ("a small network with fewer than 5 thousand weights", "parameters", 5000, "count"),
])
def test_complexity_limits(text, name, value, unit):
    found = {c.name: c for c in P.find_complexity(text)}
    assert found[name].value == pytest.approx(value)
    assert found[name].unit == unit


def test_models_clusters_splits():
    assert [m.name for m in P.find_models("potentially XGBoost or LightGBM")] == ["xgboost", "lightgbm"]
    assert P.find_n_clusters("segment the customers into eight groups") == 8
    assert P.find_n_clusters("find 3 clusters") == 3
    assert P.find_split("use an 80/10/10 split") == {"train": 0.8, "valid": 0.1, "test": 0.1}
    assert P.find_split("use 20% for testing") == {"test": 0.2}


@pytest.mark.parametrize("path,instruction,task,target", [
    ("banana_quality/banana_quality.csv", "Classify banana quality as Good or Bad", "tabular_classification",
     "Quality"),
    ("crab_age/CrabAgePrediction.csv", "Build a model to predict the age of crabs", "tabular_regression", "Age"),
    ("smoker_status/smoker_status_biosignals.csv",
     "Cluster the patients into two groups and evaluate against the smoking labels", "tabular_clustering",
     "smoking"),
    ("software_defects/jm1.csv", "Predict whether a module has defects", "tabular_classification", "defects"),
    ("mfeat_factors/mfeat_factors.csv", "Classify each row's digit class", "tabular_classification", "class"),
])
def test_task_and_target_from_real_headers(path, instruction, task, target):
    data = dataset(path)
    req = P.parse(instruction, peek_data(data), data)
    assert req.task == task
    assert req.target == target
    assert req.dataset[0].path == data


def test_non_ml_detection():
    assert not P.is_ml_request("hello, how are you today?")
    assert P.is_ml_request("classify these rows")


@pytest.mark.parametrize("text,expected", [
    ("under 5 ms per prediction on the test split", {"inference_latency": 5}),
    ("Training must finish within 60 seconds. Each prediction must take under 10 ms.",
     {"training_time": 60, "inference_latency": 10}),
    ("predict the next 24 hours", {}),
])
def test_complexity_stays_in_its_sentence(text, expected):
    assert {c.name: c.value for c in P.find_complexity(text)} == expected


def test_threshold_after_a_long_clause():
    found = P.find_metrics("the Rand index against the smoking column must be at least 0.55")
    assert found[0].name == "rand_index" and found[0].value == 0.55


@pytest.mark.parametrize("text,expected", [
    # written by another helper for the wide benchmark, before it knew this parser: no number is a threshold
    ("Predict the arrival delay in minutes of flights from New York in 2013 (the arr_delay column) and report "
     "the RMSE.", {"rmse": None}),
    ("Classify the cells as PS or WS (the class column: poorly or well outlined by the imaging software) from their "
     "56 morphology measurements, and report the F1 score.", {"f1": None}),
    ("Predict whether a survey respondent voted for Trump in 2016 (the votetrump column, 1 or 0) and report the F1 "
     "score.", {"f1": None}),
    ("at least 98% accuracy", {"accuracy": 0.98}),
    ("an accuracy that should be no lower than 0.9", {"accuracy": 0.9}),
])
def test_only_numbers_that_bound_a_metric_are_thresholds(text, expected):
    assert {m.name: m.value for m in P.find_metrics(text)} == expected
