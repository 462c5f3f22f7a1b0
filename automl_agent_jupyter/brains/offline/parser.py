"""Offline prompt agent: an instruction (plus a peek at the data) -> Requirements, with evidence.

It reads meaning from what people write, not one wording: words are lemmatised and typos repaired against
the vocabulary of the request language and the data's own column names (``words``); the target is the
column the instruction talks about (its name split into words, a synonym, the values it holds, its role in
the sentence); the task comes from all signals together (cue words, the metric's family, the target's
values, a cluster count) and a disagreement becomes a question; thresholds, limits (kind and unit), models,
cluster counts, forecasting windows (in the data's own steps) and splits are read in their clause. Every
field carries its evidence and a confidence in ``Requirements.field_sources``; ``understand`` adds the
verdict (ok / not ML / needs clarification) and the questions with a best guess and options.
The words themselves are package data (knowledge/language.yaml).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from ...knowledge.language import language
from ...schema import (
    ComplexityMetric,
    DatasetSpec,
    FieldSource,
    ModelSpec,
    PerformanceMetric,
    Problem,
    Question,
    Requirements,
    User,
)
from ...tasks.scoring import LOWER_IS_BETTER
from .words import STOP, Text, core_words, forms, known, name_words

METRIC_FAMILY = {"accuracy": "classification", "f1": "classification", "f1_macro": "classification",
                 "f1_weighted": "classification", "precision": "classification", "recall": "classification",
                 "roc_auc": "classification", "rmse": "regression", "rmsle": "regression", "mae": "regression",
                 "mse": "regression", "r2": "regression", "rand_index": "clustering",
                 "adjusted_rand_index": "clustering", "silhouette": "clustering"}
MODALITY_TASK = {"image": "image_classification", "graph": "node_classification", "text": "text_classification"}
TASK_MODALITY = {"image_classification": "image", "text_classification": "text", "node_classification": "graph",
                 "time_series_forecasting": "time_series"}
ASK_BELOW = 0.5  # a field read with less confidence than this is asked about


def L() -> dict[str, Any]:
    return language()


# ------------------------------------------------------------------------------------------ reading
@dataclass
class Reading:
    """One instruction read against one data peek: the tokens, and which tokens each reader has used."""

    text: Text
    peek: dict[str, Any]
    used: set[int] = field(default_factory=set)  # token indexes that are a limit, window, count, ...
    quantity_tokens: set[int] | None = None
    candidates: list[tuple[float, str, str]] | None = None  # target_candidates, once per reading
    metric_spans: list[tuple[str, int, int]] | None = None  # _metric_mentions, once per reading

    @property
    def columns(self) -> list[str]:
        return [str(c) for c in self.peek.get("columns") or []]

    @property
    def modality(self) -> str:
        return self.peek.get("modality") or "tabular"


def read(instruction: str, peek: dict[str, Any] | None) -> Reading:
    peek = peek or {}
    cols = [str(c) for c in peek.get("columns") or []]
    col_words = {w for c in cols for w in name_words(c)}
    values = {str(v).lower() for vs in (peek.get("values") or {}).values() for v in vs if isinstance(v, str)}
    return Reading(Text(instruction, extra_vocab=col_words | values, column_words=col_words | values), peek)


def _num_at(t: Text, i: int) -> tuple[float, int] | None:
    """The number starting at token i (digits, '.85', a number word, 'half', 'a couple of', '10k') and the
    index after it."""
    if i >= len(t):
        return None
    tok = t.tokens[i]
    words = L()["number_words"]
    if tok.text == "." and i + 1 < len(t) and t.tokens[i + 1].is_number and t.tokens[i].end == t.tokens[i + 1].start \
            and t.tokens[i + 1].text[0].isdigit():  # '..2707' is no number
        return float("0." + t.tokens[i + 1].text), i + 2
    if tok.is_number:
        nxt = t.tokens[i + 1] if i + 1 < len(t) else None
        if nxt is not None and nxt.lower in ("thousand", "million", "billion", "grand") and "." not in tok.text[-1:]:
            return tok.number * L()["count_multipliers"][nxt.lower], i + 2  # '50 grand', '2 million'
        if nxt is not None and nxt.start == tok.end and nxt.lower in ("k", "m", "bn", "mn") and \
                (i == 0 or t.tokens[i - 1].text in ("$", "€", "£") or nxt.lower == "k"):  # '$60k', '20k rows'
            return tok.number * L()["count_multipliers"][{"bn": "b", "mn": "m"}.get(nxt.lower, nxt.lower)], i + 2
        return tok.number, i + 1
    w = tok.lower
    if w in ("a", "an") and i + 1 < len(t) and t.tokens[i + 1].lower in ("couple", "pair", "dozen"):
        j = i + 3 if i + 2 < len(t) and t.tokens[i + 2].lower == "of" else i + 2
        return float(words[t.tokens[i + 1].lower]), j
    if w in words:
        j = i + 1
        v = float(words[w])
        if w == "half" and j < len(t) and t.tokens[j].lower in ("a", "an"):
            j += 1
        if 20 <= v <= 90 and j < len(t) and 1 <= words.get(t.tokens[j].lower, 0) <= 9 and \
                t.tokens[j].lower not in ("a", "an", "single"):  # 'ninety seven'
            v += words[t.tokens[j].lower]
            j += 1
        if w not in ("a", "an", "half", "couple", "pair", "dozen", "single"):
            v, j = _spelled_number(t, v, j)
        if j < len(t) and t.tokens[j].lower == "-":
            j += 1
        return v, j
    if w == "point":  # 'below point five' (voice): the leading zero unsaid
        v, j = _spelled_number(t, 0.0, i)
        if j > i:
            return v, j
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(k|m|b)", w)
    if m:
        return float(m.group(1)) * L()["count_multipliers"][m.group(2)], i + 1
    return None


def _spelled_number(t: Text, v: float, j: int) -> tuple[float, int]:
    """The rest of a number written in words after its first word: 'two hundred', 'fifty thousand', 'one hundred
    and twenty', 'zero point five', 'two point seven five'."""
    words, mult = L()["number_words"], L()["count_multipliers"]
    while j < len(t):
        w = t.tokens[j].lower
        if w == "hundred":
            v, j = v * 100, j + 1
            if j + 1 < len(t) and t.tokens[j].lower == "and" and 1 <= words.get(t.tokens[j + 1].lower, 0) <= 99 and \
                    t.tokens[j + 1].lower not in ("a", "an", "single", "half", "couple", "pair", "dozen"):
                v, j = v + words[t.tokens[j + 1].lower], j + 2
        elif w in mult and w.isalpha() and len(w) > 1 and w != "mio":
            v, j = v * mult[w], j + 1
        elif w == "point" and j + 1 < len(t) and t.tokens[j + 1].lower in words and \
                0 <= words[t.tokens[j + 1].lower] <= 9 and t.tokens[j + 1].lower not in ("a", "an", "single", "half"):
            digits, j = "", j + 1
            while j < len(t) and t.tokens[j].lower in words and 0 <= words[t.tokens[j].lower] <= 9 and \
                    t.tokens[j].lower not in ("a", "an", "single", "half", "couple", "pair"):
                digits += str(int(words[t.tokens[j].lower]))
                j += 1
            return v + float("0." + digits), j
        elif w == "and" and j + 2 < len(t) and t.tokens[j + 1].lower == "a" and t.tokens[j + 2].lower == "half":
            return v + 0.5, j + 3  # 'one and a half'
        else:
            break
    return v, j


def _fraction_at(t: Text, i: int) -> tuple[float, int] | None:
    """A share written as a fraction at token i and the index after it: 'one half', 'a third', 'two thirds',
    'nine in ten', '1 in 4', '3 out of 4', 'one of every five' (never a bare number)."""
    n = _num_at(t, i)
    if n is None or t.tokens[i].lower in ("half",):
        return None
    a, j = n
    if j < len(t):
        den = L()["fraction_words"].get(t.tokens[j].lower)
        if den and (t.tokens[i].lower in L()["number_words"] or t.tokens[i].is_number) and a < den:
            if i > 0 and t.tokens[i - 1].lower == "and" or (j + 2 < len(t) and t.tokens[j + 1].lower == "of" and any(
                    _unit(t, x, L()["time_units"]) for x in (j + 2, j + 3))):
                return None  # 'a year and a half', 'a quarter of an hour': durations
            return a / den, j + 1  # 'a third', 'two thirds', 'one half'
        # 'nine in ten', and with what is counted between: 'three times out of four', 'one tumour in twenty'
        skips = (j, j + 1) if t.tokens[j].lower.isalpha() and t.tokens[j].lower not in ("in", "out", "of") else (j,)
        for s0 in skips:
            for link in ("in", "out of", "of every", "of each"):
                k = s0 + len(link.split())
                if k < len(t) and t.span_text(s0, k).lower() == link:
                    m = _num_at(t, k)
                    if m and m[0] > a > 0 and (t.tokens[k].is_number or t.tokens[k].lower in L()["number_words"]) \
                            and t.tokens[k].lower not in ("a", "an", "half") and (
                            s0 == j or _unit(t, m[1], L()["time_units"]) is None):  # 'one run in ten minutes'
                        return a / m[0], m[1]
    return None


def _spelled(t: Text, i: int, end: int) -> bool:
    """Tokens [i, end) are a number written in words that says a precise amount ('zero point five', 'fifty
    thousand'), not a loose 'a' or 'one'."""
    return end - i >= 2 and all(t.tokens[k].lower in L()["number_words"] or t.tokens[k].lower in
                                ("point", "hundred", "thousand", "million", "billion", "and") for k in range(i, end))


def _unit(t: Text, j: int, units: dict[str, float]) -> tuple[float, int] | None:
    """The unit at token j (lemmatised: 'hours' -> hour, 'hrs', 'ms') and the index after it."""
    if j >= len(t):
        return None
    tok = t.tokens[j]
    for f in sorted(tok.forms | {tok.lower}, key=len, reverse=True):
        if f in units:
            return float(units[f]), j + 1
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([a-zµ]+)", tok.lower)
    if m and m.group(2) in units:
        return float(units[m.group(2)]), j + 1
    return None


@dataclass
class Quantity:
    value: float  # in the unit's base (seconds, MB, count)
    start: int
    end: int
    number: float
    unit_scale: float


def durations(r: Reading) -> list[Quantity]:
    """Every '<number> <time unit>' (also 'an hour', 'one-week', 'the next day', 'half a day', '10ms')."""
    t, units = r.text, L()["time_units"]
    out: list[Quantity] = []
    i = 0
    while i < len(t):
        tok = t.tokens[i]
        m = re.fullmatch(r"(\d+(?:\.\d+)?)([a-zµ]+)", tok.lower)
        if m and m.group(2) in units:  # "10ms", "5min", "6h"
            out.append(Quantity(float(m.group(1)) * units[m.group(2)], i, i + 1, float(m.group(1)), units[m.group(2)]))
            i += 1
            continue
        n = _num_at(t, i)
        den = L()["fraction_words"].get(t.tokens[n[1]].lower) if n and n[1] + 2 < len(t) else None
        if n and den and t.tokens[n[1] + 1].lower == "of":  # 'a tenth of a second', 'two thirds of an hour'
            k = n[1] + 2 + (t.tokens[n[1] + 2].lower in ("a", "an", "the"))
            u = _unit(t, k, units)
            if u:
                out.append(Quantity(n[0] / den * u[0], i, u[1], n[0] / den, u[0]))
                i = u[1]
                continue
        if n:
            value, j = n
            u = _unit(t, j, units)
            if u and not (t.tokens[j].lower in ("s", "h", "m") and j + 1 < len(t) and t.tokens[j + 1].lower == "'"):
                if t.tokens[i].lower in ("a", "an", "one") and j < len(t) - 1 and t.tokens[j].lower in ("and",):
                    pass
                end = u[1]
                frac = L()["unit_fractions"].get(t.tokens[j].lower.rstrip("s"))
                if frac and end + 1 < len(t) and t.tokens[end].lower == "of":  # 'a quarter of an hour'
                    k = end + 2 if t.tokens[end + 1].lower in ("a", "an", "the") else end + 1
                    u2 = _unit(t, k, units)
                    if u2:
                        u, end = (frac * u2[0], u2[1]), u2[1]
                # "an hour and a half", "a year and a half"
                if end + 2 < len(t) + 1 and t.span_text(end, min(end + 3, len(t))).lower() in ("and a half",):
                    value += 0.5
                    end += 3
                out.append(Quantity(value * u[0], i, end, value, u[0]))
                i = end
                continue
        # a unit with no number after a window word: "the next day", "next week", "tomorrow"
        u = _unit(t, i, units)
        if u and u[0] >= 3600 and i > 0 and t.tokens[i - 1].lower in ("next", "past", "last", "previous", "following",
                                                                      "coming", "prior"):
            out.append(Quantity(u[0], i, i + 1, 1.0, u[0]))
        elif u and u[0] >= 1 and i > 1 and t.tokens[i - 1].lower == "the" and t.tokens[i - 2].lower in (
                "within", "under", "inside"):  # 'done within the hour'
            out.append(Quantity(u[0], i - 1, i + 1, 1.0, u[0]))
        elif tok.lower == "tomorrow":
            out.append(Quantity(86400.0, i, i + 1, 1.0, 86400.0))
        i += 1
    return out


# ------------------------------------------------------------------------------------------ evidence helpers
def _src(value: Any, confidence: float, evidence: str, options: list[Any] | None = None) -> FieldSource:
    return FieldSource(value=value, source="agent", confidence=round(max(0.0, min(1.0, confidence)), 2),
                       evidence=evidence, options=options or [])


def _quote(t: Text, i: int, j: int) -> str:
    return "'" + t.span_text(max(0, i), min(len(t), j)) + "'"


# ------------------------------------------------------------------------------------------ not ML
def not_ml_reason(r: Reading, has_data: bool) -> str | None:
    """Why the request is not a model to build, or None."""
    t = r.text
    nl = L()["not_ml"]
    ml = any(t.has(w) for w in L()["ml_words"])
    lead = " ".join(tok.lower for tok in t.tokens[:4])
    consult = any(lead.startswith(p) for p in nl["consult"]) or t.raw.lower().startswith(("what is", "what's"))
    if any(t.has(p) for p in nl["off_topic"]) and not (has_data and ml):
        return "it is not a machine-learning request (I build and verify models from a data file)"
    if consult and (not has_data or not _mentions_any_column(r) or re.search(r"\bwithout\b", t.raw.lower())):
        return "it is a question rather than a model to build; I build and verify models from a data file"
    col_words = {w for c in r.columns for w in name_words(c)}  # 'the car models' of a column 'model'
    metric_words = {k for _, i, j in _metric_mentions(r) for k in range(i, abs(j))}  # 'mean' of 'mean absolute error'

    bound_clauses = {t.clause_of(i) for _, i, _j in _metric_mentions(r) if _j > 0 and t.tokens[i].lower in (
        "off", "within", "give", "plus", "average", "mean", "typical", "miss", "wrong")}  # 'off by 50k on average'

    def said(phrases: list[str]) -> str | None:  # never in a metric's name; 'top 10%' is a share, not an ordering
        return next((p for p in phrases for a, b in t.find(p) if not set(range(a, b)) & metric_words and
                     not _singular_for_plural(p, t.tokens[b - 1].lower) and  # 'totals' is no 'total sleep'
                     not (b < len(t) and t.tokens[b].lower in ("%", "percent")) and
                     t.clause_of(a) not in bound_clauses), None)

    predictive = _predictive(t, col_words) or bool(said(nl["build_words"])) or _declares_target(t)
    if has_data and not predictive and _count_question(t):
        return ("it counts rows already in the data, not a model that predicts; pandas does that in one line "
                "(value_counts or groupby)")
    chart = said(nl["charts"])
    if has_data and chart and not predictive:  # 'Bar chart: number of fragments per glass type.'
        return (f"it asks for a chart of the data ({chart!r}), not a model that predicts; pandas or matplotlib "
                "draws it in a line or two")
    stat = said(nl["statistics"])
    if stat and r.columns and stat.split()[-1] in ("mean", "median", "average"):
        # 'the median home value' is medv's name, not a statistic asked for
        named = {k for c in r.columns if len(core_words(c)) > 1 for sc, sp, _ in [_name_match(r, c)] if sc >= 3
                 for a, b in sp for k in range(a, b)}
        stat = next((p for p in nl["statistics"] for a, b in t.find(p)
                     if not set(range(a, b)) & (metric_words | named)), None)
    future = any(t.has(w) for w in ("will", "would", "going to", "likely", "next", "new", "future", "unseen",
                                    "tomorrow", "expect"))
    metric_clauses = {t.clause_of(i) for _, i, _j in _metric_mentions(r)}
    strong = next((p for p in nl["strong_statistics"] for a, b in t.find(p)
                   if not set(range(a, b)) & metric_words and t.clause_of(a) not in metric_clauses), None)
    if has_data and not predictive and not future and strong:
        return (f"it asks for a statistic of the data ({strong!r}), not a model that predicts; pandas or scipy does "
                "that in a line or two")
    if has_data and not predictive and not future and _filter_question(r):
        return ("it filters the rows by a condition on a column, not a model that predicts; pandas does that in one "
                "line (df[df[col] > value])")
    if has_data and not predictive and not _task_cued(t) and stat:
        return (f"it asks for a statistic of the data ({stat!r}: a test, a correlation, a figure per group or an "
                "ordering), not a model that predicts; pandas or scipy does that in a line or two")
    if has_data and said(nl["descriptive"]) and not predictive and not _task_cued(t) and not (
            future and t.has("will")):  # 'Which suburbs will have a median value above 30 next year?' asks ahead
        return ("it asks for a description or a change of the data (a statistic, a plot, a cleaning step), not a model "
                "that predicts; "
                "pandas does that in one line")
    sup = _superlative(t)
    if has_data and sup and not _predictive(t, col_words) and not _metric_mentions(r):
        return (f"it looks a value up in the data ({sup!r}), not a model that predicts; pandas does that in one "
                "line (df.sort_values or idxmax)")
    if not has_data and not ml:
        return "it is not a machine-learning request (I build and verify models from a data file)"
    return None


