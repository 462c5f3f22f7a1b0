"""Words for the offline prompt agent: tokens with their lemmas, typo repair, column names as words, and
phrase search over lemmas. The libraries do the language work: lemminflect (word forms and which words are
English), rapidfuzz (typos: nearest vocabulary word by edit distance); the vocabulary is package data
(knowledge/language.yaml) plus the data file's own column names and values.
"""
from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from ...knowledge.language import language

_TOKEN = re.compile(r"\d+(?:\.\d+)?[eE][+-]?\d+\b|\d+(?:[.,]\d+)?|\.\d+|[a-zA-Zµ_][a-zA-Z0-9_²^]*|>=|<=|≥|≤|[<>=+%/:()?!.;,&'~-]|\S")
# look-alike characters read as their plain form, one character for one so token offsets stay those of the raw
# text: the micro sign and Greek mu, angle quotes and full-width signs used as comparators, typographic quotes
_PLAIN = str.maketrans({"μ": "µ", "‹": "<", "›": ">", "＜": "<", "＞": ">", "≦": "≤", "≧": "≥", "’": "'", "‘": "'",
                        "“": '"', "”": '"', "–": "-", "—": "-", "−": "-", "﹪": "%", "％": "%"})
_CAMEL = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")
_SENTENCE = {".", ";", "!", "?"}
STOP = {"the", "a", "an", "of", "in", "per", "for", "to", "and", "or", "on", "at", "by", "with", "is", "are", "be",
        "this", "that", "these", "those", "it", "its", "each", "every", "my", "our", "their", "from", "as", "s"}
UNIT_WORDS = {"cm", "kg", "lbs", "lb", "mm", "m", "g", "pct", "percent"}
_lock = threading.Lock()


@lru_cache(maxsize=1)
def _lemmas() -> Any:
    with _lock:
        from lemminflect import getAllLemmas

        return getAllLemmas, None


def warm_up() -> None:
    """Load the lemma tables (about a second, once per process) ahead of the first instruction."""
    _lemmas()[0]("models")


def warm_up_in_background() -> None:
    if _lemmas.cache_info().currsize == 0:
        threading.Thread(target=warm_up, name="automl-agent-lemmas", daemon=True).start()


@lru_cache(maxsize=20000)
def forms(word: str) -> frozenset[str]:
    """The word and its lemmas in every part of speech ("smoking" -> {smoking, smoke})."""
    w = word.lower()
    out = {w}
    if w.isalpha() and len(w) > 2:
        all_lemmas, _ = _lemmas()
        for lemmas in all_lemmas(w).values():
            out.update(x.lower() for x in lemmas)
        if len(out) == 1 and w.endswith("s") and not w.endswith("ss"):
            out.add(w[:-1])  # an unknown plural ("moduls", "attrs")
    return frozenset(out)


def known(word: str) -> bool:
    """An English word the lemma tables know."""
    return bool(_lemmas()[0](word.lower()))


@dataclass
class Token:
    text: str
    lower: str
    start: int
    end: int
    forms: frozenset[str] = field(default_factory=frozenset)
    fixed_from: str | None = None  # the typo this token was repaired from

    @property
    def is_number(self) -> bool:
        return bool(re.fullmatch(r"\d+(?:\.\d+)?[eE][+-]?\d+|\d+(?:[.,]\d+)?|\.\d+", self.text))

    @property
    def number(self) -> float:
        return float(self.text.replace(",", ".") if self.text.count(",") == 1 and len(self.text.split(",")[1]) != 3
                     else self.text.replace(",", ""))

    @property
    def is_word(self) -> bool:
        return bool(re.fullmatch(r"[a-zA-Zµ_][a-zA-Z0-9_²^]*", self.text))


def name_words(name: str) -> list[str]:
    """A column name as lower-case words: 'HarvestTime' -> [harvest, time], 'height(cm)' -> [height, cm],
    'Miles_per_Gallon' -> [miles, per, gallon]."""
    return [w.lower() for w in _CAMEL.findall(str(name))]


_SUFFIXES = {"ship", "ness", "ment", "hood", "less", "able", "ward", "wise", "like", "dom", "ful", "ing", "ism", "ist",
             "ity", "ion", "ers", "est", "ive", "ative", "ible", "ous", "ical", "ic", "ally"}


