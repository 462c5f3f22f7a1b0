"""Pretrained image backbones: offered only when `transformers` is importable and an image checkpoint is on
this machine (AUTOML_AGENT_IMAGE_MODEL or the local Hugging Face cache), or, with
AUTOML_AGENT_DOWNLOAD_MODELS=1, downloadable from the hub (here a fake hub on 127.0.0.1).

No real ImageNet checkpoint can be fetched here, so the test makes its own pretrained backbone: a small
ResNet (the Hugging Face ResNet class, saved with save_pretrained) trained for a few seconds on real MNIST
digits 0-4. The task is then digits 5-9, which that backbone never saw. A backbone that is really loaded and
transferred must beat the same architecture with random weights on the held-out test images; that is what
the end-to-end test asserts, besides the plumbing (plan offered, 8 stages, saved folder predicts from disk).
"""
from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
import pytest
from shared_data import dataset, import_file

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from automl_agent_jupyter import AutoMLAgent
from automl_agent_jupyter.tasks import checkpoints
from automl_agent_jupyter.tasks import image as image_task
from automl_agent_jupyter.tasks import text as text_task

MNIST = "mnist_test_images/mnist_test_10k.npz"
INSTRUCTION = "Classify the handwritten digit images with a linear probe; report accuracy."
PROBE, FINETUNE = "vision_linear_probe", "vision_finetune"
PREPROCESSOR = {"image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5], "size": {"shortest_edge": 64}}


@pytest.fixture(scope="module")
def backbones(tmp_path_factory):
    """(pretrained folder, random-weights folder, the digits 5-9 task as .npz): the same small ResNet twice,
    made as the transfer benchmark makes them (benchmarks/transfer.py)."""
    from benchmarks.transfer import make_backbones, task_file

    root = tmp_path_factory.mktemp("backbones")
    arrays = np.load(dataset(MNIST))
    pretrained_dir, random_dir, _ = make_backbones(arrays["x"], arrays["y"], root, epochs=4)
    return pretrained_dir, random_dir, task_file(arrays["x"], arrays["y"], 200, root)


@pytest.fixture()
def no_image_model(monkeypatch):
    monkeypatch.delenv(image_task.VISION_MODEL_ENV, raising=False)
    monkeypatch.delenv(checkpoints.DOWNLOAD_ENV, raising=False)
    monkeypatch.setattr(image_task, "CACHED_HUB_MODELS", ())  # whatever this machine's HF cache holds


def _implement(folder: Path, data: Path, out: Path, monkeypatch) -> tuple[dict, object]:
    monkeypatch.setenv(image_task.VISION_MODEL_ENV, str(folder))
    m = AutoMLAgent(budget_s=6, top_k=1).manager()
    m.plan(INSTRUCTION, data=str(data), out=out)
    assert [mm.name for mm in m.record.requirements.model] == [PROBE]  # "a linear probe" in the request
    # the user's preferred model, alone (top-1): deterministic, as every train image is embedded well within
    # the budget and nothing is trained against the clock
    plan = next(p for p in m.record.plans if p.model_families == [PROBE])
    rec = m.implement(plan.id)
    assert rec.status == "succeeded", rec.message
    return json.loads((out / "results.json").read_text()), rec


def test_pretrained_backbone_transfers_and_predicts_from_disk(backbones, tmp_path, monkeypatch, no_image_model):
    pretrained, random_weights, data = backbones
    results, rec = _implement(pretrained, data, tmp_path / "pre", monkeypatch)
    baseline, _ = _implement(random_weights, data, tmp_path / "rand", monkeypatch)
    acc, acc_random = results["metrics"]["test"]["accuracy"], baseline["metrics"]["test"]["accuracy"]
    print(f"test accuracy: pretrained backbone {acc}, random weights {acc_random}")
    assert acc >= 0.8 and acc >= acc_random + 0.05, (acc, acc_random)
    assert results["device"] == "cpu" and results["amp"] is False
    assert any(n.startswith(f"pretrained checkpoint {pretrained} for:") for n in rec.data_report.notes)
    probe = results["tuning"][PROBE]
    assert probe["samples_seen"] == rec.split["sizes"]["train"]  # every train image embedded within the budget
    for key in ("training_time", "inference_latency", "model_size", "parameters"):
        assert results["measured"][key] > 0, key

    folder = tmp_path / "pre"
    cells = json.loads((folder / "pipeline.ipynb").read_text())["cells"][1:]
    assert [c["metadata"]["automl_agent"]["stage"] for c in cells] == \
        ["setup", "load_split", "preprocess", "train", "evaluate", "measure", "save", "predict"]
    source = "".join("".join(c["source"]) for c in cells)
    assert "AutoModelForImageClassification" in source and "local_files_only=True" in source

    model_dir = Path(results["artifacts"]["model"])
    saved = json.loads((model_dir / "automl_agent.json").read_text())
    assert saved["size"] == 64 and [str(c) for c in saved["classes"]] == ["5", "6", "7", "8", "9"]
    mod = import_file(results["artifacts"]["predict"])  # the saved folder alone, on CPU
    arrays = np.load(data)
    labels = mod.predict(arrays["x_test"][:200])
    agree = np.mean([str(a) == str(b) for a, b in zip(labels, arrays["y_test"][:200])])
    assert agree >= 0.75, agree  # the same model as the test metric, loaded from disk


def test_vision_transformer_checkpoint_runs_at_its_own_size(tmp_path, monkeypatch, no_image_model):
    """A ViT has position embeddings for one input size: images are resized to it, grey repeated to RGB. Its
    weights are saved in bfloat16, as many hub checkpoints are: they are loaded as float32."""
    from transformers import ViTConfig, ViTForImageClassification

    folder = tmp_path / "tiny-vit"
    ViTForImageClassification(ViTConfig(image_size=32, patch_size=8, hidden_size=32, num_hidden_layers=1,
                                        num_attention_heads=2, intermediate_size=64)).to(torch.bfloat16) \
        .save_pretrained(folder)
    (folder / "preprocessor_config.json").write_text(json.dumps({**PREPROCESSOR, "size": {"height": 32, "width": 32}}))
    arrays = np.load(dataset(MNIST))
    data = tmp_path / "digits.npz"
    np.savez(data, x=arrays["x"][:600], y=arrays["y"][:600])
    monkeypatch.setenv(image_task.VISION_MODEL_ENV, str(folder))
    m = AutoMLAgent(budget_s=3).manager()
    m.plan("Classify the digit images by fine-tuning a vision transformer; report accuracy.", data=str(data),
           out=tmp_path / "run")
    assert FINETUNE in [mm.name for mm in m.record.requirements.model]
    plan = next(p for p in m.record.plans if p.preprocessing["recipe"] == "pretrained")
    rec = m.implement(plan.id)
    assert rec.status == "succeeded", rec.message
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert json.loads((Path(results["artifacts"]["model"]) / "automl_agent.json").read_text())["size"] == 32
    assert 0.0 < rec.metrics["test"]["accuracy"] <= 1.0


def test_colour_photos_in_class_folders(backbones, tmp_path, monkeypatch, no_image_model):
    """RGB files of varying sizes in a folder per class go through the backbone at its input size."""
    from PIL import Image

    _, random_weights, _ = backbones
    arrays = np.load(dataset(MNIST))
    rng = np.random.default_rng(0)
    for i in range(240):
        label = ("odd", "even")[int(arrays["y"][i]) % 2]
        digit = arrays["x"][i].astype(np.float32)[..., None] / 255.0
        colour, back = rng.uniform(0.5, 1.0, 3), rng.uniform(0.0, 0.4, 3)
        rgb = (255 * (digit * colour + (1 - digit) * back)).astype(np.uint8)
        side = int(rng.integers(40, 72))
        path = tmp_path / "photos" / label / f"{i}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rgb).resize((side, side)).save(path)
    monkeypatch.setenv(image_task.VISION_MODEL_ENV, str(random_weights))
    m = AutoMLAgent(budget_s=2).manager()
    m.plan("Classify these photos as odd or even digits", data=str(tmp_path / "photos"), out=tmp_path / "run")
    assert m.record.data_report.extra["channels"] == 3
    plan = next(p for p in m.record.plans if p.preprocessing["recipe"] == "pretrained")
    rec = m.implement(plan.id)
    assert rec.status == "succeeded", rec.message
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    saved = json.loads((Path(results["artifacts"]["model"]) / "automl_agent.json").read_text())
    assert saved["channels"] == 3 and saved["size"] == 64
    source = (tmp_path / "run" / "pipeline.py").read_text()
    assert '"hflip": True' in source  # colour photos may be flipped while fine-tuning; digits never
    mod = import_file(results["artifacts"]["predict"])
    files = sorted((tmp_path / "photos" / "odd").glob("*.jpg"))[:4]
    expected = mod.predict([str(f) for f in files])
    assert set(expected) <= {"odd", "even"}
    pytest.importorskip("uvicorn")
    from serving import serving

    with serving("serve:app", tmp_path / "run", tmp_path) as server:  # the saved backbone behind real HTTP
        body = {"images": [base64.b64encode(f.read_bytes()).decode() for f in files]}
        assert server.predict(body) == (200, {"predictions": expected})


def test_left_out_with_a_note_without_a_local_checkpoint(tmp_path, monkeypatch, no_image_model):
    arrays = np.load(dataset(MNIST))
    data = tmp_path / "digits.npz"
    np.savez(data, x=arrays["x"][:300], y=arrays["y"][:300])
    run = AutoMLAgent(budget_s=2).run("Classify the digit images", data=str(data), out=tmp_path / "a", auto=False)
    assert all(PROBE not in p.model_families and FINETUNE not in p.model_families for p in run.record.plans)
    notes = [n for n in run.record.data_report.notes if "Pretrained vision backbone" in n or "linear probe" in n]
    assert len(notes) == 2 and all(image_task.VISION_MODEL_ENV in n and "nothing is downloaded" in n for n in notes)

    monkeypatch.setenv(image_task.VISION_MODEL_ENV, str(tmp_path / "missing"))
    why = image_task.ImageTask().missing_weights("vision")
    assert why and "neither a local folder nor a hub model in the local cache" in why

    (tmp_path / "no-weights").mkdir()
    (tmp_path / "no-weights" / "config.json").write_text("{}")
    monkeypatch.setenv(image_task.VISION_MODEL_ENV, str(tmp_path / "no-weights"))
    assert "has no model weights" in image_task.ImageTask().missing_weights("vision")

    bert = tmp_path / "bert"  # a text model where an image classifier is expected: refused with the reason
    from transformers import BertConfig, BertModel

    BertModel(BertConfig(vocab_size=20, hidden_size=8, num_hidden_layers=1, num_attention_heads=1,
                         intermediate_size=8)).save_pretrained(bert)
    monkeypatch.setenv(image_task.VISION_MODEL_ENV, str(bert))
    why = image_task.ImageTask().missing_weights("vision")
    assert why == f"{image_task.VISION_MODEL_ENV}: {bert} is a 'bert' checkpoint, which AutoModelForImageClassification cannot load"

    monkeypatch.setattr(image_task, "importable", lambda m: m != "transformers")
    assert image_task.ImageTask().missing_weights("vision") == "transformers is not installed"


@pytest.fixture()
def hub_cache(tmp_path, monkeypatch):
    """An empty Hugging Face cache for this test (the hub client reads the constant at call time)."""
    import huggingface_hub.constants

    cache = tmp_path / "hf-cache"
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(cache))
    return cache