_FIELD_DECL = re.compile(r"(?:^|[\n;.(]|^\s*-)\s*-?\s*(target|label|outcome|response|dependent|features?|predictors?|"
                         r"inputs?|covariates?|regressors?|independent)(?: column| variable)?s?\s*[:=]([^\n;]*?)(?=\n|;|\.\s|\.?$)",
                         re.IGNORECASE)


def _declared_fields(raw: str) -> list[tuple[str, int, int]]:
    """('target' | 'input', start, end) of each 'target: ...' / 'features = ...' field the text declares."""
    key = raw
    if _DECL_CACHE.get("key") != key:
        out = []
        for m in _FIELD_DECL.finditer(raw):
            word = m.group(1).lower()
            kind = "target" if word in ("target", "label", "outcome", "response", "dependent") else "input"
            out.append((kind, m.start(2), m.end(2)))
        _DECL_CACHE.update(key=key, val=out)
    return _DECL_CACHE["val"]


_DECL_CACHE: dict[str, Any] = {}


def _declares_target(t: Text) -> bool:
    """'Target = Age', '- target: hours of REM sleep', 'label column: y': the request names what to predict."""
    return bool(re.search(r"(?:^|[\n;.(-]\s*)(?:target|label|outcome|response|dependent)(?: column| variable)?\s*[:=]",
                          t.raw.lower()))


def _singular_for_plural(phrase: str, token: str) -> bool:
    last = phrase.split()[-1]
    return last.endswith("s") and token == last[:-1]


def _filter_question(r: Reading) -> bool:
    """'Which towns have a crime rate above 10?': a column compared with a number in a which/list/show request."""
    t = r.text
    if not t.tokens or t.tokens[0].lower not in ("which", "list", "show", "find", "what", "give", "get", "select"):
        return False
    comps = L()["comparators"]["hi"] + L()["comparators"]["lo"]
    metric_words = {k for _, i, j in _metric_mentions(r) for k in range(i, abs(j))}
    for c in r.columns:
        score, spans, _ = _name_match(r, c)
        if score < 3:
            continue
        for a, _b in spans:  # 'Which cars have more than 6 cylinders?': the comparator and number before the name
            before = t.span_text(max(0, a - 4), a).lower()
            if a >= 2 and t.tokens[a - 1].is_number and a - 1 not in metric_words and any(
                    before.endswith(x + " " + t.tokens[a - 1].text.lower()) for x in comps):
                return True
        for _a, b in spans:
            for off in range(4):  # 'a murder rate above 10': a word or two of the column's noun before the comparator
                after = t.span_text(b + off, min(len(t), b + off + 4)).lower()
                if any(after.startswith(x + " ") or after.startswith(x) and x in "<>≤≥=" for x in comps) and \
                        any(tok.is_number for tok in t.tokens[b + off:b + off + 4]) and b not in metric_words:
                    return True
                if b + off >= len(t) or t.tokens[b + off].is_number or t.tokens[b + off].lower in _SOFT_STOPS or \
                        t.tokens[b + off].lower in (".", "?", "!", ";") or b + off in metric_words:
                    break  # 'Which wives go out to work? Recall at least 0.8': the bound is the metric's
    return False


def _count_question(t: Text) -> bool:
    """'How many crabs of each colour are there?': a count of the rows at hand. 'How many riders will there be
    tomorrow?' asks about the future and is a prediction."""
    spans = t.find("how many")
    lead = [tok.lower for tok in t.tokens[:3] if tok.lower not in ("please", "pls", "can", "you", "just")]
    if lead and lead[0] in ("count", "tally", "enumerate") and not any(t.has(w) for w in (
            "will", "would", "next", "tomorrow", "future", "predict", "forecast", "model")):
        return True  # 'count respondents with a chronic condition': rows at hand, counted
    if not spans:
        return False
    a, b = t.clause_of(spans[0][0])

    def in_clause(p: str) -> bool:
        return any(a <= i and j <= b for i, j in t.find(p))

    future = any(in_clause(w) for w in ("will", "would", "going to", "next", "tomorrow", "expect", "future",
                                        "predict", "estimate", "forecast", "coming", "likely", "can", "could",
                                        "should", "new"))
    if future:
        return False
    # 'How many employees in the Sales department left?': a past event, already in the rows
    past = any(_past_tense(t.tokens[k].lower) for k in range(spans[0][1], b))
    # 'How many messages are spam?': a set of rows described (plural, no single item asked about)
    # 'How many messages are spam?', 'How many papers cite each other?': a set of rows described (plural, no single
    # item asked about, no 'does/did/will' question about one)
    plural = not any(in_clause(w) for w in ("this", "a", "an", "every", "one", "per", "that", "does", "do", "did",
                                            "his", "her", "its")) and not (in_clause("each") and not in_clause("each other"))
    return past or plural or any(in_clause(p) for p in L()["not_ml"]["count_question"])


def _past_tense(word: str) -> bool:
    """A lexical verb in the simple past that differs from its base form ('left', 'survived'; not 'quit', 'read',
    nor the auxiliaries 'did', 'was', 'had')."""
    if word in ("did", "was", "were", "had", "been") or not word.isalpha():
        return False
    from lemminflect import getAllLemmas, getInflection

    return any(word != lemma and word in getInflection(lemma, "VBD") for lemma in getAllLemmas(word).get("VERB", ()))


def _predictive(t: Text, col_words: set[str] | None = None) -> bool:
    cw = col_words or set()

    def modifier(a: int, b: int) -> bool:  # 'for each model year', 'by model name': a noun before a column's word
        return a > 0 and b < len(t) and bool(t.tokens[b].forms & cw) and t.tokens[a - 1].lower in (
            "each", "every", "per", "the", "a", "by", "of", "for", "their", "its")

    return any(any(not modifier(a, b) for a, b in t.find(w)) for w in (
        "predict", "classify", "classification", "classifier", "forecast", "cluster", "model", "train", "regression",
        "estimate", "detect", "segment", "group into") if w not in cw)


def _superlative(t: Text) -> str | None:
    """'the sweetest', 'the highest crime rate', 'at its highest', 'the most': a look-up, not a prediction."""
    asks = t.raw.rstrip().endswith("?") and t.tokens and t.tokens[0].lower in ("in", "which", "what", "when", "where")
    for k, tok in enumerate(t.tokens[1:], 1):
        if t.tokens[k - 1].lower not in ("the", "its", "their") and not (asks and t.tokens[k - 1].lower in (
                "usually", "typically", "generally", "normally", "often", "most", "least")):
            continue  # 'In which quarter is gas consumption usually highest?': a look-up too
        w = tok.lower
        if k + 1 < len(t) and t.tokens[k + 1].lower in ("likely", "probable", "probably", "risk", "chance",
                                                                 "probability"):
            continue  # 'the most likely to smoke' is a prediction
        if w in ("most", "least", "best", "worst") or (w.endswith("est") and len(w) > 5 and known(w) and
                                                      any(f != w and f.startswith(w[:3]) for f in tok.forms)):
            return t.span_text(k - 1, k + 1)
    return None


def _task_cued(t: Text) -> bool:
    return any(w >= 2 and t.has(p) for cues in L()["tasks"].values() for p, w in cues.items())


def _mentions_any_column(r: Reading) -> bool:
    return any(_name_match(r, c)[0] >= 3 for c in r.columns)


# ------------------------------------------------------------------------------------------ target
def _word_alternatives(word: str) -> list[str]:
    return list(_alternatives(word))


@lru_cache(maxsize=8192)
def _alternatives(word: str) -> tuple[str, ...]:
    """A column word and the phrases that mean it (concepts kept as data: 'temp' ~ temperature, 'age' ~ how old)."""
    out = [word]
    if word.endswith("ly") and len(word) > 5 and known(word[:-2]):
        out.append(word[:-2])  # 'monthly' ~ 'per month'
    wf = forms(word)
    for key, phrases in L()["concepts"].items():
        if len(key.split()) == 1 and forms(key) & wf:
            out += phrases
    many = (L().get("abbreviations") or {}).get(word)
    if isinstance(many, list):  # 'exp': experience or expectancy; 'pc': percent or per capita
        out += [p for m in many for p in _alternatives(m)]
    return tuple(out)


def _quantity_tokens(r: Reading) -> set[int]:
    """Tokens that are part of a duration ('after a year', 'the next 12 hours'): never a column mention."""
    if r.quantity_tokens is None:
        t = r.text  # 'after a year', 'the next 12 hours', 'last year' (a window word and a bare unit)
        r.quantity_tokens = {k for q in durations(r) if t_is_counted(r, q) or q.start > 0 and t.tokens[
            q.start - 1].lower in ("last", "next", "past", "previous", "coming", "following", "this", "prior")
            for k in range(q.start, q.end)}
    return r.quantity_tokens


def _rate_units(r: Reading) -> set[int]:
    """'each month', 'per year', 'every day': a rate's unit, never a column mention ('months')."""
    t, units = r.text, L()["time_units"]
    return {k for k in range(1, len(t)) if t.tokens[k - 1].lower in ("each", "every", "per", "a", "an") and
            (t.tokens[k].forms & set(units)) and t.tokens[k].lower not in ("s", "m", "h", "d")}


def _metric_tokens(r: Reading) -> set[int]:
    """Tokens of a metric's name and the word 'error' / 'loss' / 'score' beside it ('error MAE not more than 300'):
    never a column mention ('Errors')."""
    t = r.text
    out = {k for _, i, j in _metric_mentions(r) for k in range(i, abs(j))}
    for k in list(out):
        for n in (k - 1, k + 1):
            if 0 <= n < len(t) and t.tokens[n].forms & {"error", "loss", "score", "metric"}:
                out.add(n)
    return out


def _measure_heads(r: Reading) -> set[int]:
    """'years of education', 'the number of affairs', 'the level of support': a measure word before 'of' names what
    follows it, not a column of its own."""
    t, heads = r.text, set(L()["measure_heads"])
    return {k for k in range(len(t) - 2) if t.tokens[k].forms & heads and t.tokens[k + 1].lower == "of" and
            t.tokens[k + 2].is_word}


def t_is_counted(r: Reading, q: Quantity) -> bool:
    """A duration with a number said ('a year', '12 hours'), not a bare unit word ('the next day' stays)."""
    return q.end - q.start >= 2


def _name_match(r: Reading, col: str) -> tuple[float, list[tuple[int, int]], str]:
    """How well the instruction names ``col``: (score, token spans, evidence)."""
    best = _name_match_all(r, col)
    blocked = _quantity_tokens(r) | _metric_tokens(r) | _rate_units(r)
    own = set().union(*(forms(w) for w in core_words(col) + name_words(col)))
    blocked |= {k for k in _measure_heads(r) if not r.text.tokens[k].forms & own}  # 'years of education' is no age
    if best[0] and best[1] and all(set(range(a, b)) <= blocked for a, b in best[1]):
        return 0.0, [], ""
    return best


