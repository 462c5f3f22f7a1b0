"""serve.py of every run (templates/common/serve.py.j2): text, time series, graph, image and tabular runs on the
real data; the generated FastAPI app, started with a real uvicorn in a subprocess, answers /predict as
predict.py does, and input the model cannot take gets a 4xx with a one-line message. Small budgets: CI has
2 cores."""
from __future__ import annotations

import base64
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from serving import Server, serving
from shared_data import dataset, import_file

from automl_agent_jupyter import AutoMLAgent, Run

pytest.importorskip("torch")
pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

def _run(tmp_path_factory, name: str, instruction: str, data: str, budget: float = 3, **kw: Any) -> Run:
    out = tmp_path_factory.mktemp(name) / "run"
    run = AutoMLAgent(budget_s=budget, **kw).run(instruction, data=data, out=out)
    assert run.status == "succeeded", run.message
    return run


def _load_predict(folder: Path) -> Any:
    """The run's predict.py, imported from disk as a user would."""
    return import_file(folder / "predict.py", f"predict_{folder.parent.name}")


def _check_artifact(run: Run) -> None:
    serve = run.folder / "serve.py"
    assert serve.is_file()
    results = json.loads((run.folder / "results.json").read_text())
    assert Path(results["artifacts"]["serve"]).resolve() == serve.resolve()
    assert Path(run.record.artifacts["serve"]).resolve() == serve.resolve()


def _close(served: list, expected: np.ndarray) -> None:
    served = np.asarray(served, dtype=np.float64)
    assert served.shape == expected.shape
    np.testing.assert_allclose(served, expected, rtol=1e-5, atol=1e-5)


# ------------------------------------------------------------------------------------------ text
# Class-scoped: each run's server stops once its class is done, so at most one runs at a time.
@pytest.fixture(scope="class")
def sms(tmp_path_factory) -> Run:
    return _run(tmp_path_factory, "sms", "Classify SMS messages as spam or ham; report accuracy.",
                dataset("sms_spam/SMSSpamCollection.tsv"))


@pytest.fixture(scope="class")
def sms_server(sms, tmp_path_factory) -> Iterator[Server]:
    with serving("serve:app", sms.folder, tmp_path_factory.mktemp("sms_cwd")) as server:  # --app-dir from elsewhere
        yield server


class TestText:

    def test_health_and_artifact(self, sms, sms_server):
        _check_artifact(sms)
        h = sms_server.health
        assert h["status"] == "ok" and h["task"] == "text_classification" and h["modality"] == "text"
        assert h["classes"] == ["ham", "spam"] and h["input"] == "texts" and h["text_columns"] == ["SMS"]
        assert h["model"] == json.loads((sms.folder / "results.json").read_text())["model"]

    def test_predictions_are_predict_py_s(self, sms, sms_server):
        frame = pd.read_csv(dataset("sms_spam/SMSSpamCollection.tsv"), sep="\t")
        texts = frame["SMS"].sample(60, random_state=0).tolist() + [
            "WINNER!! You have won a 1000 pound prize. Call 09061701461 to claim now", "", "Ok, see you at home"]
        status, answer = sms_server.predict({"texts": texts})
        assert status == 200, answer
        assert answer["predictions"] == _load_predict(sms.folder).predict(texts)
        assert set(answer["predictions"]) == {"ham", "spam"}

    @pytest.mark.parametrize("body,says", [
        ({"texts": []}, "at least 1"),
        ({"pairs": [["A man plays", "A man sings"]]}, '{"texts"'),  # not a sentence-pair model
        ({"texts": "one text, not a list"}, "valid list"),
        ({"texts": ["fine", 5]}, "texts.1"),
        ({}, '{"texts"'),
        ([1, 2], "invalid request"),
    ])
    def test_bad_input_is_a_422_with_one_line(self, sms_server, body, says):
        assert says in sms_server.rejects(body)

    def test_a_body_that_is_not_json(self, sms_server):
        assert "not valid JSON" in sms_server.rejects(raw=b"texts=hello")


# ------------------------------------------------------------------------------------------ time series
ETTH1 = "etth1_timeseries/ETTh1.csv"


@pytest.fixture(scope="class")
def etth1(tmp_path_factory) -> Run:
    return _run(tmp_path_factory, "etth1", "Forecast all channels. INPUT_SEQ_LEN=96, INPUT_DIM=7, PRED_SEQ_LEN=24, "
                "PRED_DIM=7.", dataset(ETTH1))


@pytest.fixture(scope="class")
def etth1_server(etth1) -> Iterator[Server]:
    with serving("serve:app", Path("."), etth1.folder) as server:  # inside the run folder
        yield server


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return pd.read_csv(dataset(ETTH1))