def test_hub_checkpoint_is_downloaded_only_when_allowed(backbones, tmp_path, monkeypatch, no_image_model, hub_cache):
    from fake_hub_server import FakeHub

    pretrained, _, _ = backbones
    arrays = np.load(dataset(MNIST))
    data = tmp_path / "digits.npz"
    np.savez(data, x=arrays["x"][:400], y=arrays["y"][:400])
    with FakeHub({"someone/tiny-resnet": pretrained}) as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        monkeypatch.setenv(image_task.VISION_MODEL_ENV, "someone/tiny-resnet")
        plan_only = AutoMLAgent(budget_s=2).run("Classify the digit images", data=str(data), out=tmp_path / "a",
                                                auto=False)
        assert hub.requests == []  # not allowed: never asked
        note = next(n for n in plan_only.record.data_report.notes if "linear probe" in n)
        assert f"set {checkpoints.DOWNLOAD_ENV}=1" in note

        monkeypatch.setenv(checkpoints.DOWNLOAD_ENV, "1")
        m = AutoMLAgent(budget_s=2).manager()
        m.plan("Classify the digit images", data=str(data), out=tmp_path / "b")
        plan = next(p for p in m.record.plans if p.preprocessing["recipe"] == "pretrained")
        assert any(r.endswith("/model.safetensors") and r.startswith("GET") for r in hub.requests)
    # the download is in the cache: running the plan needs no hub (the server is closed now)
    rec = m.implement(plan.id)
    assert rec.status == "succeeded", rec.message
    source = (tmp_path / "b" / "pipeline.py").read_text()
    assert str(hub_cache) in source and "models--someone--tiny-resnet" in source