@lru_cache(maxsize=4096)
def _expand(word: str) -> tuple[str, ...]:
    """A word of a column name as the words it stands for: an abbreviation from the package's table ('bwt' ->
    birth, weight; 'hp' -> horsepower), or a run-together name split into two English words ('jobclass' -> job,
    class; 'logwage' -> log, wage), whose parts may be abbreviations again ('healthins' -> health, insurance)."""
    table = language().get("abbreviations") or {}
    if word in table:  # a list: several readings, kept as the abbreviation (the parser tries each)
        return (word,) if isinstance(table[word], list) else tuple(name_words(str(table[word])))
    if word.isalpha() and len(word) >= 6 and not known(word):
        splits = []
        for k in range(3, len(word) - 2):
            a, b = word[:k], word[k:]
            if (known(a) or a in table) and (known(b) or b in table) and b not in _SUFFIXES:
                splits.append((min(len(a), len(b)), len(b), a, b))  # 'gasheat': gas heat, not gash eat
        if splits:
            _, _, a, b = max(splits)
            return _expand(a) + _expand(b)
    if word.isalpha() and len(word) >= 5 and not known(word) and word[:2] in table and (
            known(word[2:]) or word[2:] in table):
        return _expand(word[:2]) + _expand(word[2:])  # 'nbaffairs' -> number, affairs
    if word.isalpha() and len(word) >= 5 and not known(word) and not _truncated(word):
        for k in range(len(word) - 4, len(word) - 1):  # 'bluecol' -> blue, col; 'brainwt' -> brain, weight
            a, b = word[:k], word[k:]
            if k >= 3 and known(a) and (b in table and len(b) == 2 or k >= 4 and not known(b) and len(b) >= 3 and
                                        b not in _SUFFIXES):
                return (a,) + _expand(b)
        for k in (3, 4):  # 'recroom' -> rec, room; 'prefarea' -> pref, area (an abbreviated head)
            a, b = word[:k], word[k:]
            if len(b) >= 4 and known(b) and not known(a) and b not in _SUFFIXES:
                return (a, b)
    if word.isalpha() and len(word) >= 3 and not known(word) and not _truncated(word) and (
            known(word[1:]) and len(word) >= 5 or word[1:] in table):
        return (word[0],) + _expand(word[1:])  # 'lwage' -> l, wage ('log wage'); 'hwt' -> h, weight ('heart weight')
    return (word,)


def _truncated(word: str) -> bool:
    """A word cut short of an English word ('unemploy' of unemployed), not two words run together."""
    return any(known(word + x) for x in ("e", "s", "ed", "ing", "ment", "er", "ion", "ation", "ity", "y", "al", "ence",
                                         "ance"))


def core_words(name: str) -> list[str]:
    """The words of a column name that carry its meaning (abbreviations expanded; no stop words, no units)."""
    words = [(x, len(w) > 1 and k == 0 and len(x) == 1) for w in name_words(name) for k, x in enumerate(_expand(w))]
    core = [w for w, fused in words if fused or w not in STOP and w not in UNIT_WORDS]  # 'sfatal' keeps its 's'
    words = [w for w, _ in words]
    return core or words


def vocabulary(extra: Iterable[str] = ()) -> set[str]:
    """Every word the language data uses, plus ``extra`` (the data's column words and values)."""
    return set(_base_vocabulary()) | {w for w in extra if w.isalpha() and len(w) > 2}


@lru_cache(maxsize=1)
def _base_vocabulary() -> frozenset[str]:
    words: set[str] = set()

    def walk(x: Any) -> None:
        if isinstance(x, str):
            words.update(w for w in re.findall(r"[a-z]+", x.lower()) if len(w) > 2)
        elif isinstance(x, dict):
            for k, v in x.items():
                walk(k)
                walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)
    walk(language())
    words.update(["classify", "predict", "forecast", "cluster", "regression", "model", "train", "training",
                  "accuracy", "precision", "recall", "quality", "species", "entailment", "classification",
                  "detection", "should", "least", "images", "handwritten", "weather", "diagnosis", "breast"])
    return frozenset(words)