class TestTimeseries:

    def test_health_and_artifact(self, etth1, etth1_server):
        _check_artifact(etth1)
        h = etth1_server.health
        assert h["task"] == "time_series_forecasting" and h["modality"] == "timeseries" and h["classes"] is None
        assert (h["input_seq_len"], h["pred_seq_len"]) == (96, 24) and h["date_column"] == "date"
        assert h["channels"] == h["targets"] == ["HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL", "OT"]

    def test_history_rows_forecast_as_predict_py(self, etth1, etth1_server, frame):
        mod = _load_predict(etth1.folder)
        channels = etth1_server.health["channels"]
        history = frame[channels].iloc[3000:3150].to_numpy()  # 150 rows: the last 96 are used
        status, answer = etth1_server.predict({"history": history.tolist()})
        assert status == 200, answer
        assert answer["columns"] == channels
        expected = mod.predict(history)[channels].to_numpy()
        _close(answer["predictions"], expected)  # float32 sums: the last bit may differ between processes
        assert expected.shape == (24, 7) and np.array_equal(mod.predict(history[-96:])[channels].to_numpy(), expected)

    def test_records_with_dates_forecast_the_next_timestamps(self, etth1, etth1_server, frame):
        status, answer = etth1_server.predict({"records": frame.iloc[:96].to_dict("records")})
        assert status == 200, answer
        out = answer["predictions"]
        expected = _load_predict(etth1.folder).predict(frame.iloc[:96])
        assert len(out) == 24 and out[0]["date"] == "2016-07-05 00:00:00" and out[-1]["date"] == "2016-07-05 23:00:00"
        assert [row["date"] for row in out] == expected["date"].astype(str).tolist()
        _close([[row[c] for c in expected.columns[1:]] for row in out], expected.iloc[:, 1:].to_numpy())

    def test_missing_values_are_filled_as_predict_py_does(self, etth1, etth1_server, frame):
        history = frame.iloc[:96, 1:].to_numpy()
        rows = history.tolist()
        rows[10][3] = rows[50][6] = None
        status, answer = etth1_server.predict({"history": rows})
        assert status == 200, answer
        with_nan = history.copy()
        with_nan[10, 3] = with_nan[50, 6] = np.nan
        _close(answer["predictions"], _load_predict(etth1.folder).predict(with_nan).to_numpy())

    def test_bad_input_is_a_422_with_one_line(self, etth1_server, frame):
        rows = frame.iloc[:96, 1:].to_numpy().tolist()
        assert "at least 96" in etth1_server.rejects({"history": rows[:95]})
        assert "row 7 has 6 values" in etth1_server.rejects({"history": rows[:7] + [rows[7][:6]] + rows[8:]})
        assert "at least 1" in etth1_server.rejects({"history": []})
        assert "send either" in etth1_server.rejects({})
        assert "have no values" in etth1_server.rejects({"history": [[None] + r[1:] for r in rows]})
        assert "'OT'" in etth1_server.rejects({"records": frame.iloc[:96].drop(columns="OT").to_dict("records")})
        records = frame.iloc[:96].to_dict("records")
        records[3]["OT"] = "hot"
        assert "must be numbers" in etth1_server.rejects({"records": records})
        assert "history.0.0" in etth1_server.rejects({"history": [["a"] * 7] * 96})


# ------------------------------------------------------------------------------------------ graph
@pytest.fixture(scope="class")
def cora(tmp_path_factory) -> Run:
    return _run(tmp_path_factory, "cora", "Classify the papers of the Cora citation network into their topics. "
                "Import the Cora dataset using Planetoid.", dataset("cora"))


@pytest.fixture(scope="class")
def cora_server(cora) -> Iterator[Server]:
    # run.serve:app from the parent folder: predict.py is found only through serve.py's own sys.path entry
    assert cora.folder.name == "run"
    with serving("run.serve:app", cora.folder.parent, cora.folder.parent) as server:
        yield server


