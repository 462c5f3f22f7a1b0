"""The benchmark suite: one entry per dataset, each with two instructions in the paper's style.

* ``cf`` (constraint-free): the task and the metric, nothing else.
* ``ca`` (constraint-aware): a metric target plus a time / latency / size limit, as in the paper's
  constraint-aware prompts ("at least 0.98 accuracy", "under 5 ms per prediction", ...).

``expect`` says how the offline prompt agent should read each instruction (task, target, metric,
targets and limits). The harness compares the parsed requirements with it and flags any row whose
instruction was read differently, so a change to the parser cannot silently change what is measured.

Data lives in ``../shared/datasets/`` beside the clone (override with ``--datasets-dir`` or
``AUTOML_AGENT_DATASETS``); the product never needs it.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SETTINGS = {"cf": "constraint-free", "ca": "constraint-aware"}


@dataclass(frozen=True)
class Entry:
    key: str  # short id used in tables and folder names
    folder: str  # folder under the datasets dir
    data: str  # file (or sub-path) passed as data=...; "" = the folder itself
    task: str  # the task the pipeline should recognise
    metric: str  # the paper's metric for this dataset (what NPS is computed from)
    target: str | None
    instructions: dict[str, str]
    expect_ca: dict[str, Any] = field(default_factory=dict)  # {"targets": {metric: v}, "limits": {name: v}}
    paper_nps_cf: float | None = None  # AutoML-Agent (GPT-4o) constraint-free NPS read from the paper's chart
    paper_name: str = ""  # the dataset's name in the paper, when it is (a stand-in for) one of its datasets
    note: str = ""
    source: Any = None  # registry.Source for the wide bench (a table a package ships); None = ../shared

    @property
    def tabular(self) -> bool:
        return self.task.startswith("tabular")

    @property
    def supervised_tabular(self) -> bool:
        """FLAML and AutoGluon are supervised learners: they apply to tabular classification/regression."""
        return self.task in ("tabular_classification", "tabular_regression")

    def data_path(self, root: str | Path) -> str:
        p = Path(root) / self.folder
        return str(p / self.data if self.data else p)


SUITE: list[Entry] = [
    Entry(
        "banana_quality", "banana_quality", "banana_quality.csv", "tabular_classification", "f1", "Quality",
        {"cf": "Build a model that classifies banana quality as Good or Bad from the fruit's measurements (size, "
               "weight, sweetness, softness, harvest time, ripeness, acidity). Report the F1 score on a held-out "
               "test split.",
         "ca": "Classify banana quality as Good or Bad with an F1 score of at least 0.97. Each prediction must "
               "take under 5 ms, and training must finish within 120 seconds."},
        {"targets": {"f1": 0.97}, "limits": {"inference_latency": 5.0, "training_time": 120.0}},
        paper_nps_cf=0.99, paper_name="Banana Quality"),
    Entry(
        "software_defects", "software_defects", "jm1.csv", "tabular_classification", "f1", "defects",
        {"cf": "Predict whether a software module has defects (the defects column) from its static code "
               "metrics, and report the F1 score.",
         "ca": "Predict whether a software module has defects (the defects column). I need an F1 score of at "
               "least 0.45, a model file no larger than 20 MB and under 10 ms per prediction."},
        {"targets": {"f1": 0.45}, "limits": {"inference_latency": 10.0, "model_size": 20.0}},
        paper_nps_cf=0.67, paper_name="Software Defects",
        note="original NASA JM1 (10,885 rows), not the paper's Kaggle S3E23 synthetic file"),
    Entry(
        "mfeat_factors", "mfeat_factors", "mfeat_factors.csv", "tabular_classification", "f1_weighted", "class",
        {"cf": "Classify handwritten digits into their class (the class column, 10 classes) from the 216 mfeat "
               "profile-correlation features; report the weighted F1.",
         "ca": "Classify handwritten digits into their class (the class column) from the mfeat features with a "
               "weighted F1 of at least 0.97, under 10 ms per prediction, and training in under 180 seconds."},
        {"targets": {"f1_weighted": 0.97}, "limits": {"inference_latency": 10.0, "training_time": 180.0}},
        note="from the paper's SELA comparison, not its main benchmark"),
    Entry(
        "crab_age", "crab_age", "CrabAgePrediction.csv", "tabular_regression", "rmsle", "Age",
        {"cf": "Estimate the age of crabs (the Age column) from their physical measurements and report the "
               "RMSLE on the test split.",
         "ca": "Estimate the age of crabs (the Age column) with an RMSLE of at most 0.18, inference on the whole "
               "test set within 1 second, and a model size under 20 MB."},
        {"targets": {"rmsle": 0.18}, "limits": {"inference_time_total": 1.0, "model_size": 20.0}},
        paper_nps_cf=0.87, paper_name="Crab Age",
        note="original 3,893-row data, not the paper's Kaggle S3E16 synthetic file"),
    Entry(
        "smoker_status", "smoker_status", "smoker_status_biosignals.csv", "tabular_clustering", "rand_index",
        "smoking",
        {"cf": "Cluster the people in this bio-signals dataset into 2 groups and evaluate the clustering with "
               "the Rand index against the smoking column.",
         "ca": "Cluster the people in this bio-signals dataset into 2 groups with a Rand index of at least 0.55 "
               "against the smoking column. Each prediction must take under 5 ms, and training must finish "
               "within 60 seconds."},
        {"targets": {"rand_index": 0.55}, "limits": {"inference_latency": 5.0, "training_time": 60.0}},
        paper_nps_cf=0.52, paper_name="Smoker Status",
        note="original 38,984-row data, not the paper's Kaggle S3E24 synthetic file"),
    # ------------------------------------------------------------------ non-tabular (other modalities)
    Entry(
        "sms_spam", "sms_spam", "SMSSpamCollection.tsv", "text_classification", "accuracy", "Label",
        {"cf": "Classify SMS text messages as spam or ham (the Label column) and report the accuracy.",
         "ca": "Classify SMS text messages as spam or ham (the Label column) with an accuracy of at least 0.97 "
               "and under 20 ms per prediction."},
        {"targets": {"accuracy": 0.97}, "limits": {"inference_latency": 20.0}},
        note="extra text set, not in the paper"),
    Entry(
        "textual_entailment", "textual_entailment_sick", "sick_text1_text2_label.csv", "text_classification",
        "accuracy", "label",
        {"cf": "Classify the textual entailment relation between the sentence pairs text1 and text2 into the "
               "label column (0 neutral, 1 contradiction, 2 entailment) and report the accuracy.",
         "ca": "Classify the textual entailment relation between the sentence pairs text1 and text2 into the "
               "label column with an accuracy of at least 0.80 and under 50 ms per prediction."},
        {"targets": {"accuracy": 0.80}, "limits": {"inference_latency": 50.0}},
        paper_nps_cf=0.81, paper_name="Textual Entailment", note="SICK corpus as a stand-in"),
    Entry(
        "mnist", "mnist_test_images", "mnist_test_10k.npz", "image_classification", "accuracy", None,
        {"cf": "Classify these handwritten digit images (28x28 grayscale, 10 classes) and report the accuracy.",
         "ca": "Classify these handwritten digit images (10 classes) with an accuracy of at least 0.97, a model "
               "size under 50 MB and under 10 ms per prediction."},
        {"targets": {"accuracy": 0.97}, "limits": {"model_size": 50.0, "inference_latency": 10.0}},
        note="extra image set standing in for Butterfly / Shopee-IET"),
    Entry(
        "etth1", "etth1_timeseries", "ETTh1.csv", "time_series_forecasting", "rmsle", "OT",
        {"cf": "Forecast the oil temperature OT of this hourly electricity transformer time series "
               "(INPUT_SEQ_LEN=96, PRED_SEQ_LEN=96) and report the RMSLE.",
         "ca": "Forecast the oil temperature OT of this hourly electricity transformer time series "
               "(INPUT_SEQ_LEN=96, PRED_SEQ_LEN=96) with an RMSLE of at most 0.5, and training must finish within "
               "300 seconds."},
        {"targets": {"rmsle": 0.5}, "limits": {"training_time": 300.0}},
        note="ETTh1 standing in for Weather / Electricity"),
    Entry(
        "cora", "cora", "", "node_classification", "accuracy", None,
        {"cf": "Classify the nodes of the Cora citation graph into their 7 paper topics and report the accuracy.",
         "ca": "Classify the nodes of the Cora citation graph into their 7 paper topics with an accuracy of at "
               "least 0.80 and under 10 ms per prediction."},
        {"targets": {"accuracy": 0.80}, "limits": {"inference_latency": 10.0}},
        paper_nps_cf=0.83, paper_name="Cora"),
]

BY_KEY = {e.key: e for e in SUITE}

# AutoML-Agent (GPT-4o) as reported in the paper, read from its charts (+-0.03). Not re-run here.
PAPER = {
    "cf": {"SR": 1.00, "NPS": 0.81, "CS": 0.90},
    "ca": {"SR": 0.87, "NPS": 0.81, "CS": 0.84},
}


def datasets_dir(explicit: str | None = None) -> Path:
    """``--datasets-dir``, else $AUTOML_AGENT_DATASETS, else ../shared/datasets beside the clone."""
    if explicit:
        return Path(explicit)
    if os.environ.get("AUTOML_AGENT_DATASETS"):
        return Path(os.environ["AUTOML_AGENT_DATASETS"])
    here = Path(__file__).resolve().parent.parent
    return (here.parent / "shared" / "datasets").resolve()


def select(keys: list[str] | None = None, tabular_only: bool = False) -> list[Entry]:
    if keys:
        unknown = [k for k in keys if k not in BY_KEY]
        if unknown:
            raise SystemExit(f"unknown dataset(s): {', '.join(unknown)}; known: {', '.join(BY_KEY)}")
        out = [BY_KEY[k] for k in keys]
    else:
        out = list(SUITE)
    return [e for e in out if e.tabular] if tabular_only else out
