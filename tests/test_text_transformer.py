"""Transformer fine-tuning for text classification: offered only when `transformers` is importable and a
checkpoint is on this machine (AUTOML_AGENT_TEXT_MODEL or the local Hugging Face cache); nothing is downloaded.

The checkpoint here is a tiny, randomly initialised BERT saved to tmp_path, so the accuracy it reaches says
nothing about pretrained models: the test checks the plumbing (offered, trained within the budget, test metric
measured, saved folder predicts from disk), not the quality."""
from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest
from shared_data import dataset, import_file

pytest.importorskip("torch")
pytest.importorskip("transformers")

from automl_agent_jupyter import AutoMLAgent
from automl_agent_jupyter.tasks import text as text_task

SMS = "sms_spam/SMSSpamCollection.tsv"
INSTRUCTION = "Classify SMS messages as spam or ham; report accuracy."
KEY = "transformer_finetune"


def tiny_bert(folder: Path, data: str) -> Path:
    """A 2-layer, 32-wide BERT with random weights and a word-piece vocabulary of the 500 commonest SMS words."""
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

    words = Counter(w for line in Path(data).read_text(encoding="utf-8", errors="replace").splitlines()
                    for w in re.findall(r"[a-z0-9]+", line.lower()))
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    vocab = specials + list("abcdefghijklmnopqrstuvwxyz0123456789!?.,£$&") + [w for w, _ in words.most_common(500)]
    vocab = list(dict.fromkeys(vocab))
    folder.mkdir(parents=True)
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n")
    tok = BertTokenizerFast(vocab_file=str(folder / "vocab.txt"), do_lower_case=True)
    config = BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=160, num_labels=2)
    BertForSequenceClassification(config).save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


@pytest.fixture()
def no_text_model(monkeypatch):
    monkeypatch.delenv(text_task.TEXT_MODEL_ENV, raising=False)
    monkeypatch.delenv("AUTOML_AGENT_DOWNLOAD_MODELS", raising=False)
    monkeypatch.setattr(text_task, "CACHED_HUB_MODELS", ())  # whatever this machine's HF cache holds


def test_transformer_fine_tuning_end_to_end(tmp_path, monkeypatch, no_text_model):
    data = dataset(SMS)
    monkeypatch.setenv(text_task.TEXT_MODEL_ENV, str(tiny_bert(tmp_path / "tiny-bert", data)))
    agent = AutoMLAgent(budget_s=5)
    run = agent.run(INSTRUCTION, data=data, out=tmp_path / "plan", auto=False)
    rec = run.record
    assert rec.status == "planned", rec.message
    assert not any("transformer" in n and "left out" in n for n in rec.data_report.notes)
    plan = next(p for p in rec.plans if KEY in p.model_families)  # offered as its own plan
    assert plan.preprocessing["recipe"] == "subword"

    m = agent.manager()
    m.plan(INSTRUCTION, data=data, out=tmp_path / "run")
    plan_id = next(p.id for p in m.record.plans if KEY in p.model_families)
    rec = m.implement(plan_id)
    assert rec.status == "succeeded", rec.message
    folder = tmp_path / "run"
    results = json.loads((folder / "results.json").read_text())
    assert results["model"] == KEY and results["plan_id"] == plan_id
    assert results["device"] == "cpu" and results["amp"] is False
    acc = results["metrics"]["test"]["accuracy"]
    assert 0.0 < acc <= 1.0  # measured on the held-out split; a random tiny BERT mostly predicts 'ham' (0.866)
    tuning = results["tuning"][KEY]
    assert tuning["steps"] >= 1 and tuning["seconds"] < 5 + 30  # stops when the budget is spent (+ one eval)
    for key in ("training_time", "inference_latency", "model_size", "parameters"):
        assert results["measured"][key] > 0, key
    cells = json.loads((folder / "pipeline.ipynb").read_text())["cells"][1:]
    assert [c["metadata"]["automl_agent"]["stage"] for c in cells] == \
        ["setup", "load_split", "preprocess", "train", "evaluate", "measure", "save", "predict"]
    source = "".join("".join(c["source"]) for c in cells)
    assert "AutoModelForSequenceClassification" in source and "local_files_only=True" in source

    model_dir = Path(results["artifacts"]["model"])
    assert (model_dir / "config.json").is_file() and (model_dir / "automl_agent.json").is_file()
    mod = import_file(results["artifacts"]["predict"])  # loads the saved folder from disk, on CPU
    labels = mod.predict(["WINNER!! You have won a 1000 pound prize. Call now", "Ok, see you at home for dinner"])
    assert len(labels) == 2 and set(labels) <= {"ham", "spam"}


def test_sentence_pairs_are_encoded_together(tmp_path, monkeypatch, no_text_model):
    """SICK pairs go through tokenizer(text1, text2): one sequence with [SEP] between and token types 0/1."""
    import pandas as pd
    from transformers import AutoTokenizer

    from automl_agent_jupyter import templates

    folder = tiny_bert(tmp_path / "tiny-bert", dataset(SMS))
    src = templates.render("text/features", recipe="subword")
    ns: dict = {}
    exec(compile(src, "<features>", "exec"), ns)  # noqa: S102 - our own template
    tok = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    enc = ns["encode"](pd.DataFrame({"a": ["a man is playing"], "b": ["a man is not playing"]}), tok, 32)
    assert enc["input_ids"][0].count(tok.sep_token_id) == 2 and set(enc["token_type_ids"][0]) == {0, 1}
    batch = ns["collate"](enc, [0], tok.pad_token_id, "cpu")
    assert tuple(batch["input_ids"].shape) == (1, len(enc["input_ids"][0]))


def test_left_out_with_a_note_without_a_local_model(tmp_path, monkeypatch, no_text_model):
    data = dataset(SMS)
    run = AutoMLAgent(budget_s=5).run(INSTRUCTION, data=data, out=tmp_path / "a", auto=False)
    assert all(KEY not in p.model_families for p in run.record.plans)
    note = next(n for n in run.record.data_report.notes if "transformer" in n and "left out" in n)
    assert text_task.TEXT_MODEL_ENV in note and "nothing is downloaded" in note

    monkeypatch.setenv(text_task.TEXT_MODEL_ENV, str(tmp_path / "missing"))
    why = text_task.TextTask().missing_weights("transformer")
    assert why and "neither a local folder nor a hub model in the local cache" in why

    monkeypatch.setattr(text_task, "importable", lambda m: m != "transformers")
    assert text_task.TextTask().missing_weights("transformer") == "transformers is not installed"