class TestGraph:

    def test_health_and_artifact(self, cora, cora_server):
        _check_artifact(cora)
        h = cora_server.health
        assert h["task"] == "node_classification" and h["modality"] == "graph"
        assert h["nodes"] == 2708 and len(h["classes"]) == 7

    def test_predictions_are_predict_py_s(self, cora, cora_server):
        nodes = [0, 1, 2, 2707] + np.random.default_rng(0).choice(2708, 100, replace=False).tolist()
        status, answer = cora_server.predict({"nodes": nodes})
        assert status == 200, answer
        assert answer["predictions"] == _load_predict(cora.folder).predict(nodes)
        assert len(set(answer["predictions"])) > 1

    def test_new_nodes_are_classified_like_their_copies(self, cora, cora_server):
        """A test paper added again as a new node (its features, its citations) gets the class the model gives the
        original, nearly always; over HTTP, /predict_new answers as predict_new does."""
        mod = _load_predict(cora.folder)
        g = mod.load_graph()
        nodes = g.test_mask.nonzero().view(-1)[:200].tolist()
        features = g.x[nodes].tolist()  # already row-normalised when the model was: normalising again changes nothing
        src, dst = g.edge_index
        links = [(k, int(j)) for k, i in enumerate(nodes) for j in dst[src == i].tolist()]
        copies = mod.predict_new(features, links)
        original = mod.predict(nodes)
        truth = [mod.ARTIFACT["classes"][int(c)] for c in g.y[nodes]]
        assert np.mean([a == b for a, b in zip(copies, original)]) >= 0.9
        assert np.mean([a == b for a, b in zip(copies, truth)]) >= 0.75
        assert mod.predict(nodes) == original  # the graph is left as it was

        few = [link for link in links if link[0] < 10]
        status, answer = cora_server.request("/predict_new", {"features": features[:10], "links": few})
        assert status == 200, answer
        assert answer["predictions"] == mod.predict_new(features[:10], few)
        status, answer = cora_server.request("/predict_new", {"features": [[0.0] * 5]})
        assert status == 422 and "rows of 1433 values" in answer["detail"]
        status, answer = cora_server.request("/predict_new", {"features": features[:1], "links": [[0, 99999]]})
        assert status == 422 and "graph node id 0..2707" in answer["detail"]

    @pytest.mark.parametrize("body,says", [
        ({"nodes": []}, "at least 1"),
        ({"nodes": [5, 2708]}, "unknown node id(s) [2708]"),
        ({"nodes": [-1]}, "unknown node id(s) [-1]"),
        ({"nodes": ["a"]}, "valid integer"),
        ({"nodes": [1.5]}, "valid integer"),
        ({"nodes": 3}, "valid list"),
        ({"node": [3]}, "nodes: Field required"),
    ])
    def test_bad_input_is_a_422_with_one_line(self, cora_server, body, says):
        assert says in cora_server.rejects(body)


# ------------------------------------------------------------------------------------------ image
def test_image_serve_takes_png_and_arrays(tmp_path_factory):
    Image = pytest.importorskip("PIL.Image")
    mnist = _run(tmp_path_factory, "mnist", "Classify the handwritten digits",
                 dataset("mnist_test_images/mnist_test_10k.npz"), n_plans=2)
    assert mnist.record.artifacts.get("serve") == str(mnist.folder / "serve.py")
    with serving("serve:app", mnist.folder, mnist.folder.parent) as server:
        npz = np.load(dataset("mnist_test_images/mnist_test_10k.npz"))
        x = npz["x"][:16]
        expected = _load_predict(mnist.folder).predict(x)
        assert server.health["modality"] == "image" and len(server.health["classes"]) == 10

        def png(a: np.ndarray) -> str:
            buf = io.BytesIO()
            Image.fromarray(a).save(buf, format="PNG")
            return base64.b64encode(buf.getvalue()).decode()

        assert server.predict({"images": [png(a) for a in x]}) == (200, {"predictions": expected})
        assert server.predict({"arrays": x.tolist()}) == (200, {"predictions": expected})
        assert "not base64" in server.rejects({"images": ["%%%"]})
        assert "not an image file" in server.rejects({"images": [base64.b64encode(b"hello").decode()]})
        assert "outside 0..255" in server.rejects({"arrays": [[[0, 300], [1, 2]]]})
        assert "rectangular" in server.rejects({"arrays": [[[0, 1], [2]]]})


# ------------------------------------------------------------------------------------------ tabular
def test_tabular_serve_takes_a_list_or_rows_and_names_missing_columns(tmp_path_factory):
    data = dataset("banana_quality/banana_quality.csv")
    run = _run(tmp_path_factory, "banana", "Classify the banana quality", data, budget=2, n_plans=2)
    rows = pd.read_csv(data).drop(columns=["Quality"]).sample(20, random_state=0).to_dict("records")
    expected = _load_predict(run.folder).predict(rows)
    with serving("serve:app", run.folder, run.folder.parent) as server:
        assert server.health["features"] == list(rows[0]) and server.health["classes"] == ["Bad", "Good"]
        assert server.predict(rows) == (200, {"predictions": expected})
        assert server.predict({"rows": rows}) == (200, {"predictions": expected})
        assert "'Acidity'" in server.rejects([{k: v for k, v in rows[0].items() if k != "Acidity"}])
        assert "no rows" in server.rejects([])


def test_sentence_pair_model_takes_pairs(tmp_path_factory):
    sick = _run(tmp_path_factory, "sick", "Textual entailment: classify each pair (text1, text2) as 0 neutral, "
                "1 contradiction or 2 entailment", dataset("textual_entailment_sick/sick_text1_text2_label.csv"),
                n_plans=2)
    frame = pd.read_csv(dataset("textual_entailment_sick/sick_text1_text2_label.csv")).head(40)
    pairs = frame[["text1", "text2"]].values.tolist()
    expected = _load_predict(sick.folder).predict([tuple(p) for p in pairs])
    with serving("serve:app", sick.folder, sick.folder.parent) as server:
        assert server.health["input"] == "pairs" and server.health["text_columns"] == ["text1", "text2"]
        assert server.predict({"pairs": pairs}) == (200, {"predictions": expected})
        assert '{"pairs"' in server.rejects({"texts": ["A man is playing a guitar"]})
        assert "pairs.0" in server.rejects({"pairs": [["only one text"]]})