def repair(word: str, vocab: frozenset[str], column_words: frozenset[str]) -> str | None:
    """The vocabulary word a typo stands for, or None. A word the lemma tables do not know, of 4+ letters, is
    matched against the vocabulary by optimal-string-alignment distance (a swap of two letters counts one):
    1 edit, or 2 from 6 letters on, and only when one word is nearest. A real English word is only repaired
    into a column word one letter away ("wether" -> "weather" when the data has a weather column)."""
    from rapidfuzz import process
    from rapidfuzz.distance import OSA

    w = word.lower()
    if len(w) < 4 or not w.isalpha() or w in vocab:
        return None
    if known(w):
        if len(w) < 5:
            return None
        near = process.extract(w, column_words, scorer=OSA.distance, score_cutoff=1, limit=3)
        near = [c for c, d, _ in near if d == 1 and len(c) >= 5]
        return near[0] if len(near) == 1 else None
    cutoff = 2 if len(w) >= 6 else 1
    units = set(language()["time_units"]) | set(language()["size_units"])
    found = [f for f in process.extract(w, vocab, scorer=OSA.distance, score_cutoff=cutoff, limit=8)
             if f[0] not in units]  # never a unit out of a word ("specs" is not "secs")
    if not found:
        return None
    best_d = min(d for _, d, _ in found)
    best = sorted(c for c, d, _ in found if d == best_d)
    if len(best) > 1:  # a tie: the one that keeps the first letter; a dropped letter is the commonest typo
        best = sorted(best, key=lambda c: (c[0] != w[0], len(c) < len(w), abs(len(c) - len(w)), c))
    return best[0]


class Text:
    """An instruction as tokens with lemmas (typos repaired), and phrase search over them."""

    def __init__(self, raw: str, extra_vocab: Iterable[str] = (), column_words: Iterable[str] = ()) -> None:
        raw = raw.translate(_PLAIN)
        self.raw = raw
        cw = frozenset(w for w in column_words if w.isalpha())
        vocab = frozenset(vocabulary(list(extra_vocab) + list(cw)))
        self.tokens: list[Token] = []
        self.repairs: list[tuple[str, str]] = []
        for m in _TOKEN.finditer(raw):
            text = m.group(0)
            if text == "-" and (m.start() == 0 or raw[m.start() - 1] != " " or m.end() == len(raw) or
                                raw[m.end()] != " "):
                continue  # a hyphen joins words ("k-means", "macro-F1", "one-week"): read them as words
            tok = Token(text, text.lower(), m.start(), m.end())
            if tok.is_word:
                fixed = repair(text, vocab, cw)
                if fixed:
                    self.repairs.append((text, fixed))
                    tok.fixed_from, tok.lower = text, fixed
                tok.forms = forms(tok.lower) | (forms(text.lower()) if not fixed else frozenset())
            else:
                tok.forms = frozenset({tok.lower})
            self.tokens.append(tok)
        self.lowered = " ".join(t.lower for t in self.tokens)

    def __len__(self) -> int:
        return len(self.tokens)

    def find(self, phrase: str, start: int = 0) -> list[tuple[int, int]]:
        """Token spans [i, j) where ``phrase`` occurs (each of its words matching a token's word forms)."""
        key = (phrase, start)
        cache = self.__dict__.setdefault("_found", {})
        if key not in cache:
            cache[key] = self._find(phrase, start)
        return list(cache[key])

    def _find(self, phrase: str, start: int) -> list[tuple[int, int]]:
        words = [w for w in re.findall(r"[a-z0-9_²^]+|>=|<=|≥|≤|[<>+%]", phrase.lower())]
        if not words:
            return []
        pforms = [forms(w) if w.isalpha() else frozenset({w}) for w in words]
        out = []
        n = len(words)
        for i in range(start, len(self.tokens) - n + 1):
            if all(self.tokens[i + k].forms & pforms[k] for k in range(n)):
                out.append((i, i + n))
        return out

    def has(self, phrase: str) -> bool:
        return bool(self.find(phrase))

    def clause_of(self, i: int, soft: bool = False) -> tuple[int, int]:
        """The token range of the sentence (or, with ``soft``, the comma/'and' part) around token i."""
        stops = _SENTENCE | ({",", "and", "but", "while", "&"} if soft else set())
        a = i
        while a > 0 and not (self.tokens[a - 1].lower in stops and not self._decimal_point(a - 1)):
            a -= 1
        b = i
        while b < len(self.tokens) and not (self.tokens[b].lower in stops and not self._decimal_point(b)):
            b += 1
        return a, b

    def _decimal_point(self, i: int) -> bool:
        return self.tokens[i].text == "." and 0 < i < len(self.tokens) - 1 and self.tokens[i + 1].is_number and \
            self.tokens[i - 1].end == self.tokens[i].start and self.tokens[i].end == self.tokens[i + 1].start

    def tokens_lower(self, i: int, j: int) -> list[str]:
        return [tok.lower for tok in self.tokens[max(0, i):j]]

    def span_text(self, i: int, j: int) -> str:
        if i >= j:
            return ""
        return self.raw[self.tokens[i].start:self.tokens[j - 1].end]