def _name_match_all(r: Reading, col: str) -> tuple[float, list[tuple[int, int]], str]:
    t = r.text
    best: tuple[float, list[tuple[int, int]], str] = (0.0, [], "")
    core = core_words(col)
    # the exact name as written ("v(g)", "OT", "Miles_per_Gallon", "att1")
    raw = t.raw
    if len(col) >= 2 or col == "y":
        for m in re.finditer(r"(?<!\w)" + re.escape(col) + r"(?![\w(])", raw, 0 if len(col) <= 2 else re.IGNORECASE):
            i = next((k for k, tok in enumerate(t.tokens) if tok.start >= m.start()), 0)
            j = next((k for k, tok in enumerate(t.tokens) if tok.start >= m.end()), len(t))
            score = 3.0 + 0.5 * len(core) + (0.75 if m.group(0) == col else 0.0) + \
                (0.5 if not re.fullmatch(r"[A-Za-z]+", col) else 0.0)
            spans = (best[1] if best[0] else []) + [(i, j)]  # every place it is written: 'Target: defects'
            best = (max(score, best[0]), spans, f"the column name {col!r} is written")
    # the name as words, each word also by its synonyms: 'HarvestTime' ~ 'harvest time', 'temp_max' ~ 'max
    # temperature', 'smoking' ~ 'smoke', singular/plural
    if core:
        per_word: list[list[tuple[int, int]]] = []
        digit_words: set[int] = set()
        if len(core) > 1 and any(w not in _COUNT_WORDS for w in core):  # 'how many affairs' names nbaffairs
            core = [w for w in core if w not in _COUNT_WORDS]
        lead = core[0] if len(core) >= 2 and len(core[0]) == 1 and core[0].isalpha() and \
            len(name_words(col)[0]) > 1 else None  # 'Hwt', 'lwage': a letter fused to a word
        for w in core[1:] if lead else core:
            if len(w) == 1 and w.isalpha() and per_word and per_word[-1]:  # 'Solar.R' ~ 'solar radiation'
                per_word.append([(b, b + 1) for _, b in per_word[-1] if b < len(t) and t.tokens[b].is_word and
                                 t.tokens[b].lower.startswith(w) and len(t.tokens[b].lower) > 3])
                continue
            if w.isdigit():  # 'channel 1' names total_inten_ch_1, not ..._ch_2 (a number alone names nothing)
                digit_words.add(len(per_word))
                per_word.append([(k, k + 1) for k, tok in enumerate(t.tokens) if tok.is_number and tok.text == w])
                continue
            if len(w) == 2 and w.isalpha() and w not in ("hp", "os", "th", "st", "nd", "rd") and not known(w) and \
                    w not in STOP and not _word_alternatives(w)[1:]:
                per_word.append([(k, k + 1) for k, tok in enumerate(t.tokens) if tok.is_word and  # 'Wr.Hnd' ~
                                 tok.lower.startswith(w) and len(tok.lower) >= 5 and tok.lower not in STOP and
                                 not tok.forms & (_REQUEST_WORDS | _TASK_WORDS)])
                continue
            if len(w) < 2 or (len(w) < 3 and w not in ("hp", "os") and not _word_alternatives(w)[1:]):
                continue
            found = []
            for alt in _word_alternatives(w):
                found = t.find(alt)
                if found:
                    break
            else:  # an abbreviation in the name: 'arr' ~ arrival, 'temp' ~ temperature, 'hwy' ~ highway
                if len(w) >= 3 and w.isalpha() and not known(w):
                    found = [(k, k + 1) for k, tok in enumerate(t.tokens)
                             if tok.is_word and _abbreviates(w, tok.lower)]
                elif len(w) >= 3 and w.isalpha():  # 'grad' ~ graduation; 'employment' ~ employed
                    found = [(k, k + 1) for k, tok in enumerate(t.tokens) if tok.is_word and tok.lower not in STOP
                             and not tok.forms & _REQUEST_WORDS and (any(  # 'beds' ~ bedrooms
                                 tok.lower.startswith(f) and len(tok.lower) >= len(f) + 4 for f in forms(w) if len(f) >= 3) or
                                  any(_same_stem(w, f) for f in tok.forms))]  # 'owns' ~ owner
            per_word.append(found)
        if lead and per_word:  # the letter is the first letter of the word right before: 'heart weight', 'log wage'
            adj = [(a - 1, a) for a, _ in per_word[0] if a > 0 and t.tokens[a - 1].is_word and
                   t.tokens[a - 1].lower.startswith(lead) and len(t.tokens[a - 1].lower) > 2]
            if adj:
                per_word[0] = [(a, b) for a, b in per_word[0] if (a - 1, a) in adj]
            per_word.insert(0, adj)
            digit_words = {k + 1 for k in digit_words}
        # the words of one name said together: count the hits within one sentence ('how old was each passenger?
        # ... from sex, class' does not name passengerClass)
        sentences = sorted({t.clause_of(a) for found in per_word for a, _ in found})
        hits, spans, hit_idx = [], [], []
        for sa, sb in sentences:
            in_s = [[(a, b) for a, b in found if sa <= a < sb] for found in per_word]
            if all(k in digit_words for k, x in enumerate(in_s) if x):
                continue
            if sum(bool(x) for x in in_s) > len(hits):
                hits = [t.span_text(*x[0]) for x in in_s if x]
                spans = [sp for x in in_s for sp in x]
                hit_idx = [k for k, x in enumerate(in_s) if x]
        if hits:
            frac = len(hits) / len(core)
            if lead and 0 not in hit_idx:  # 'the wages' names lwage: the fused letter counts for little
                frac = len(hits) / (len(core) - 1) - 1 / 6
            # a two-word name named by its head noun ('how strong' ~ compressive_strength): the modifier only narrows
            head = 1.0 if len(core) == 2 and hit_idx == [1] and not lead and len(core[0]) > 2 else 0.0
            seq = sorted(x[0] for x in [[sp for sp in spans if sp in f] for f in per_word] if x)
            gaps = [sum(t.tokens[x].lower not in STOP for x in range(e, b)) for (_a, e), (b, _e) in zip(seq, seq[1:])]
            if len(hits) >= 2 and not any(gaps):  # the words said as one phrase: 'the total day charge', not 'day ...
                head += 0.5  # minutes'
            elif len(hits) >= 2 and max(gaps) > 3:  # 'the average test score ... and income' names no avginc
                head -= 0.5
            score = head + 3.0 * frac + 0.5 * len(hits) - (0.5 if frac < 1 and len(core) > 1 else 0.0) - \
                sum(1.5 * (1 - len(w) / len(h)) for w, h in zip(core, hits) if len(core) == 1 and
                    not _word_alternatives(w)[1:] and len(h) > len(w) and not h.lower().startswith(w) and
                    _abbreviates(w, h.lower()))  # 'drv' ~ 'driving' is a looser reading than 'cty' ~ 'city'
            if score > best[0]:
                best = (score, spans, f"the words of {col!r} ({', '.join(hits)}) are in the instruction")
    # acronyms: 'oil temperature' ~ OT, 'blood pressure' ~ bp; never over words that are another column's name
    # ('unit sales' is Sales, not US)
    if re.fullmatch(r"[A-Z]{2,4}", col) or (re.fullmatch(r"[a-z]{2,4}", col) and not known(col)):
        letters = col.lower()
        other_names = {c.lower() for c in r.columns if c != col}
        words = [k for k, tok in enumerate(t.tokens) if tok.is_word]
        for a in range(len(words)):
            for n in range(max(1, len(letters) - 2), len(letters) + 1):  # 'high useful load' ~ HUFL (use-ful)
                idx = words[a:a + n]
                if len(idx) < n or n < 2 or idx != list(range(idx[0], idx[0] + n)) or best[0] >= 3.5:
                    continue
                initials = [""]
                for k in idx:
                    initials = [x + y for x in initials for y in _initials(t.tokens[k].lower)]
                if letters in initials and all(t.tokens[k].lower not in STOP and not (t.tokens[k].forms & other_names)
                                               for k in idx):
                    best = (3.5, [(idx[0], idx[-1] + 1)], f"{_quote(t, idx[0], idx[-1] + 1)} abbreviates {col!r}")
    # a concept spanning several words of the name: 'mpg' ~ Miles_per_Gallon
    name_forms = set().union(*(forms(w) for w in core)) if core else set()
    for key, phrases in L()["concepts"].items():
        kwords = [k for k in key.split() if k not in STOP]
        if len(kwords) < 2 or not all(forms(k) & name_forms for k in kwords):
            continue
        rest = [w for w in core if not forms(w) & set().union(*(forms(k) for k in kwords)) and len(w) > 2]
        more = [s for w in rest for alt in _word_alternatives(w) for s in t.find(alt)[:1]]  # 'on the highway'
        for p in phrases:
            spans = t.find(p)
            if spans:
                score = 3.0 + 0.5 * len(kwords) + 0.75 * len(more)
                if score > best[0]:
                    best = (score, spans + more, f"{_quote(t, *spans[0])} means {col!r}")
    return best


_COUNT_WORDS = ("number", "count", "num", "amount", "total")
_TASK_WORDS = frozenset(w for cues in L()["tasks"].values() for p in cues for w in p.split())
def _initials(word: str) -> list[str]:
    """A word's letters in an acronym: its first, or the first of each part of a derived word ('useful' u / uf)."""
    out = [word[:1]]
    for suffix in ("ful", "less", "ness", "ment", "way", "time", "point", "line"):
        if word.endswith(suffix) and len(word) > len(suffix) + 2 and known(word[:-len(suffix)]):
            out.append(word[0] + suffix[0])
    return out


_REQUEST_WORDS = frozenset(w for p in L()["ml_words"] + L()["target_cues"] for w in p.split()) | {
    "classifier", "classification", "clustering", "regression", "regressor", "forecasting", "prediction", "predictor"}


def _degree_word(word: str) -> bool:
    """An adjective or adverb of degree after 'how' ('how educated', 'how deep')."""
    from lemminflect import getAllLemmas

    return word.isalpha() and bool({"ADJ", "ADV"} & set(getAllLemmas(word)))


_DERIVATIONS = ("er", "or", "ers", "ors", "ing", "ment", "ship", "ness", "ion", "ation", "ity", "al")