def test_download_failures_are_one_line_notes(tmp_path, monkeypatch, no_image_model, hub_cache):
    from fake_hub_server import FakeHub

    monkeypatch.setenv(checkpoints.DOWNLOAD_ENV, "1")
    with FakeHub({}) as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        monkeypatch.setenv(image_task.VISION_MODEL_ENV, "someone/not-there")
        why = image_task.ImageTask().missing_weights("vision")
    assert why.startswith("could not download someone/not-there from the Hugging Face Hub") and "\n" not in why
    closed = hub.url  # the server is shut down: nothing listens there any more (offline)
    monkeypatch.setenv("HF_ENDPOINT", closed)
    monkeypatch.delenv(image_task.VISION_MODEL_ENV)
    monkeypatch.setattr(image_task, "CACHED_HUB_MODELS", ("microsoft/resnet-18",))  # the cache is empty here
    why = image_task.ImageTask().missing_weights("vision")  # so the default checkpoint is fetched: it fails
    assert why.startswith("could not download microsoft/resnet-18") and "\n" not in why


def test_text_checkpoints_download_the_same_way(tmp_path, monkeypatch, hub_cache):
    """The text task shares the retrieval: a hub id named in AUTOML_AGENT_TEXT_MODEL is fetched when allowed."""
    from fake_hub_server import FakeHub
    from transformers import BertConfig, BertForSequenceClassification

    folder = tmp_path / "bert"
    BertForSequenceClassification(BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1,
                                             num_attention_heads=2, intermediate_size=32)).save_pretrained(folder)
    (folder / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "spam", "ham"]))
    monkeypatch.setenv(checkpoints.DOWNLOAD_ENV, "1")
    monkeypatch.setenv(text_task.TEXT_MODEL_ENV, "someone/tiny-bert")
    with FakeHub({"someone/tiny-bert": folder}) as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        assert text_task.TextTask().missing_weights("transformer") is None
    path, _ = text_task.local_text_model()  # now from the cache, with the server gone
    assert path and (Path(path) / "vocab.txt").is_file() and str(hub_cache) in path