def _same_stem(a: str, b: str) -> bool:
    """Two words of one family by a long shared beginning ('employment' ~ 'employed', 'graduation' ~ 'graduate')."""
    if b in _REQUEST_WORDS:  # 'class' is no 'classify'
        return False
    short, long_ = sorted((a, b), key=len)
    if len(short) >= 3 and any(short + x == long_ for x in _DERIVATIONS):  # 'own' ~ owner, 'employ' ~ employment
        return True
    if len(short) >= 4 and short.endswith("y") and any(short[:-1] + "i" + x == long_ for x in _DERIVATIONS):
        return True  # 'deny' ~ denial, 'vary' ~ variation
    if min(len(a), len(b)) < 6:
        return False
    n = next((k for k, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
    return n >= 5 and n >= 0.7 * min(len(a), len(b)) and a != b


def _abbreviates(short: str, word: str) -> bool:
    """``short`` is an abbreviation of ``word``: its first letter, then its letters in order ('hwy' ~ highway,
    'cty' ~ city, 'drv' ~ drive, 'crim' ~ crime, 'temp' ~ temperature)."""
    if len(word) <= len(short) or word[0] != short[0] or not word.isalpha():
        return False
    if word.startswith(short):
        return len(word) >= len(short) + (1 if len(short) >= 4 else 2)
    if not known(word):
        return False
    it = iter(word[1:])
    return all(c in it for c in short[1:]) and len(word) <= 3 * len(short)


def _code_match(r: Reading, values: list[Any]) -> tuple[float, list[tuple[int, int]], str]:
    """One-letter codes named by their words: species B/O and 'the blue crabs from the orange ones' (two words of
    one clause, joined by 'or' / 'from' / 'vs', each starting with a different code)."""
    codes = {str(v).lower() for v in values if isinstance(v, str) and 1 <= len(str(v)) <= 3 and str(v).isalpha()}
    multi = any(len(c) > 1 for c in codes)  # 'CH'/'MM': initials of two-word names
    if not 2 <= len(codes) <= 3 or len(codes) != len(values):
        return 0.0, [], ""
    t = r.text
    for k, tok in enumerate(t.tokens):
        if tok.lower not in ("or", "from", "vs", "versus", "and"):
            continue
        a, b = t.clause_of(k)
        left = [i for i in range(max(a, k - 2), k) if t.tokens[i].is_word and t.tokens[i].lower not in STOP and
                len(t.tokens[i].lower) > 2 and t.tokens[i].lower[0] in codes]
        right = [i for i in range(k + 1, min(b, k + 3)) if t.tokens[i].is_word and t.tokens[i].lower not in STOP
                 and len(t.tokens[i].lower) > 2 and t.tokens[i].lower[0] in codes]
        pairs = [(i, j) for i in left for j in right if t.tokens[i].lower[0] != t.tokens[j].lower[0]]
        if pairs and multi:
            pairs = []
        for n in sorted({len(c) for c in codes if len(c) > 1}):  # 'citrus hill or minute maid': CH/MM
            lw, rw = t.tokens[max(a, k - n):k], t.tokens[k + 1:min(b, k + 1 + n)]
            if len(lw) == n == len(rw) and all(x.is_word for x in lw + rw):
                li, ri = "".join(x.lower[0] for x in lw), "".join(x.lower[0] for x in rw)
                if li != ri and {li, ri} <= codes:
                    return 2.5, [(k - n, k), (k + 1, k + 1 + n)], (
                        f"its codes {'/'.join(str(v) for v in values)} are the initials of "
                        f"{t.span_text(k - n, k)!r} and {t.span_text(k + 1, k + 1 + n)!r}")
        if pairs:
            i, j = pairs[0]
            shown = f"{t.tokens[i].text}/{t.tokens[j].text}"
            return 2.5, [(i, i + 1), (j, j + 1)], (f"its codes {'/'.join(str(v) for v in values)} are the first "
                                                   f"letters of {shown!r}")
    return 0.0, [], ""


def _listed_codes(t: Text) -> list[list[int]]:
    """Codes the instruction lists in parentheses, each list as token indexes: '(P, S, PS)', 'America (1), Europe (2)
    or Japan (3)' (one code in each of several parentheses of one sentence)."""
    groups: list[list[int]] = []
    singles: dict[tuple[int, int], list[int]] = {}
    k = 0
    while k < len(t):
        if t.tokens[k].lower not in ("(", "["):
            k += 1
            continue
        end = next((x for x in range(k + 1, min(len(t), k + 16)) if t.tokens[x].lower in (")", "]")), None)
        if end is None:
            k += 1
            continue
        items = [x for x in range(k + 1, end) if t.tokens[x].lower not in (",", "/", "or", "and", ";")]
        if items and all(t.tokens[x].is_number or t.tokens[x].is_word and len(t.tokens[x].text) <= 4 for x in items) \
                and all(t.tokens[x].lower in (",", "/", "or", "and", ";") for x in range(k + 1, end) if x not in items):
            if len(items) >= 2:
                groups.append(items)
            elif len(items) == 1:
                singles.setdefault(t.clause_of(k), []).append(items[0])
        k = end + 1
    return groups + [v for v in singles.values() if len(v) >= 2]


def _value_match(r: Reading, col: str) -> tuple[float, list[tuple[int, int]], str]:
    """The instruction names the values ``col`` holds ('the good from the rotten' ~ Quality: Good/Bad)."""
    values = (r.peek.get("values") or {}).get(col) or []
    strs = [str(v) for v in values if isinstance(v, str) and len(str(v)) > 1]
    if len(values) > 20:
        return 0.0, [], ""
    t = r.text
    shown_values = {(str(int(v)) if isinstance(v, float) and v.is_integer() else str(v)).lower() for v in values}
    for group in _listed_codes(t):  # '(P, S, PS)' lists education's codes; 'Europe (2)' origin's
        codes = {t.tokens[x].text.lower() for x in group}
        if codes <= shown_values and len(codes) >= min(3, len(shown_values)):
            return 3.0, [(x, x + 1) for x in group], (f"its codes {'/'.join(sorted(shown_values))} are listed "
                                                     f"({', '.join(t.tokens[x].text for x in group)})")
    if not strs:
        return _code_match(r, values)
    if all(len(v) <= 3 and v.isupper() for v in strs):  # 'CH'/'MM' named by their words
        code = _code_match(r, values)
        if code[0] > 0:
            return code
    hits, spans = [], []
    for v in strs:
        s = t.find(v.replace("_", " "))
        if not s:  # '1. Industrial' ~ 'industrial'; 'AsstProf' ~ 'assistant professor', 'an assistant'
            words = [w for w in core_words(re.sub(r"^\s*\d+\s*[.)]\s*", "", v)) if not w.isdigit()]
            found = [t.find(w) for w in words]
            others = {x for o in strs if o != v for x in core_words(o)}
            if words and found[0] and (all(found) or words[0] not in others):  # the first word says which value
                s = [sp for f in found for sp in f]
        if not s and v.isalpha() and (len(v) >= 4 and not known(v) or len(v) == 3 and v[0].isupper() and
                                      v[1:].islower()):  # 'carni' ~ carnivore; a place cut short: 'Vic' ~ Victoria
            s = [(k, k + 1) for k, tok in enumerate(t.tokens) if tok.is_word and len(tok.lower) > len(v) + 1 and
                 tok.lower.startswith(v.lower()) and (len(v) >= 4 or tok.text[0].isupper())]
        if s:
            hits.append(v)
            spans += s
            continue
        # a word of the same concept as the value ('rotten' ~ Bad; 'junk' ~ spam)
        for phrases in L()["concepts"].values():
            if v.lower() in phrases:
                for p in phrases:
                    s = t.find(p)
                    if s and p != v.lower():
                        hits.append(f"{v}~{t.span_text(*s[0])}")
                        spans += s
                        break
                break
    if not hits:
        return 0.0, [], ""
    score = 2.0 + 1.0 * min(len(hits), 2)
    shown = "/".join(strs[:5])
    return score, spans, f"its values {shown} match {', '.join(repr(h) for h in hits[:3])}"


_TARGET_CUES = ("predict", "estimat", "forecast", "classif", "target", "label", "guess", "how", "which", "whether",
                "what", "tell", "detect", "identify", "flag", "spot", "filter", "know", "separate", "sort", "compare",
                "against", "match", "evaluate", "find", "recogni", "who", "will", "does", "is", "diagnos", "catch",
                "where")
_FEATURE_CUES = ("from", "using", "use", "based", "by", "given", "with")
_WEAK_CUES = ("is", "will", "does", "if")
_SOFT_STOPS = ("but", "while", "so", "although", "though")


def _qualifies(t: Text, i: int, head: set[int]) -> bool:
    """The mention at token i follows 'of' / 'for' right after another column's mention ('expenditure of card')."""
    while i > 0 and t.raw[t.tokens[i - 1].end:t.tokens[i].start] == "-":
        i -= 1  # 'of a state-year'
    k = i - 1
    while k >= 0 and t.tokens[k].lower in ("the", "a", "an", "its", "their", "each", "every", "all"):
        k -= 1
    return k >= 1 and t.tokens[k].lower in ("of", "for", "among", "by") and any(  # 'the violent crime rate of a
        (k - d) in head and all(t.tokens[x].is_word for x in range(k - d + 1, k)) for d in (1, 2, 3))  # state'


_AUX = ("will", "would", "is", "are", "was", "were", "does", "do", "did", "can", "could", "should", "might", "may")
_STRONG_CUES = {"predict", "estimate", "forecast", "classify", "regress", "logit", "probit"}
_REGRESS_ON = {"regress", "logit", "probit", "regression"}  # 'regress y on x', 'logit for y on x'


def _role(r: Reading, spans: list[tuple[int, int]]) -> tuple[float, str]:
    """Where a mention sits in its clause: after 'predict/estimate/which' (+), after 'from/using/based on' (-)."""
    t = r.text
    best, why = -9.0, ""
    for i, j in spans:
        a, _b = t.clause_of(i)
        score, w = 0.0, ""
        nxt = t.tokens[j].lower if j < len(t) else ""
        prev = t.tokens[i - 1].lower if i > 0 else ""
        if nxt == "~" or (prev == "~" and i == 1):  # an R formula, 'wage ~ age + education'
            score, w = (2.5, "the left side of a formula") if nxt == "~" else (score, w)
            best, why = max((best, why), (score, w))
            continue
        if nxt in ("column", "col", "field", "variable") or prev in ("column", "target", "label") or \
                (prev == ":" and i > 1 and t.tokens[i - 2].lower in ("target", "label", "y", "column")):
            score, w = 2.0, "pointed at as the column"
            best, why = max((best, why), (score, w))
            continue
        nouns = L()["data_nouns"]
        if (nxt in nouns or (j + 1 < len(t) and nxt in ("-", "care") and t.tokens[j + 1].lower in nouns) or (
                j + 2 < len(t) and nxt in ("and", "&", "/", ",") and t.tokens[j + 1].lower.isalpha() and
                t.tokens[j + 2].lower in nouns)) or (
                i >= 2 and t.tokens[i - 1].lower in ("of", "on", "about") and t.tokens[i - 2].lower in nouns):
            # 'a health survey file', 'the credit card file', 'this survey of workers': what the data is about
            best, why = max((best, why), (-2.5, "describes the data, not what to predict"))
            continue
        declared = next((kind for kind, a0, b0 in _declared_fields(t.raw) if a0 <= t.tokens[i].start < b0 and
                         t.raw.count("(", a0, t.tokens[i].start) <= t.raw.count(")", a0, t.tokens[i].start)), None)
        if declared:  # '- target: hours of REM sleep' / '- features: total sleep, ...'
            best, why = max((best, why), (2.0, "declared as the target") if declared == "target" else
                            (-2.0, "declared as an input"))
            continue
        unit = next((t.tokens[x].lower for x in (i - 1, i - 2) if x >= a and t.tokens[x].lower in ("each", "every", "per")
                     and (x == i - 1 or t.raw[t.tokens[i - 1].end:t.tokens[i].start] == "-")), None)  # 'state-year'
        ordered = sorted(spans)
        if unit and (i, j) == ordered[0] and all(b[0] <= e[1] + 1 for e, b in zip(ordered, ordered[1:])):  # 'the fatality count for each state-year', 'price per square foot': a unit, not what is predicted
            return -1.5, f"named as the unit predicted for ('{unit} ...')"
        if t.tokens[a].lower in _AUX + ("has", "have") and _b < len(t) and t.tokens[_b].lower == "?" and _b - j <= 1 \
                and i > a + 2 and not any(t.tokens[x].lower in _FEATURE_CUES + ("whether", "if", "which", "what", "how")
                                          for x in range(a, i)):
            # 'Would a 30-year-old woman in third class have made it?': the predicate is asked
            best, why = max((best, why), (1.5, "the predicate of a yes/no question"))
            continue
        dep = [sp for p in L()["depends_cues"] for sp in t.find(p) if a <= sp[0] < _b]
        if any(0 <= ca - j <= 1 for ca, _cb in dep):  # 'salary depends on years since PhD'
            best, why = max((best, why), (1.5, "named as what depends on the others"))
            continue
        if any(i >= cb for _ca, cb in dep):
            best, why = max((best, why), (-2.0, "named as what it depends on"))
            continue
        lead = " ".join(tok.lower for tok in t.tokens[a:i])
        if any(lead.startswith(p + " ") for p in L()["known_conditions"]) and "," in t.tokens_lower(i, _b) and \
                "," not in t.tokens_lower(a, i):
            best, why = max((best, why), (-2.0, "named as what is known ('if I know X, ...')"))
            continue  # 'If I know how long an eruption lasted, can you predict ...': a given, not the target
        listed = False  # the mention follows ', and whether ...': a list that may belong to an earlier 'from'
        for k in range(i - 1, a - 1, -1):
            low = t.tokens[k].lower
            if low in ("(", "[") and k == i - 1:
                continue  # '(HHV)' right after what it names: the context is the sentence's
            if low in ("(", "[", ")"):
                break  # a parenthesis is its own context
            if low in _SOFT_STOPS:
                break  # '..., but I don't want a black box': another clause
            if low == "on" and any(t.tokens[c].forms & _REGRESS_ON for c in range(a, k)):
                score, w = -2.0, "named as a regressor ('regress y on x')"  # 'regress prestige on education, ...'
                break
            if (low in ("model", "regress") or t.tokens[k].forms & _REGRESS_ON) and i - 2 <= k < i:
                score, w = 1.5, "named as what to predict"  # 'model Sales with an SVM', 'regress loc on ...'
                break
            if low in _WEAK_CUES and k != a:
                continue  # 'is', 'will', 'if' mid-sentence say little; at the start they ask ('Is the store ...?')
            if low == "by" and any(t.tokens[c].forms & set(L()["class_by_verbs"]) for c in range(max(a, k - 4), k)):
                score, w = 1.5, "named as the classes ('classify X by Y')"  # 'classify voters by education level'
                break
            if low in _FEATURE_CUES:
                before = [tok.lower for tok in t.tokens[a:k]]
                if low == "with" and any(b.startswith(("compar", "match", "evaluat", "align", "agree")) or b == "up"
                                         for b in before):
                    score, w = 1.5, "named as the reference"
                else:
                    score, w = -2.0, "named as an input"
                break
            if low in _TARGET_CUES or any(len(c) >= 4 and low.startswith(c) for c in _TARGET_CUES):
                if k > a and t.tokens[k - 1].lower in _FEATURE_CUES:  # 'from how big it is': an input
                    score, w = -2.0, "named as an input"
                    break
                if k > a and t.tokens[k - 1].lower in (",", "and", "or") and not listed and \
                        low in ("whether", "which", "what", "how", "who", "if") and not (
                            k + 1 < len(t) and t.tokens[k + 1].lower in _AUX):  # 'Given a week, what will X be?'
                    listed = True  # 'from sex, class and whether they survived': look further back
                    score, w = 1.5, "named as what to predict"
                    continue
                if not listed:
                    score, w = 1.5, "named as what to predict"
                    if low in _WEAK_CUES and k == a and any(
                            t.tokens[c].forms & _STRONG_CUES for c in range(len(t)) if not a <= c < i):
                        score, w = 0.5, "the subject of a question ('Does ...?'); another sentence says what to predict"
                    aux = ("does", "do", "did", "will", "would", "can", "could", "should", "is", "are", "was", "were")
                    if low == "how" and k + 2 < i and (t.tokens[k + 1].lower in ("many", "much") or _degree_word(
                            t.tokens[k + 1].lower)) and t.tokens[k + 2].lower in aux:
                        # 'How much does a cardholder spend?', 'How heavy will a chick be?': the subject is no
                        s0 = k + 3 + (t.tokens[k + 3].lower in ("a", "an", "the", "this", "each", "every", "one"))
                        if i == s0:  # target, the amount of the verb is
                            score, w = 0.5, "the subject of 'how much ...'"
                    elif low == "how" and k + 1 < i and t.tokens[k + 1].lower in ("many", "much") and \
                            i - (k + 2) > 2:  # 'How many claims will a policy group file?': the count is of claims
                        score, w = 0.5, "named after what 'how many' counts"
                break
        if score > best:
            best, why = score, w
    return (best if best > -9 else 0.0), why


def target_candidates(r: Reading) -> list[tuple[float, str, str]]:
    """Columns scored as the target, best first: (score, column, evidence)."""
    if r.candidates is None:
        r.candidates = _target_candidates(r)
    return list(r.candidates)


def _target_candidates(r: Reading) -> list[tuple[float, str, str]]:
    cols = r.columns
    if not cols:
        return []
    generic = set(L()["target_names"])
    unlikely = set(L()["unlikely_target_names"])
    common = set(L()["common_target_words"])
    # the data file's own name often says what it is for ('CrabAgePrediction', 'banana_quality')
    file_words = set().union(*(forms(w) for w in name_words(str(r.peek.get("name") or ""))
                               if len(w) > 2 and w not in ("csv", "data", "dataset", "rdatasets")), set())
    out = []
    roles: dict[str, float] = {}
    file_named = bool(file_words) and any(forms(w) & file_words for c in cols for alt in (
        _word_alternatives(w) for w in core_words(c)) for w in alt if " " not in w)  # the file's name says it
    split_values = set(L()["split_values"])
    shared: dict[frozenset[str], int] = {}
    named: dict[str, set[int]] = {}
    for vals in (r.peek.get("values") or {}).values():
        key = frozenset(str(v).lower() for v in vals)
        shared[key] = shared.get(key, 0) + 1
    for idx, col in enumerate(cols):
        if col == r.peek.get("date_column"):
            continue
        vs = {str(v).lower() for v in (r.peek.get("values") or {}).get(col) or []}
        if len(vs) >= 2 and vs <= split_values:
            continue  # a column that says train/test is a split, never what is predicted
        n_score, n_spans, n_why = _name_match(r, col)
        v_score, v_spans, v_why = _value_match(r, col)
        if v_score and shared.get(frozenset(vs), 0) > 1:
            v_score -= 1.5  # Low/Medium/High in four columns: the values alone do not say which
        score, spans, why = (n_score, n_spans, n_why) if n_score >= v_score else (v_score, v_spans, v_why)
        if n_score and v_score:
            score += 0.5
        if score >= 2.5:  # a column the instruction names: where it is named matters
            role, role_why = _role(r, spans)
            roles[col] = role
            score += role
            if role_why:
                why += f"; {role_why}"
        prior = 0.0
        if col.lower() in generic:
            prior += 1.2
            why = why or f"{col!r} is a conventional name for what is predicted"
            said = [w for w in generic if r.text.has(w) and w != col.lower()]
            if said:  # "the wine class" with a column named 'target'
                prior += 1.5
                why = f"{col!r} is the conventional target column and the instruction says {said[0]!r}"
        if idx == len(cols) - 1:
            prior += 0.3
            why = why or f"{col!r} is the last column (a convention, not something the instruction says)"
        nun = (r.peek.get("nunique") or {}).get(col)
        if nun is not None and 2 <= nun <= 10 and col not in (r.peek.get("text_columns") or []):
            prior += 0.2
            if col not in (r.peek.get("numeric") or []) and score < 2.5:
                prior += 0.3  # a few named categories: a label more often than a coded number is (for a guess)
        if col.lower() in unlikely and score < 2.5:
            prior -= 0.5
        if score > 0 and {"average", "mean", "avg"} & set(core_words(col)) and not any(
                r.text.has(w) for w in ("average", "mean", "avg", "high", "low", "max", "min", "maximum", "minimum")):
            prior += 0.3  # 'the temperature', said plainly, is avg_temp rather than high_temp
        if score == 0 and set(name_words(col)) & common and col.lower() not in generic and not file_named:
            prior += 0.9  # 'price', 'churn', 'default': what tables of this kind are usually collected to predict
            why = why or f"{col!r} names what such tables are usually collected to predict (a guess)"
        if file_words and score < 2.5 and any(forms(w) & file_words for alt in (_word_alternatives(w) for w in core_words(col))
                              for w in alt if " " not in w):
            prior += 0.6
            why = why or f"the file's name ({r.peek.get('name')!r}) names {col!r}"
        out.append((round(score + prior, 3), col, why))
        named[col] = {k for a, b in spans for k in range(a, b)} if score >= 2.5 else set()
    # 'health insurance' names health_ins, and 'health' only as a part of it
    for k, (score, col, why) in enumerate(out):
        inside = named.get(col)
        if inside and any(inside < other and max(other) - min(other) + 1 <= len(other) + 2
                          for c, other in named.items() if c != col):
            out[k] = (round(score - 1.5, 3), col, why + "; a part of another column's name that is written whole")
        # 'the expenditure of card holders': card qualifies another named column, the head of the phrase
        elif inside and any(_qualifies(r.text, min(inside), other) for c, other in named.items() if c != col and other):
            out[k] = (round(score - 1.0, 3), col, why + "; it qualifies another column named before it")
        # "a professor's beauty rating": the possessor qualifies the column named after it
        elif inside and (max(inside) + 3 <= len(r.text)) and r.text.tokens[max(inside) + 1].lower == "'" and \
                r.text.tokens[max(inside) + 2].lower in ("s", "") and any(
                    other and min(other) in (max(inside) + 3, max(inside) + 4) for c, other in named.items() if c != col):
            out[k] = (round(score - 1.0, 3), col, why + "; a possessor of another column named after it")
    # 'How long does a car take to stop at a given speed?' (speed, dist): every column named is an input, and one
    # column is left
    rest = [c for c in cols if not named.get(c) and c not in roles and c != r.peek.get("date_column") and
            c.lower() not in unlikely]
    if roles and all(v < 0 for v in roles.values()) and len(rest) == 1:
        out = [(round(sc + 2.5, 3), c, f"{c!r} is the one column not named as an input") if c == rest[0] else
               (sc, c, why) for sc, c, why in out]
    out.sort(key=lambda x: (-x[0], cols.index(x[1])))
    return out


def find_target(r: Reading) -> tuple[str | None, FieldSource]:
    cands = target_candidates(r)
    if not cands:
        return None, _src(None, 0.0, "the data's columns are not known")
    options = [c for _, c, _ in cands[:8]]
    s1, best, why = cands[0]
    s2 = cands[1][0] if len(cands) > 1 else 0.0
    margin = s1 - s2
    if s1 >= 3.0 and margin >= 0.75:
        conf = 0.95 if margin >= 1.5 else 0.8
    elif s1 >= 2.5 and margin >= 0.5:
        conf = 0.7
    elif s1 >= 1.2 and best.lower() in set(L()["target_names"]) and margin >= 0.5:
        conf = 0.6  # only the conventional name points at it
    elif s1 > 0:
        conf = 0.3 if s1 >= 1.0 else 0.15
    else:
        conf = 0.0
    return best, _src(best, conf, why or "no column is named; a guess", options)


def _text_target(r: Reading, split_col: str | None) -> tuple[str | None, FieldSource]:
    texts = (r.peek.get("text_columns") or []) + ([split_col] if split_col else [])
    label = r.peek.get("label_column")
    cands = [c for c in target_candidates(r) if c[1] not in texts]
    if cands and cands[0][0] >= 3.0 and cands[0][1] != label:
        return cands[0][1], _src(cands[0][1], 0.8, cands[0][2], [c for _, c, _ in cands[:6]])
    if label:
        return label, _src(label, 0.9, f"{label!r} is the data's label column (the other columns are the texts)",
                           [c for c in r.columns if c not in texts])
    return None, _src(None, 0.0, "no label column found")


# ------------------------------------------------------------------------------------------ metrics
def _metric_mentions(r: Reading) -> list[tuple[str, int, int]]:
    """(metric, start, end) of each metric named; a negative end marks a complement ('error rate': accuracy)."""
    if r.metric_spans is None:
        r.metric_spans = _find_metric_mentions(r)
    return list(r.metric_spans)


def _find_metric_mentions(r: Reading) -> list[tuple[str, int, int]]:
    t = r.text
    found: list[tuple[str, int, int]] = []
    taken: set[int] = set()
    phrases = sorted(((name, p) for name, ps in L()["metrics"].items() for p in ps),
                     key=lambda x: -len(x[1].split()))
    for name, p in phrases:
        if name == "accuracy" and p in ("right", "correct", "accurate"):
            continue  # only with a rate ("right 9 times out of 10"), below
        for i, j in t.find(p):
            if taken & set(range(i, j)):
                continue
            if p in ("roc", "ri", "acc", "ari") and t.tokens[i].text.isalpha() and len(t.tokens[i].text) <= 3 and \
                    t.tokens[i].text.lower() != p:
                continue
            taken.update(range(i, j))
            found.append((name, i, j))
    rules = L()["metric_rules"]
    # 'it has to catch at least 70% of the applications that end up denied', 'finds nine in ten of the women': the
    # share of positives found; "can't miss more than a third of the buyers": its complement
    if not any(n == "recall" for n, _, _ in found):
        verbs = [(v, v + 1, False) for v, tok in enumerate(t.tokens) if tok.forms & set(rules["recall_verbs"])]
        verbs += [(a, b, True) for w in rules["miss_verbs"] for a, b in t.find(w)]
        for v, ve, missed in sorted(verbs):
            for k in range(ve, min(len(t), ve + 5)):
                share = _share_at(t, k)
                if share is None:
                    if t.tokens[k].is_number:
                        break
                    continue
                e = share[1]
                if any(t.tokens[x].lower == "times" for x in range(k, e)) or any(
                        t.tokens[x].lower in ("right", "correct", "correctly", "wrong") for x in range(e, min(len(t), e + 4))):
                    break  # 'right three times out of four', 'gets 70% of cases right': a rate, not a share of the positives
                linked = any(t.tokens[x].lower == "of" and t.tokens[x - 1].lower != "out"
                             for x in range(k, e))  # '85 of every 100 smokers', not '3 out of 4'
                group = not missed and t.tokens[v].lower not in ("get", "gets", "getting", "got") and any(
                    x < len(t) and t.tokens[x].lower.isalpha() and t.tokens[x].lower.endswith("s") and
                    t.tokens[x].lower not in ("is", "was", "has", "does", "times")
                    for x in (e, e + 1))  # 'catch 9 in 10 malignant tumours'
                if (linked or group or e < len(t) and t.tokens[e].lower == "of") and \
                        t.span_text(e, min(len(t), e + 3)).lower() != "of the time" and not taken & set(range(v, e)):
                    taken.update(range(v, e))
                    found.append(("recall", v, -ve if missed else ve))
                break
            if any(n == "recall" for n, _, _ in found):
                break
    for i, j in _rate_spans(t):
        if not any(n in ("accuracy", "precision") for n, _, _ in found) and not taken & set(range(i, j)):
            # 'when it flags a message as spam it has to be right 98% of the time': right among what it flags
            a, _b = t.clause_of(i)
            cond = any(t.tokens[c].lower in ("when", "whenever", "if", "of", "among", "amongst") and
                       (t.tokens[c].lower != "of" or c == a or t.tokens[c - 1].lower in (",", ";", ":", "and")) and any(
                t.tokens[v].forms & set(rules["precision_when"]) for v in range(c + 1, min(i, c + 6)))
                for c in range(a, i))  # 'Of the people it flags, 3 out of 4 should be held
            found.append(("precision" if cond else "accuracy", i, j))
    # 'being within about $150 on average is fine', 'give or take 3 years': an error bound is a mean absolute error
    if not any(METRIC_FAMILY.get(n) == "regression" for n, _, _ in found):
        for i, j in sorted(s for w in rules["error_bounds"] for s in t.find(w)):
            a, b = t.clause_of(i)
            k = next((x for x in range(j, min(b, j + 4)) if _num_at(t, x) and (
                t.tokens[x].is_number or t.tokens[x].lower in L()["number_words"])), None)
            if k is None or taken & set(range(i, j)):
                continue
            u = _unit(t, _num_at(t, k)[1], L()["time_units"])
            if u and u[0] < 86400:
                continue  # 'within 10 ms on average' is a latency
            if t.tokens[i].lower == "within" and not any(t.has(w) and a <= t.find(w)[0][0] < b + 3
                                                         for w in rules["on_average"]):
                continue
            taken.update(range(i, j))
            found.append(("mae", i, j))
            break
    # 'Of the people we call, at least 1 in 4 should actually buy': a share of those the model picks out
    if not any(n in ("precision", "accuracy") for n, _, _ in found):
        for c, tok in enumerate(t.tokens):
            if tok.lower not in ("of", "among", "amongst") or (tok.lower == "of" and c > 0 and
                                                               t.tokens[c - 1].lower not in (",", ";", ".", ":", "and")):
                continue
            _a, b = t.clause_of(c)
            v = next((x for x in range(c + 1, min(b, c + 7)) if t.tokens[x].forms & set(rules["precision_when"])), None)
            if v is None:
                continue
            k = next((k for k in range(v + 1, b) if _share_at(t, k)), None)
            if k is not None and not taken & {v}:
                taken.add(v)
                lo = L()["comparators"]["lo"]
                before = t.span_text(max(v + 1, k - 4), k).lower()
                # 'of those it rejects, at most 5% may be good': a ceiling on the wrong ones, the complement
                found.append(("precision", v, -(v + 1) if any(before.endswith(c) for c in lo) else v + 1))
                break
    for name, ps in L()["metric_complements"].items():
        for p in ps:
            for i, j in t.find(p):
                if not taken & set(range(i, j)) and not any(n == name for n, _, _ in found):
                    taken.update(range(i, j))
                    found.append((name, i, -j))  # a negative end: the threshold is the complement
    found.sort(key=lambda x: x[1])
    return found


def _share_at(t: Text, k: int) -> tuple[float, int] | None:
    """A share at token k ('70%', '70 percent', 'nine in ten', 'a third') as a fraction, and the index after it."""
    frac = _fraction_at(t, k)
    if frac:
        return frac
    n = _num_at(t, k)
    if n and n[1] < len(t) and t.tokens[n[1]].lower in ("%", "percent", "pct") and \
            (t.tokens[k].is_number or _spelled(t, k, n[1]) or t.tokens[k].lower in L()["number_words"]):
        return n[0] / 100, n[1] + 1
    return None


def _rate_spans(t: Text) -> list[tuple[int, int]]:
    """'9 times out of 10', 'right 90% of the time'."""
    out = []
    for i, j in t.find("out of"):  # a count out of a count, not 'hold out of 30%'
        before = t.tokens[i - 1] if i >= 1 else None
        if before is not None and j < len(t) and (before.is_number or before.lower in L()["number_words"] or
                                                  before.lower == "times") and \
                (t.tokens[j].is_number or t.tokens[j].lower in L()["number_words"]):
            out.append((i - 1, j + 1))
    for i, j in t.find("of the time"):
        out.append((max(0, i - 2), j))
    right = ("right", "correct", "correctly", "accurately")
    for k in range(len(t)):  # 'gets 70% of cases right', 'correct in 85% of the cases'
        sh = _share_at(t, k) if t.tokens[k].is_number or t.tokens[k].lower in L()["number_words"] else None
        if sh is None or sh[1] >= len(t) or t.tokens[sh[1]].lower != "of":
            continue
        e = sh[1]
        if any(t.tokens[x].lower in right for x in range(e + 1, min(len(t), e + 4))) or any(
                t.tokens[x].lower in right for x in range(max(0, k - 3), k)):
            out.append((k, e))
    return out


def _threshold_near(r: Reading, i: int, j: int, name: str) -> tuple[float | None, str]:
    """The number that bounds the metric mentioned at tokens [i, j): in its clause, not used by anything else,
    nearest first (after the name, then before it)."""
    t = r.text
    a, b = t.clause_of(i)
    comps = L()["comparators"]
    cands: list[tuple[float, int, float, str]] = []
    k = a
    while k < b:
        if k in r.used or (i <= k < j and name not in ("accuracy", "precision")):
            k += 1
            continue
        n = _num_at(t, k)
        said_pct = n is not None and n[1] < len(t) and t.tokens[n[1]].lower in ("%", "percent", "pct")
        bounded_word = n is not None and (n[0] >= 2 or name in LOWER_IS_BETTER and t.tokens[k].lower not in (
            "a", "an", "single", "half", "couple", "pair")) and (
            t.tokens[k].lower in L()["number_words"] or t.tokens[k].lower == "point") and (any(
            t.span_text(max(a, k - 4), k).lower().endswith(c) for c in comps["hi"] + comps["lo"]) or any(
            t.span_text(n[1], min(b, n[1] + 3)).lower().startswith(c) for c in ("or more", "or better", "or higher",
                                                                                "or above", "or less", "or lower")))
        frac = _fraction_at(t, k)  # 'one half', 'nine in ten', '1 in 4'
        if n is None or not (t.tokens[k].is_number or t.tokens[k].text == "." or said_pct or _spelled(t, k, n[1])
                             or bounded_word or frac):
            k += 1  # a number word counts only as a percentage ('at least ninety percent')
            continue
        value, end = frac or n
        # a rate: "9 times out of 10"
        if frac:
            pass
        elif end + 3 <= len(t) and t.span_text(end, end + 3).lower() in ("times out of",) and end + 3 < len(t) and \
                t.tokens[end + 3].is_number:
            value, end = value / t.tokens[end + 3].number, end + 4
        elif end + 2 <= len(t) and t.span_text(end, end + 2).lower() == "out of" and end + 2 < len(t) and \
                t.tokens[end + 2].is_number:
            value, end = value / t.tokens[end + 2].number, end + 3
        pct = end < len(t) and t.tokens[end].lower in ("%", "percent", "pct")
        if pct:
            value, end = value / 100, end + 1
        dist = (k - j) if k >= j else (i - end) + 0.5
        dist = max(dist, 0)
        # a comparator next to it makes it a threshold
        before = t.span_text(max(a, k - 6), k).lower()
        after = t.span_text(end, min(b, end + 3)).lower()
        comp = any(before.endswith(c) or (" " + c + " ") in (" " + before + " ")[-25:] for c in comps["hi"] + comps["lo"]) \
            or any(after.startswith(c) for c in comps["hi"] + comps["lo"])
        # after the name: near, or bounded by a comparator ('F1 of at least 0.9'); before it: right before
        # ('0.98 accuracy', 'at least 98% accuracy'), never a number further back ('in 2013 ... report the RMSE',
        # 'the column, 1 or 0, and report the F1')
        inside = i <= k < j
        lo_, hi_ = (j, k) if k >= j else (end, i)
        if not inside and any(n != name and lo_ <= m < hi_ for n, m, _e in _metric_mentions(r)):
            k = end  # 'Accuracy goal: RMSE below 4.5': the number is the RMSE's
            continue
        if not inside and (dist > (12 if comp else 8) if k >= j else dist > (5 if comp else 2.5)):
            k = end
            continue
        bounded = name not in LOWER_IS_BETTER
        if not bounded or value <= 1 or (1 < value <= 100 and name != "r2"):  # '2000 rows' is no accuracy
            cands.append((dist - (3 if comp else 0), k, value, t.span_text(k, end)))
        k = end
    if not cands:
        return None, ""
    cands.sort()
    _, k, value, shown = cands[0]
    r.used.update(range(k, k + 1))
    if name not in LOWER_IS_BETTER and name != "r2" and 1 < value <= 100:
        value = value / 100  # "accuracy of at least 98" means 98 %
    return round(value, 6), shown


def _threshold_next_clause(r: Reading, i: int, name: str) -> tuple[float | None, str]:
    """A bound in the clause right after the metric's, when that clause names no metric and no limit of its own
    ('report RMSE; aim for below 7 cm')."""
    t = r.text
    _a, b = t.clause_of(i)
    if b + 1 >= len(t):
        return None, ""
    na, nb = t.clause_of(b + 1)
    if any(na <= k < nb for _n, k, _j in _metric_mentions(r)):
        return None, ""
    units = {**L()["time_units"], **L()["size_units"]}
    if any(_unit(t, k, units) is not None and k > na and t.tokens[k - 1].is_number for k in range(na, nb)):
        return None, ""
    comps = L()["comparators"]
    seg = " " + t.span_text(na, nb).lower() + " "
    if not any(f" {c} " in seg for c in comps["hi"] + comps["lo"]) and not re.match(
            r"\s*(?:threshold|goal|target value|min(?:imum)?|cut-?off|bar)\b", seg):  # 'metric = AUC; threshold = 0.8'
        return None, ""
    return _threshold_near(r, na, na, name)


def find_metrics(r: Reading | str) -> list[PerformanceMetric]:
    if isinstance(r, str):
        r = read(r, None)
    return _metrics(r)[0]


def _metrics(r: Reading) -> tuple[list[PerformanceMetric], FieldSource | None]:
    out: list[PerformanceMetric] = []
    why = []
    mentions = _metric_mentions(r)
    rejected = L()["metric_rules"]["rejected"]
    for name, i, j in mentions:
        a, b = r.text.clause_of(i, soft=True)
        seg = " " + " ".join(tok.lower for tok in r.text.tokens[a:b]) + " "
        if name == "accuracy" and any(n != name for n, _i, _j in mentions) and any(f" {w} " in seg for w in rejected):
            # 'plain accuracy would be misleading; judge it by ROC AUC': set aside, not asked for
            r.metric_spans = [m for m in mentions if m[1] != i]
            why.append(f"{_quote(r.text, i, abs(j))} is set aside")
    for name, i, j in _metric_mentions(r):
        if any(m.name == name and m.value is not None for m in out):
            continue  # 'report F1. Full marks for F1 > 0.93': a later mention may carry the bound
        complement = j < 0  # 'an error rate below 10%' -> an accuracy of at least 0.9
        j = abs(j)
        value, shown = _threshold_near(r, i, j, name)
        if value is None and name in ("mae", "rmse", "mse", "rmsle") and not complement:
            # 'off by about a year and a half': an error bound written as a duration, in the unit it names
            q = next((q for q in durations(r) if 0 <= q.start - j <= 3 and q.end - q.start >= 2 and
                      all(tok.lower in _BOUND_WORDS | {"about", "roughly", "approximately", "around"}
                          for tok in r.text.tokens[j:q.start]) and not set(range(q.start, q.end)) & r.used), None)
            if q is not None:
                value, shown = round(q.number, 6), r.text.span_text(q.start, q.end)
                r.used.update(range(q.start, q.end))
        if value is None:  # 'report the test accuracy; you need at least 90% for full credit'
            value, shown = _threshold_next_clause(r, i, name)
        if value is not None and name in LOWER_IS_BETTER:  # 'below 25k dollars (the wage column is in thousands)'
            said = next((p for p in L()["column_scales"] if r.text.has(p)), None)
            scale = L()["column_scales"][said] if said else 1
            if value >= scale > 1:
                value, shown = value / scale, f"{shown} / {scale:g} (the column is {said!r})"

        if complement and value is not None and 0 < value < 1:
            value, shown = round(1 - value, 6), f"1 - {shown}"
        if any(m.name == name for m in out):
            if value is not None:
                out = [PerformanceMetric(name=name, value=value) if m.name == name else m for m in out]
                why.append(f"{_quote(r.text, i, j)} -> {name} with threshold {shown!r}")
            continue
        out.append(PerformanceMetric(name=name, value=value))
        why.append(f"{_quote(r.text, i, j)} -> {name}" + (f" with threshold {shown!r}" if value is not None else ""))
    # an accuracy with no number beside another metric: a loose word ('Accuracy expectation: RMSE below $2,500')
    # or one set aside ('plain accuracy would be misleading; judge it by ROC AUC'), not a second metric asked for
    for m in list(out):
        if m.name != "accuracy" or m.value is not None or len(out) < 2:
            continue
        other = [o for o in out if o is not m]
        if all(METRIC_FAMILY.get(o.name) == "regression" for o in other):
            out.remove(m)
            why = [w for w in why if not w.endswith("-> accuracy")] + ["'accuracy' here names no metric of its own"]
    if not out:
        return out, None
    return out, _src([m.model_dump() for m in out], 0.9, "; ".join(why))


# ------------------------------------------------------------------------------------------ limits
def _limit_kind(r: Reading, q: Quantity) -> str | None:
    t = r.text
    lim = L()["limits"]
    a, b = t.clause_of(q.start, soft=True)
    sa, sb = t.clause_of(q.start)
    seg = " ".join(tok.lower for tok in t.tokens[a:b])
    lemmas = set().union(*(tok.forms for tok in t.tokens[a:b])) if b > a else set()
    full_seg = " ".join(tok.lower for tok in t.tokens[sa:sb])

    def said(words: list[str], text: str, lem: set[str]) -> bool:
        return any((" " + w + " ") in (" " + text + " ") or (" " not in w and w in lem) for w in words)

    # a limit is a bound: 'under', 'within', 'at most', 'must not take longer than', 'budget' ('one year after
    # baseline' bounds nothing)
    before = " " + " ".join(tok.lower for tok in t.tokens[a:q.start]) + " "
    after = " " + " ".join(tok.lower for tok in t.tokens[q.end:min(b, q.end + 2)]) + " "
    later = " " + " ".join(tok.lower for tok in t.tokens[q.end:min(sb, q.end + 5)]) + " "
    sent_before = " " + " ".join(tok.lower for tok in t.tokens[max(sa, q.start - 8):q.start]) + " "
    bound = any(f" {c} " in before[-40:] for c in L()["comparators"]["lo"]) or \
        " and " in sent_before and any(f" {c} " in sent_before.split(" and ")[0] for c in L()["comparators"]["lo"]) or \
        any(after.startswith(f" {c} ") for c in ("max", "maximum", "at most", "or less", "tops")) or \
        any(f" {c} " in later for c in ("at most", "at the most", "max", "maximum", "tops")) or \
        re.search(r"(?:\b(?:not|n't|dont|never|no|nothing|cannot|nobody)|' t)\s+(?:\w+\s+){0,2}(?:more|longer|bigger|larger|over)\b",
                  before) or \
        said(["budget", "limit", "cap", "time limit", "deadline"], seg, lemmas)
    if q.end + 1 < len(t) and t.tokens[q.end].lower == "/" and t.tokens[q.end + 1].is_word:
        return "inference_latency"  # '1 ms/prediction', '5 ms / row': a per-item budget by itself
    if not bound:
        return None

    per_item = [w for w in lim["per_item"] if w not in ("each", "every", "per")]
    if said(per_item, seg, lemmas) or re.search(r"\bper\s+(?!\w+\s+(?:of\s+)?train)", seg):
        return "inference_latency"
    trained = said(lim["training"], seg, lemmas) and not said(lim["inference"], seg, lemmas)
    if said(lim["test_set"], seg, set()) or ("test" in seg and re.search(r"whole|entire|all|full", seg)) or \
            not trained and re.search(r"\b(?:whole|entire|full|all)\b(?:\s+\S+){0,4}\s+(?:set|split|batch|file|sample|list|rows|table|data|"
                      r"dataset|records|lot)\b", seg):
        return "inference_time_total"
    if re.search(r"\b(?:each|every)\s+(?!\w+\s+(?:of\s+)?train)", seg):
        return "inference_latency"
    if said(lim["training"], seg, lemmas):
        return "training_time"
    if said(lim["inference"], seg, lemmas):
        return "inference_latency"
    if said(lim["test_set"], full_seg, set()):
        return "inference_time_total"
    if said(lim["training"], full_seg, set().union(*(tok.forms for tok in t.tokens[sa:sb]))):
        return "training_time"
    before = t.span_text(max(a, q.start - 4), q.start).lower()
    if any(before.endswith(c) for c in L()["comparators"]["lo"]):  # 'keep it under 5 ms'
        return "inference_latency" if q.unit_scale < 1 else "training_time"
    return None  # a duration that bounds nothing ('after a year')


def _is_window(r: Reading, q: Quantity) -> bool:
    t = r.text
    prev = " ".join(tok.lower for tok in t.tokens[max(0, q.start - 3):q.start])
    nxt = " ".join(tok.lower for tok in t.tokens[q.end:q.end + 2])
    if re.search(r"\b(?:next|past|last|previous|prior|following|coming|preceding|ahead|horizon|lookback|history)\b"
                 r"(?:\s+\w+)?$", prev) or re.search(r"^(?:ahead|window|history|of (?:hourly|daily)|of data)", nxt):
        return True
    if t.tokens[q.start].lower == "tomorrow" or re.search(r"\b(?:look|looks|looked|looking|goes|go) back$", prev):
        return True
    if re.search(r"^-?\s*(?:window)", nxt) or (q.end < len(t) and t.tokens[q.end].lower in ("window",)):
        return True
    return "lookback" in prev.split()


def find_complexity(r: Reading | str) -> list[ComplexityMetric]:
    if isinstance(r, str):
        r = read(r, None)
    return _limits(r)[0]


_BOUND_WORDS = {"<", "<=", "≤", ">", ">=", "≥", "=", ":", "under", "below", "less", "than", "at", "most", "of", "within",
                "max", "maximum", "no", "more", "about", "around", "roughly", "above", "over"}


def _limits(r: Reading) -> tuple[list[ComplexityMetric], FieldSource | None]:
    t = r.text
    out: list[ComplexityMetric] = []
    why: list[str] = []
    metric_ends = [abs(j) for _, _i, j in _metric_mentions(r)]
    for q in durations(r):
        if _is_window(r, q) or set(range(q.start, q.end)) & r.used:
            continue
        if any(0 <= q.start - e <= 3 and all(tok.lower in _BOUND_WORDS for tok in t.tokens[e:q.start])
               for e in metric_ends):  # 'mae < 5 yrs' bounds the error, not a time
            continue
        kind = _limit_kind(r, q)
        if kind is None:
            continue
        r.used.update(range(q.start, q.end))
        value = q.value * 1000.0 if kind == "inference_latency" else q.value
        unit = "ms" if kind == "inference_latency" else "s"
        if any(c.name == kind for c in out):
            continue
        out.append(ComplexityMetric(name=kind, value=round(value, 6), unit=unit))
        why.append(f"{_quote(t, q.start, q.end)} -> {kind} {round(value, 6):g} {unit}")
    sizes = L()["size_units"]
    for k, tok in enumerate(t.tokens):
        m = re.fullmatch(r"(\d+(?:\.\d+)?)(kb|mb|gb)", tok.lower)
        n = _num_at(t, k) if not m and k not in r.used else None
        u = _unit(t, n[1], sizes) if n else None
        if m:
            value, start = float(m.group(1)) * sizes[m.group(2)], k
        elif n and u and (tok.is_number or tok.lower in L()["number_words"]):  # '1 MB', 'one megabyte', 'fifty megs'
            value, start, k = n[0] * u[0], k, u[1] - 1
        else:
            continue
        if not any(c.name == "model_size" for c in out):
            out.append(ComplexityMetric(name="model_size", value=round(value, 8), unit="MB"))
            why.append(f"{_quote(t, start, k + 1)} -> model_size {value:g} MB")
            r.used.update(range(start, k + 1))
    pw = L()["limits"]["parameter_words"]
    for i, _j in sorted(set().union(*(t.find(w) for w in pw))):
        if not any(t.tokens[i].lower in (w.split()[0], w.split()[0] + "s") for w in pw):  # not 'weighted'/'weight'
            continue
        a, b = t.clause_of(i)
        for k in list(range(max(a, i - 5), i)) + list(range(i + 1, min(b, i + 6))):
            n = _num_at(t, k)
            if not n or not t.tokens[k].is_number and not re.fullmatch(r"\d+(?:\.\d+)?[kmb]", t.tokens[k].lower) \
                    and not _spelled(t, k, n[1]):
                continue
            value, end = n
            if end < len(t) and t.tokens[end].lower in L()["count_multipliers"]:
                value *= L()["count_multipliers"][t.tokens[end].lower]
                end += 1
            if not any(c.name == "parameters" for c in out):
                out.append(ComplexityMetric(name="parameters", value=value, unit="count"))
                why.append(f"{_quote(t, k, end)} parameters -> parameters {value:g}")
                r.used.update(range(k, end))
            break
    return out, (_src([c.model_dump() for c in out], 0.85, "; ".join(why)) if out else None)


# ------------------------------------------------------------------------------------------ models
@lru_cache(maxsize=1)
def _catalogue_models() -> dict[str, Any]:
    from ...knowledge import catalogue

    return catalogue().get("models", {})


def _family(task: str | None) -> str:
    if task is None:
        return "tabular"
    return TASK_MODALITY.get(task, "tabular")


def find_models(r: Reading | str, task: str | None = None) -> list[ModelSpec]:
    if isinstance(r, str):
        r = read(r, None)
    return _models(r, task)[0]


def _models(r: Reading, task: str | None) -> tuple[list[ModelSpec], FieldSource | None]:
    t = r.text
    fam = _family(task)
    cat = _catalogue_models()
    entries = [e for e in L()["models"] if fam in e["tasks"]]
    phrases = sorted(((e["key"], p) for e in entries for p in e["names"]), key=lambda x: -len(x[1].split()))
    # every model name of any task claims its words first, so 'graph convolutional network' is never a CNN
    claims = sorted(((e["key"], p) for e in L()["models"] for p in e["names"]), key=lambda x: -len(x[1].split()))
    taken: set[int] = set()
    hits: list[tuple[int, str, str]] = []
    for key, p in phrases:
        for i, j in t.find(p):
            if taken & set(range(i, j)):
                continue
            if j - i == 1 and t.tokens[i].lower not in (p, p + "s", p + "es") and not t.tokens[i].fixed_from:
                continue  # a one-word name as written, not a verb's form ('boost' is no 'boosting')
            if not _in_context(t, next(e for e in entries if e["key"] == key), p, j):
                continue  # 'our maternity ward' is no Ward linkage
            longer = [q for _, q in claims if len(q.split()) > len(p.split()) and any(
                a <= i and j <= b for a, b in t.find(q))]
            if longer and not any(q in [pp for k2, pp in phrases if k2 == key] for q in longer):
                continue
            taken.update(range(i, j))
            hits.append((i, key, t.span_text(i, j)))
    hits.sort()
    # 'no random forests', 'not a CNN', 'without XGBoost' rule a model out; 'Transformer or naive Bayes?' followed by
    # a choice only weighs options
    banned = L()["model_ruled_out_after"]
    out_keys = {h[1] for h in hits if _negated(t, h[0]) or any(  # 'no ... boosting', 'Gradient boosting is not allowed'
        t.span_text(e, min(len(t), e + 5)).lower().startswith(tuple(b for b in banned)) or
        t.span_text(e + 1, min(len(t), e + 6)).lower().startswith(tuple(banned))
        for e in [h[0] + len(h[2].split())])}
    hits = [h for h in hits if h[1] not in out_keys]
    generic = {(e["key"], p) for e in L()["models"] for p in e.get("generic", [])}
    families = {h[1]: (cat.get(h[1]) or {}).get("family") for h in hits}
    hits = [h for h in hits if not ((h[1], re.sub(r"[\s-]+", " ", h[2].lower())) in generic and any(  # 'gradient boosting XGBoost'
        k != h[1] and families.get(k) == families[h[1]] for _, k, _s in hits))]
    asked = [h for h in hits if _in_question(t, h[0])]
    if asked and len(asked) < len(hits):
        hits = [h for h in hits if h not in asked]
    out, why = [], []
    for _, key, shown in hits:
        if any(m.name == key for m in out):
            continue
        family = (cat.get(key) or {}).get("family", "")
        out.append(ModelSpec(name=key, family=family, type="preferred", description="named by the user"))
        why.append(f"{shown!r} -> {key}")
    return out, (_src([m.name for m in out], 0.9, "; ".join(why)) if out else None)


_NEGATIONS = ("no", "not", "without", "avoid", "never", "except", "excluding", "instead", "rather", "skip", "dont")


_COMPARING = ("more", "less", "longer", "later", "worse", "better", "bigger", "larger", "fewer", "lower", "higher",
              "than", "greater", "smaller", "exceed", "over", "under", "above", "below", "slower", "faster")


def _in_context(t: Text, entry: dict[str, Any], name: str, end: int) -> bool:
    """A model name that is also a plain word ('ward') counts only with its context words right after it."""
    ctx = (entry.get("only_with") or {}).get(name)
    return not ctx or any(tok.lower in ctx for tok in t.tokens[end:end + 4])


def _negated(t: Text, i: int) -> bool:
    """A negation before token i in its part of the sentence ('no random forests or boosting', "don't use an SVM")."""
    for k in range(i - 1, max(-1, i - 7), -1):
        low = t.tokens[k].lower
        if low in ("use", "try", "using", "trying") and k > 0:  # "don't use a transformer", "avoid using an SVM"
            return _negated(t, k) if k - 1 >= 0 and t.tokens[k - 1].lower not in (",", ";", ".", "!", "?", ":") \
                else False
        if low == "but" and k > 0 and t.tokens[k - 1].lower in ("anything", "everything", "all", "whatever"):
            return True  # 'anything but a neural network'
        if low in (",", ";", ".", "!", "?", ":", "but", "just", "only", "use", "try"):
            return False
        if low in _NEGATIONS or (low == "t" and k > 0 and t.tokens[k - 1].lower == "'"):
            if low == "no" and k > 0 and t.tokens[k - 1].lower in ("/", "yes", "or", "-"):
                return False  # 'a yes/no classifier', 'yes or no': the answer's values, not a negation
            nxt = t.tokens[k + 1].lower if k + 1 < len(t) else ""
            return nxt not in _COMPARING  # 'no more than 5 minutes with XGBoost' bounds a limit, rules nothing out
    return False


def _in_question(t: Text, i: int) -> bool:
    _, b = t.clause_of(i)
    return b < len(t) and t.tokens[b].lower == "?"


# ------------------------------------------------------------------------------------------ counts, windows, split
def find_n_clusters(r: Reading | str) -> int | None:
    if isinstance(r, str):
        r = read(r, None)
    n, _ = _n_clusters(r)
    return n


def _n_clusters(r: Reading) -> tuple[int | None, FieldSource | None]:
    t = r.text
    homophones = L()["number_homophones"]
    for k in range(len(t)):
        n = _num_at(t, k)
        w = t.tokens[k].lower
        if n is None and w in homophones and k > 0 and t.tokens[k - 1].lower == "into" and k + 1 < len(t) and \
                t.tokens[k + 1].forms & {"cluster", "group", "segment"}:  # voice-to-text: 'into for groups'
            n = (float(homophones[w]), k + 1)
        if not n or w in ("a", "an", "half", "single"):
            continue
        if k >= 2 and t.tokens[k - 1].lower in ("to", "or", "-") and _num_at(t, k - 2):
            continue  # 'try 2 to 4 clusters': a range to search, not a count
        value, end = n
        if end < len(t) and t.tokens[end].lower == "-":
            end += 1  # '2-component'
        nxt = [tok for tok in t.tokens[end:end + 4]]
        words = " ".join(tok.lower for tok in nxt)
        group_words = "|".join(L()["cluster_count_words"])
        mixture = any(tok.forms & {"mixture", "gmm"} for tok in t.tokens)
        # 'five clusters', 'five spatial clusters', 'three natural groups', 'a two-component Gaussian mixture'
        if re.match(rf"(?!(?:of|per|in|or|and|to|from|more|fewer|less|than) )(?:[a-z]+ ){{0,2}}(?:{group_words})\b", words) and not (
                nxt and nxt[0].is_number) or (mixture and re.match(r"components?\b", words)):
            r.used.update(range(k, end))
            return int(value), _src(int(value), 0.9, f"{_quote(t, k, end + 1)}")
        prev = " ".join(tok.lower for tok in t.tokens[max(0, k - 2):k])
        before = " ".join(tok.lower for tok in t.tokens[max(0, k - 4):k])
        into = re.search(r"\b(?:cluster|clusters|group|segment|split|divide|partition)(?:\s+\w+){0,2}\s+into$", before)
        if into and not (
                end < len(t) and (t.tokens[end].lower in ("%", "percent") or
                                  _unit(t, end, L()["time_units"]) is not None)):  # 'cluster into 10 and ...'
            r.used.update(range(k, end))
            return int(value), _src(int(value), 0.85, f"{_quote(t, max(0, k - 4), end)}")
        # 'find natural groupings ..., maybe 5 of them': a count of the groups the sentence is about
        if " ".join(tok.lower for tok in t.tokens[end:end + 2]) in ("of them", "or so") and value >= 2:
            sa, sb = t.clause_of(k)
            if any((sa <= a < sb or k - 15 <= a < k) and
                   (t.tokens[a].forms & {"cluster", "group", "grouping", "segment", "cohort"}) for a in range(len(t))):
                r.used.update(range(k, end))
                return int(value), _src(int(value), 0.8, f"{_quote(t, k, end + 2)}")
        if re.search(r"\bk\s*=$", prev):
            r.used.update(range(k, end))
            return int(value), _src(int(value), 0.9, f"{_quote(t, k - 2, end)}")
    return None, None


def _freq_seconds(peek: dict[str, Any]) -> float | None:
    f = peek.get("frequency_s")
    return float(f) if f and float(f) >= 1e-3 else None  # an integer index read as nanoseconds has no frequency


_DAY = 86400.0
_MONTH, _QUARTER, _YEAR = (float(L()["time_units"][u]) for u in ("month", "quarter", "year"))


def _calendar_steps(q: Quantity, freq: float) -> float | None:
    """A duration in the data's steps. Monthly, quarterly and yearly data count calendar units ('the next year' of
    monthly data is 12 steps, although a year is not a whole number of 31-day steps); finer data divides."""
    per = None
    if 28 * _DAY <= freq <= 31 * _DAY:
        per = {_MONTH: 1, _QUARTER: 3, _YEAR: 12}
    elif 89 * _DAY <= freq <= 92 * _DAY:
        per = {_QUARTER: 1, _YEAR: 4}
    elif 365 * _DAY <= freq <= 366 * _DAY:
        per = {_YEAR: 1}
    if per is not None and _YEAR in per:  # a decade, a century: whole years
        per.update({10 * _YEAR: 10 * per[_YEAR], 100 * _YEAR: 100 * per[_YEAR]})
    if per is None:
        return q.value / freq
    return q.number * per[q.unit_scale] if q.unit_scale in per else None


def find_task_params(r: Reading | str) -> dict[str, Any]:
    if isinstance(r, str):
        r = read(r, None)
    return _windows(r)[0]


def _windows(r: Reading) -> tuple[dict[str, Any], FieldSource | None]:
    t = r.text
    params: dict[str, Any] = {}
    why: list[str] = []
    for key in ("INPUT_SEQ_LEN", "INPUT_DIM", "PRED_SEQ_LEN", "PRED_DIM"):
        m = re.search(key + r"\s*[=:]\s*(\d+)", t.raw, re.IGNORECASE)
        if m:
            params[key.lower()] = int(m.group(1))
            why.append(f"{m.group(0)!r}")
    # the forecasting papers' shorthand: 'L=336, H=48', 'seq_len=96, pred_len=24'
    for key, names in L()["windows"]["symbols"].items():
        m = re.search(r"(?<![\w.])(?:" + "|".join(re.escape(n) for n in names) + r")\s*=\s*(\d+)\b", t.raw)
        if m and key not in params:
            params[key] = int(m.group(1))
            why.append(f"{m.group(0)!r}")
            _use_chars(r, m.start(), m.end())
    freq = _freq_seconds(r.peek)
    step_words = ("step", "steps", "time step", "timestep", "point", "points", "observation", "observations", "lag",
                  "lags", "sample", "samples", "row", "rows")

    def direction(start: int, end: int) -> str | None:
        if end < len(t) and t.tokens[end].lower in step_words:
            end += 1  # 'a 12-step horizon', '96 past steps'
        after = " ".join(tok.lower for tok in t.tokens[end:end + 2])
        w = L()["windows"]
        if re.search(r"\bahead\b|\binto the future\b", after) or after.startswith(("horizon", "future", "forward")):
            return "pred_seq_len"
        if after.startswith(("window", "- window", "history", "of history", "lookback", "look back", "of context",
                             "context", "past", "previous", "preceding", "prior", "historical", "lag", "input")):
            return "input_seq_len"
        # '12 months in, 3 months out': a particle right after the duration, then a pause
        for key, words in (("input_seq_len", w["lookback_after"]), ("pred_seq_len", w["horizon_after"])):
            for p in words:
                k = end + len(p.split())
                if t.span_text(end, min(len(t), k)).lower() == p and (k >= len(t) or not t.tokens[k].is_word or
                                                                     t.tokens[k].lower in ("and", "then", "with", "from",
                                                                                           "using", "given", "based")):
                    return key
        last = None
        for tok in t.tokens[max(0, start - 4):start]:
            for d, key in (("lookback", "input_seq_len"), ("horizon", "pred_seq_len")):
                if any(f in tok.forms for f in (p for p in w[d] if " " not in p)):
                    last = key
        if any(tok.forms & {"look", "go", "reach"} and k + 1 < start and t.tokens[k + 1].lower == "back"
               for k, tok in enumerate(t.tokens[:start]) if k >= start - 5):  # 'looks back one day'
            last = "input_seq_len"
        return last

    for q in durations(r):
        if set(range(q.start, q.end)) & r.used or q.unit_scale < 1:
            continue  # used already, or under a second: a time per prediction, never a window
        d = direction(q.start, q.end)
        if d is None and t.tokens[q.start].lower == "tomorrow":
            d = "pred_seq_len"
        if d is None or d in params:
            continue
        steps = _calendar_steps(q, freq) if freq else q.number
        if steps is None or (freq and abs(steps - round(steps)) > 1e-6):
            continue
        params[d] = round(steps)
        r.used.update(range(q.start, q.end))
        unit = f" of {'hourly' if freq == 3600 else 'daily' if freq == 86400 else f'{freq:g}-second'} data" if freq \
            else ""
        why.append(f"{_quote(t, max(0, q.start - 1), q.end)}{unit} -> {d.replace('_seq_len', '')} {params[d]} steps")
    # bare step counts: "lookback 336, horizon 96", "next 24 steps", "previous 96"
    for k, tok in enumerate(t.tokens):
        if not tok.is_number or k in r.used:
            continue
        nxt = t.tokens[k + 1].lower if k + 1 < len(t) else ""
        d = direction(k, k + 1)
        if d is None or d in params:
            continue
        prev = t.tokens[k - 1].lower if k else ""
        unit = _unit(t, k + 1, L()["time_units"])
        if unit is not None and unit[0] < 1:
            continue  # '3 ms', '500 µs': a time per prediction, never a count of steps
        if nxt and nxt not in step_words and nxt not in (",", ".", ";", ")", "and", "in", "out", "past", "previous",
                                                         "preceding", "prior", "historical", "future", "ahead",
                                                         "forward") and not nxt.isdigit() \
                and unit is None and \
                prev not in ("length", "len", "size", "horizon", "lookback", "window", "=", ":"):
            continue  # a number of something else ("96 features")
        params[d] = int(tok.number)
        r.used.add(k)
        why.append(f"{_quote(t, max(0, k - 1), k + 1)} -> {d.replace('_seq_len', '')} {params[d]} steps")
    return params, (_src(params, 0.85, "; ".join(why)) if why else None)


def find_split(r: Reading | str) -> dict[str, float] | None:
    if isinstance(r, str):
        r = read(r, None)
    return _split(r)[0]


def _split(r: Reading) -> tuple[dict[str, float] | None, str | None, FieldSource | None]:
    t = r.text
    low = t.raw.lower()
    m = re.search(r"(\d{1,2})\s*/\s*(\d{1,2})\s*/\s*(\d{1,2})\b", low)
    if m:
        a, b, c = (int(x) for x in m.groups())
        if a + b + c == 100:
            return {"train": a / 100, "valid": b / 100, "test": c / 100}, None, _src(
                {"train": a / 100, "valid": b / 100, "test": c / 100}, 0.9, repr(m.group(0)))
    m = re.search(r"(\d{1,2})\s*(?:%|percent)?\s*(?:train(?:ing)?\s*)?/\s*(\d{1,2})\b", low)  # '80% train / 20% test'
    if m and int(m.group(1)) + int(m.group(2)) == 100:
        _use_chars(r, m.start(), m.end())
        a, b = int(m.group(1)), int(m.group(2))
        return {"train": a / 100, "test": b / 100}, None, _src({"train": a / 100, "test": b / 100}, 0.9,
                                                                 repr(m.group(0)))
    # 'split the data 70:30', 'a 90-10 train-test split': two shares that make 100, in a sentence about a split
    for m in re.finditer(r"(?<![\d.])(\d{1,2})\s*(?::|-)\s*(\d{1,2})(?!\d|\.\d|\s*%)", low):
        a, b = int(m.group(1)), int(m.group(2))
        sent = re.search(r"[^.;!?\n]*$", low[:m.start()]).group(0) + low[m.start():].split(".")[0]
        if a + b == 100 and a > b and re.search(r"\b(?:split|train\w*|test\w*|hold[\s-]?out|partition)\b", sent):
            _use_chars(r, m.start(), m.end())
            return {"train": a / 100, "test": b / 100}, None, _src({"train": a / 100, "test": b / 100}, 0.85,
                                                                     repr(m.group(0)))
    # '60% train, 20% validation, 20% test': each share named by its part
    named = {}
    for g in re.finditer(r"(\d{1,2})\s*(?:%|percent)\s*(?:of (?:the )?(?:data|rows)\s*)?(?:for\s+|as\s+|to\s+)?(?:the\s+)?"
                         r"(train|training|valid|validation|dev|test|testing|hold[\s-]?out)\b", low):
        part = {"tr": "train", "va": "valid", "de": "valid"}.get(g.group(2)[:2], "test")
        named.setdefault(part, int(g.group(1)))
    if len(named) < 2 or sum(named.values()) != 100:  # 'Train 80 / valid 10 / test 10', 'train 60% / val 20% / test 20%'
        named = {}
        for g in re.finditer(r"\b(train|training|valid|validation|val|dev|test|testing)\s*[:=]?\s*(\d{1,2})\s*(?:%|percent)?"
                             r"(?!\d|\.\d)", low):
            part = {"tr": "train", "va": "valid", "de": "valid"}.get(g.group(1)[:2], "test")
            named.setdefault(part, int(g.group(2)))
    if len(named) >= 2 and sum(named.values()) == 100:
        out = {k: v / 100 for k, v in named.items()}
        return out, None, _src(out, 0.9, ", ".join(f"{v}% {k}" for k, v in named.items()))
    # 'train on three quarters and test on the rest', 'use 70% for training and the remainder for testing'
    fractions = "|".join(sorted(L()["split_fractions"], key=len, reverse=True))
    m = re.search(rf"\b(?:train(?:ing|s)?|fit(?:ting)?|learn)\b[^.;]{{0,20}}?\b(?:(\d{{1,2}})\s*(?:%|percent)|({fractions}))(?!\w)", low) or \
        re.search(rf"\b(?:(\d{{1,2}})\s*(?:%|percent)|({fractions}))(?!\w)[^.;]{{0,25}}?\b(?:train|fit\b|learn)", low)
    if m and re.search(r"\b(?:rest|remainder|remaining|other)\b", low[m.end():m.end() + 60]) and \
            re.search(r"\b(?:test|testing|evaluat\w*|hold[\s-]?out|score)\b", low[m.end():m.end() + 60]):
        share = int(m.group(1)) / 100 if m.group(1) else L()["split_fractions"][m.group(2)]
        if 0.3 <= share < 1:
            _use_chars(r, m.start(), m.end())
            out = {"train": round(share, 6), "test": round(1 - share, 6)}
            return out, None, _src(out, 0.85, repr(low[m.start():m.end()]) + " and the rest for testing")
    parts = {("valid" if g.group(2).startswith("valid") else "test"): g for g in re.finditer(
        r"(\d{1,2})\s*(?:%|percent)\s*(?:of (?:the )?(?:data|rows)\s*)?(?:for|as)\s*(?:the\s+)?"
        r"(test|validation|valid|hold[\s-]?out)", low)}
    if "valid" in parts:  # '10% of rows for validation and 10% for test'
        out = {k: int(g.group(1)) / 100 for k, g in parts.items()}
        for g in parts.values():
            _use_chars(r, g.start(), g.end())
        if "test" in out:
            out = {"train": round(1 - out["valid"] - out["test"], 6), **out}
        return out, None, _src(out, 0.9, "; ".join(repr(g.group(0)) for g in parts.values()))
    m = parts.get("test")
    m = m or re.search(r"\b(?:test|testing|hold[\s-]?out|held[\s-]?out)\s+(?:on|with|using|of)?\s*(?:the\s+)?(\d{1,2})\s*(?:%|percent)",
                       low)  # 'test with 20 percent of data', 'hold out 30%'
    # 'on a 20% held-out test set', 'report R^2 on a 30% test split', 'a 25 percent holdout sample'
    m = m or next((g for g in re.finditer(r"(?<![\d.])(\d{1,2})\s*(?:%|percent)\s+(?:random\s+|stratified\s+)?(?:held[\s-]?out|hold[\s-]?out|"
                       r"test(?:ing)?)(?:\s+test)?\s+(?:set|split|sample|data|portion|fold|partition|subset)\b", low)
                   if int(g.group(1)) <= 50), None)  # a test share is the smaller part
    if m is None:  # 'keep one fifth of the rows for testing', 'hold out a quarter of the data'
        for k in range(len(t)):
            frac = _fraction_at(t, k)
            if frac and 0 < frac[0] <= 0.5 and not set(range(k, frac[1])) & r.used:
                a, b = t.clause_of(k)
                clause = " ".join(t.tokens_lower(a, b))
                if re.search(r"\b(?:aside|apart|reserve[ds]?|held|hold|holdout|test|testing|evaluation|unseen)\b", clause) \
                        and not any(a <= i < b for _, i, _j in _metric_mentions(r)):
                    r.used.update(range(k, frac[1]))
                    share = round(frac[0], 6)
                    return {"test": share}, None, _src({"test": share}, 0.85, _quote(t, k, frac[1]) + " for testing")
    if m is None:  # 'keep 25% of the 32 cars aside for testing', 'reserve 15 percent for evaluation'
        for c in re.finditer(r"[^.;!?\n]+", low):
            clause = c.group(0)
            p = re.search(r"(\d{1,2})\s*(?:%|percent)", clause)
            if p and re.search(r"\b(?:aside|apart|reserve[ds]?|held|hold|holdout|hold-out|for (?:the )?test(?:ing)?|"
                               r"as (?:the |a )?test|to test|for evaluation|unseen)\b", clause) and \
                    not any(r.text.tokens[i].start >= c.start() and r.text.tokens[i].end <= c.end()
                            for _, i, _j in _metric_mentions(r)):
                m = re.compile(r"(\d{1,2})\s*(?:%|percent)").search(low, c.start() + p.start())
                break
    if m:
        _use_chars(r, m.start(), m.end())
        return {"test": int(m.group(1)) / 100}, None, _src({"test": int(m.group(1)) / 100}, 0.9, repr(m.group(0)))
    # a column that says which rows train and which test ("use the split column", "the given train/test split")
    split_values = set(L()["split_values"])
    said_split = t.has("split") or bool(re.search(r"\btrain(?:ing)?\s*(?:/|and|-)\s*test(?:ing)?\b", t.raw.lower()))
    for col, values in (r.peek.get("values") or {}).items():
        vs = {str(v).lower() for v in values}
        if len(vs) >= 2 and vs <= split_values and (said_split or _name_match(r, col)[0] >= 3):
            return None, col, _src({"column": col}, 0.85, f"the column {col!r} holds {'/'.join(map(str, values))}")
    return None, None, None


def _use_chars(r: Reading, start: int, end: int) -> None:
    """The tokens within raw characters [start, end) are read (a split's percentages are no threshold)."""
    r.used.update(k for k, tok in enumerate(r.text.tokens) if tok.start >= start and tok.end <= end)


# ------------------------------------------------------------------------------------------ task
def _task_scores(r: Reading, target: str | None, metrics: list[PerformanceMetric], n_clusters: int | None,
                 windows: dict[str, Any]) -> tuple[dict[str, float], list[str]]:
    t = r.text
    scores = {k: 0.0 for k in L()["tasks"]}
    why: list[str] = []
    model_words = {k for e in L()["models"] for p in e["names"] for a, b in t.find(p) for k in range(a, b)}
    for task, cues in L()["tasks"].items():
        taken: set[int] = set()  # a word counts once per task ('cluster' is both 'cluster' and 'clustering')
        for phrase, w in sorted(cues.items(), key=lambda kv: -kv[1]):
            spans = [s for s in t.find(phrase) if not set(range(*s)) & (model_words | taken)  # 'logistic regression'
                     and not _negated(t, s[0])]  # '(not a forecast)'
            if not spans and w >= 3 and any(_negated(t, a) for a, _ in t.find(phrase)):
                scores[task] -= 2.0  # 'not a forecast' speaks against it
                why.append(f"not {task.split('_', 1)[-1]}")
            if spans:
                taken.update(range(*spans[0]))
                scores[task] += float(w)
                why.append(f"{_quote(t, *spans[0])}: {task.split('_', 1)[-1]}")
    # a model named that serves one task only: 'with a Gaussian mixture' is a clustering, 'NLinear' a forecast
    cat = _catalogue_models()
    owners: dict[str, set[str]] = {}
    for e in L()["models"]:
        for p in e["names"]:
            owners.setdefault(p, set()).add(e["key"])
    for e in L()["models"]:  # a name that several models share ('mlp', 'ridge') says nothing of the task
        tasks = [k for k in (cat.get(e["key"]) or {}).get("tasks", []) if k in scores]
        if len(tasks) == 1 and any(not _negated(t, a) for p in e["names"] if len(owners[p]) == 1
                                   for a, b in t.find(p) if _in_context(t, e, p, b)):
            scores[tasks[0]] += 1.5
            why.append(f"{e['key']} is a {tasks[0].split('_', 1)[-1]} model")
    for k, tok in enumerate(t.tokens[:-1]):  # 'how educated', 'how expensive': a degree asked, a number
        nxt = t.tokens[k + 1].lower
        if tok.lower == "how" and nxt not in ("many", "much", "likely", "probable", "well", "about", "come", "so",
                                               "often") and _degree_word(nxt):
            if not any(t.has(p) for p in ("how old", "how heavy", "how tall", "how quickly", "how bad")):
                scores["tabular_regression"] += 1.5
                why.append(f"'how {nxt}': regression")
            break
    for k, tok in enumerate(t.tokens):  # 'segment the diamonds into a handful of groups'
        if tok.lower == "into" and not scores["tabular_clustering"] >= 3:
            a, b = t.clause_of(k)
            verb = any(t.tokens[x].forms & {"segment", "group", "divide", "partition", "bucket", "split", "cluster"}
                       for x in range(a, k))
            noun = any(t.tokens[x].forms & {"group", "cluster", "segment", "cohort", "bucket"} for x in range(k + 1, b))
            if verb and noun:
                scores["tabular_clustering"] += 2.0
                why.append(f"{_quote(t, a, b)}: clustering")
    fams = {METRIC_FAMILY.get(m.name) for m in metrics}
    for f in fams:
        if f:
            scores[f"tabular_{f}"] += 3.0
            why.append(f"a {f} metric")
            if f == "regression" and r.modality == "time_series":
                scores["time_series_forecasting"] += 3.0  # forecasts are scored with the same errors
    if n_clusters is not None:
        scores["tabular_clustering"] += 2.0
    if windows.get("pred_seq_len") or windows.get("input_seq_len"):
        scores["time_series_forecasting"] += 3.0
        why.append("forecast windows")
    if target:
        values = (r.peek.get("values") or {}).get(target)
        nun = (r.peek.get("nunique") or {}).get(target)
        numeric = target in (r.peek.get("numeric") or [])
        counted = numeric and any(t.has(w) for w in ("number of", "how many", "how much", "count of", "amount of"))
        if (not numeric or (values is not None and nun is not None and nun <= 10)) and not counted:
            scores["tabular_classification"] += 1.5
            why.append(f"{target!r} holds {nun} distinct values")
        elif nun is not None and (nun > 20 or numeric and nun > 10):  # eyesight 0.1 .. 2.0: a measurement
            scores["tabular_regression"] += 1.5
            why.append(f"{target!r} is numeric with {nun} distinct values")
            if not numeric or not t.has("forecast"):
                scores["tabular_regression"] += 0.5 if t.has("predict") or t.has("estimate") else 0.0
    if r.modality == "time_series":
        scores["time_series_forecasting"] += 1.0
    elif r.modality == "tabular" and r.peek.get("columns"):
        scores["time_series_forecasting"] = -9.0  # a table with no dates cannot be forecast: 'forecast' means predict
    else:
        scores["time_series_forecasting"] -= 3.0
    return scores, why


def _reference_said(r: Reading, metrics: list[PerformanceMetric], tgt_src: FieldSource, target: str | None) -> bool:
    """A clustering compared with reference labels: a Rand index, 'compare with / against / match / labels', or a
    column named as the reference. Without any, the clustering is unsupervised ('segment the bookings into 12')."""
    if any(m.name in ("rand_index", "adjusted_rand_index") for m in metrics):
        return True
    if any(r.text.has(w) for w in L()["cluster_no_reference"]):  # 'there's no label for this'
        return False
    if any(r.text.has(w) for w in L()["cluster_reference"]):
        return True
    return bool(target) and "named as the reference" in (tgt_src.evidence or "")


def find_task(r: Reading, target: str | None, metrics: list[PerformanceMetric], n_clusters: int | None,
              windows: dict[str, Any]) -> tuple[str | None, FieldSource]:
    if r.modality in MODALITY_TASK:
        task = MODALITY_TASK[r.modality]
        return task, _src(task, 0.95, f"the data is {r.modality} ({r.peek.get('format') or 'files'})")
    scores, why = _task_scores(r, target, metrics, n_clusters, windows)
    ranked = sorted(scores.items(), key=lambda kv: -kv[1])
    (best, s1), (_, s2) = ranked[0], ranked[1]
    options = [k for k, v in ranked if v > 0] or [k for k, _ in ranked[:3]]
    if s1 <= 0:
        return None, _src(None, 0.0, "no word says what kind of task it is", options)
    if s1 - s2 >= 2.0:
        conf = 0.95
    elif s1 - s2 >= 1.0:
        conf = 0.75
    elif s1 - s2 > 0:
        conf = 0.45
    else:
        conf = 0.3
    return best, _src(best, conf, "; ".join(why[:6]) + f" (scores: {', '.join(f'{k}={v:g}' for k, v in ranked[:3])})",
                      options)


# ------------------------------------------------------------------------------------------ the rest
def expertise(text: str) -> str:
    t = text.lower()
    if any(w in t for w in L()["novice_words"]):
        return "low"
    if sum(w in t for w in L()["expert_words"]) >= 2:
        return "high"
    return "medium"


def intent(text: str) -> str:
    t = text.lower().strip()
    if re.match(r"(what|why|how|when|which|who|explain|tell me|can you explain)\b", t) and not re.search(
            r"\b(build|train|classify|predict|cluster|forecast|create|make)\b", t):
        return "consult"
    return "build"


def domain(text: str, name: str) -> str:
    t = (text + " " + name).lower()
    for dom, words in L()["domains"].items():
        if any(w in t for w in words):
            return dom
    return ""


def is_ml_request(instruction: str) -> bool:
    return not_ml_reason(read(instruction, None), has_data=False) is None


# ------------------------------------------------------------------------------------------ whole
def parse(instruction: str, peek: dict[str, Any] | None, data_path: str | None,
          reading: Reading | None = None) -> Requirements:
    """Instruction + a peek at the data -> Requirements (the paper's schema), every field with its evidence."""
    text = (instruction or "").strip()
    r = reading or read(text, peek)
    sources: dict[str, FieldSource] = {}
    n_clusters, nc_src = _n_clusters(r)
    windows, win_src = _windows(r) if r.modality == "time_series" or "seq_len" in text.lower() else ({}, None)
    limits, lim_src = _limits(r)
    split, split_col, split_src = _split(r)
    metrics, met_src = _metrics(r)
    # the target (texts: the label column; images and graphs: none to name)
    if r.modality == "text":
        target, tgt_src = _text_target(r, split_col)
    elif r.modality in ("image", "graph"):
        target, tgt_src = None, _src(None, 0.95, f"{r.modality} data carries its own labels")
    else:
        target, tgt_src = find_target(r)
        if split_col and target == split_col:
            target, tgt_src = None, _src(None, 0.0, "the named column is the split")
    task, task_src = find_task(r, target, metrics, n_clusters, windows)
    cands = target_candidates(r) if r.modality in ("tabular", "time_series") else []
    open_choice = next((p for p in L()["open_choice"] if r.text.has(p)), None)
    if open_choice and tgt_src.confidence >= ASK_BELOW and len(cands) > 1 and cands[1][0] >= 2.5:
        tgt_src = tgt_src.model_copy(update={"confidence": 0.3, "evidence": tgt_src.evidence + (
            f"; {cands[1][1]!r} is named too and the instruction leaves the choice open ({open_choice!r})")})
    vague = next((p for p in L()["vague_objects"] for a, b in r.text.find(p) if not (  # 'anything except neural nets'
        b < len(r.text) and r.text.tokens[b].lower in ("except", "but", "besides", "other"))), None)
    if vague and cands and cands[0][0] < 2.5:
        tgt_src = tgt_src.model_copy(update={"value": target or cands[0][1], "confidence": 0.2, "evidence": (
            f"{vague!r} names no column; a guess")})
        target = target or cands[0][1]
    if task == "time_series_forecasting" and not windows:
        windows, win_src = _windows(r)
    if task == "time_series_forecasting" and tgt_src.confidence < ASK_BELOW and not vague:
        target = None  # forecasting predicts every channel unless one is named
        tgt_src = _src(None, 0.9, "no channel named: every numeric column is forecast", tgt_src.options)
    elif task == "time_series_forecasting" and target and target not in (r.peek.get("numeric") or []):
        target, tgt_src = None, _src(None, 0.9, "no numeric channel named: every numeric column is forecast")
    channels = [c for c in r.peek.get("numeric") or [] if c != r.peek.get("date_column")]
    if task == "time_series_forecasting" and target is None and len(channels) == 1:
        target, tgt_src = channels[0], _src(channels[0], 0.9, f"{channels[0]!r} is the data's only series")
    if task != "tabular_clustering":
        n_clusters, nc_src = None, None
    elif not _reference_said(r, metrics, tgt_src, target) and (
            any(METRIC_FAMILY.get(m.name) == "classification" for m in metrics) or r.text.has("accurate")):
        # 'cluster the houses into three price bands and tell me the accuracy': an accuracy needs reference labels
        options = [c for _, c, _ in cands[:8]]
        target, tgt_src = None, _src(options[0] if options else None, 0.3, (
            "a clustering scored by accuracy needs reference labels, and no column is named as them"), options)
    elif not _reference_said(r, metrics, tgt_src, target):
        target, tgt_src = None, _src(None, 0.9, "no reference labels named: the clusters are scored by the silhouette "
                                     "of the features", tgt_src.options)
        if not any(m.name == "silhouette" for m in metrics):
            metrics = [m for m in metrics if m.name not in ("rand_index", "adjusted_rand_index")]
    models, mod_src = _models(r, task)
    sources["task"] = task_src
    sources["target"] = tgt_src
    for key, src in (("metric", met_src), ("limits", lim_src), ("models", mod_src), ("n_clusters", nc_src),
                     ("windows", win_src), ("split", split_src)):
        if src is not None:
            sources[key] = src
    if r.text.repairs:
        sources.setdefault("spelling", _src([f"{a}->{b}" for a, b in r.text.repairs], 1.0,
                                            "typos read as: " + ", ".join(f"{a}->{b}" for a, b in r.text.repairs)))
    modality = TASK_MODALITY.get(task or "", r.modality if r.modality != "time_series" else "tabular")
    name = r.peek.get("name", "")
    problem = Problem(
        area={"image": "computer vision", "text": "natural language processing", "graph": "graph learning",
              "time_series": "time-series analysis"}.get(modality, "tabular data analysis"),
        downstream_task=task,  # type: ignore[arg-type]
        application_domain=domain(text, name),
        description=text,
        performance_metrics=metrics,
        complexity_metrics=limits,
        n_clusters=n_clusters,
        task_params=windows if task == "time_series_forecasting" else {},
    )
    ds = DatasetSpec(name=name, modality=modality, target_variables=[target] if target else [],
                     source="user-upload" if data_path else "infer-search",
                     description=r.peek.get("description", ""), path=data_path, split=split, split_column=split_col)
    return Requirements(user=User(intent=intent(text), expertise=expertise(text)),  # type: ignore[arg-type]
                        problem=problem, dataset=[ds], model=models, field_sources=sources)


@dataclass
class Understanding:
    """What the offline prompt agent made of a request: the verdict, why, the requirements, the questions."""

    status: str  # ok | not_ml | needs_clarification
    reason: str
    requirements: Requirements | None
    questions: list[Question]


def understand(instruction: str, peek: dict[str, Any] | None, data_path: str | None) -> Understanding:
    """The whole prompt-agent reading: not ML? unclear? else the requirements; never raises on text."""
    text = (instruction or "").strip()
    if not text:
        return Understanding("needs_clarification", "the instruction is empty", None, [Question(
            field="instruction", text="What should the model do? For example: 'Classify Quality as Good or Bad "
            "with F1 of at least 0.95.'")])
    r = read(text, peek)
    why = not_ml_reason(r, has_data=bool(data_path))
    if why:
        return Understanding("not_ml", f"Not a model to build: {why}.", None, [])
    r.used.clear()
    req = parse(text, peek, data_path, r)
    qs = questions_for(req, peek)
    if qs:
        return Understanding("needs_clarification", " ".join(q.text for q in qs), req, qs)
    return Understanding("ok", "", req, [])


def column_options(peek: dict[str, Any]) -> list[dict[str, Any]]:
    """Every column of the data as a choice: its name with a sample of its values."""
    return [_column_option(str(c), peek) for c in peek.get("columns") or []]


def _column_option(col: str, peek: dict[str, Any]) -> dict[str, Any]:
    """A column as a choice: 'Quality (Good, Bad)', 'Weight (1.52, -0.71, 0.44, ... 8000 values)'."""
    values = (peek.get("values") or {}).get(col)
    nun = (peek.get("nunique") or {}).get(col)

    def show(v: Any) -> str:
        return f"{v:.3g}" if isinstance(v, float) else str(v)[:20]

    if values:
        sample = [show(v) for v in values[:5]]
        label = f"{col} ({', '.join(sample)}{', ...' if len(values) > 5 else ''})"
    else:
        sample = [show(v) for v in ((peek.get("sample") or {}).get(col) or [])[:3]]
        label = col + (f" ({', '.join(sample)}, ... {nun} values)" if sample else f" ({nun} values)" if nun else "")
    return {"value": col, "label": label, "sample": sample}


def questions_for(req: Requirements, peek: dict[str, Any] | None) -> list[Question]:
    """Questions for the fields that are missing or read with low confidence, each with the best guess first
    and the alternatives (columns with a sample of their values; tasks)."""
    peek = peek or {}
    qs: list[Question] = []
    fs = req.field_sources
    columns = [str(c) for c in peek.get("columns") or []]
    if not req.data_path:
        qs.append(Question(field="data", text="Which data file should I use? Pass --data PATH (a CSV file).",
                           flag="--data PATH"))
        return qs
    task_src, tgt_src = fs.get("task"), fs.get("target")
    tabular = (req.task or "tabular").startswith("tabular") or req.task is None
    needs_target = tabular and peek.get("modality", "tabular") in ("tabular", "time_series") and columns and \
        req.task != "time_series_forecasting" and not (
            req.task == "tabular_clustering" and not req.target and tgt_src and tgt_src.confidence >= ASK_BELOW)
    if req.task == "time_series_forecasting" and req.target and tgt_src and tgt_src.source != "user" and \
            tgt_src.confidence < ASK_BELOW:  # 'forecast something useful': which series is meant
        needs_target = True
    if needs_target and (not req.target or (tgt_src and tgt_src.source != "user" and tgt_src.confidence < ASK_BELOW)):
        guess = req.target or (tgt_src.options[0] if tgt_src and tgt_src.options else None)
        order = ([guess] if guess else []) + [c for c in (tgt_src.options if tgt_src else []) if c != guess] + \
            [c for c in columns if c not in (tgt_src.options if tgt_src else []) and c != guess]
        what = "holds the reference labels for the clustering" if req.task == "tabular_clustering" \
            else "should be predicted"
        hint = f" My best guess is {guess!r} ({tgt_src.evidence})." if guess and tgt_src else ""
        shown = ", ".join(columns[:40]) + (f" (and {len(columns) - 40} more)" if len(columns) > 40 else "")
        qs.append(Question(field="target", text=f"Which column {what}?{hint} Columns are: {shown}.", guess=guess,
                           options=[_column_option(c, peek) for c in order[:60]],
                           flag=f"--target {_shell(guess)}" if guess else "--target COLUMN"))
    if not req.task or (task_src and task_src.source != "user" and task_src.confidence < ASK_BELOW):
        guess = req.task or (task_src.options[0] if task_src and task_src.options else None)
        opts = list(dict.fromkeys(([guess] if guess else []) + list(task_src.options if task_src else []) +
                                  ["tabular_classification", "tabular_regression", "tabular_clustering"]))
        ev = f" ({task_src.evidence})" if task_src and task_src.evidence else ""
        qs.append(Question(field="task", text=f"What kind of task is it? My best guess is {guess or 'unknown'}{ev}.",
                           guess=guess, options=[{"value": o, "label": o.replace("_", " ")} for o in opts],
                           flag=f"--task {guess or 'tabular_classification'}"))
    return qs


def _shell(s: str) -> str:
    return s if re.fullmatch(r"[\w.-]+", s) else "'" + s.replace("'", "'\\''") + "'"


__all__ = ["Understanding", "find_complexity", "find_metrics", "find_models", "find_n_clusters", "find_split",
           "find_task_params", "is_ml_request", "parse", "questions_for", "read", "understand"]
