"""Typed questions matched to the recruitment's own answers, offline and deterministic.

Every FAQ entry and SOBAT fix of the config with a key is a *topic*; its question (or problem)
and its phrasings, in both languages, are the texts it is known by. A typed message is read
the way people write on phones: lower case, letters typed three times or more cut to one,
chat spellings and Javanese / Madurese words put in standard Indonesian and a run of words
written as the one word people type for it ("kartu tanda penduduk": ktp; `chat_words`),
greetings and particles dropped, each word stemmed (Sastrawi) and, when the FAQ does not know
it, corrected to the closest word it knows (rapidfuzz, for typos). BM25 (bm25s) ranks the
texts; a topic's confidence is how much of the message's weight (inverse document frequency,
a word the FAQ does not know weighing most) its best text covers, and how much of that text
the message covers. The verdict:

- sure (confidence ≥ `SURE`, clearly ahead of the next topic): answer it;
- in the middle band (≥ `MAYBE`), when the message is a question: offer the two best topics;
- a question below that: say the bot has no sure answer and offer to hand it to staff;
- anything else is not a question (an answer to the bot's own question, a greeting).

The index is built once per process for a config (and the phrasings staff added since).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

from core.recruitment import RecruitmentConfig
from services.chat_words import (
    ADDRESSING,
    ASKING,
    ASKING_FIRST,
    ASKING_LAST,
    FILLER,
    MODALS,
    NEGATIONS,
    PHRASES,
    SPELLINGS,
    TROUBLE,
)

SURE = 0.45
"""Confidence from which the best topic of a question is answered."""
SURE_UNASKED = 0.6
"""The same for a message with no sign of a question ("foto ga bisa keupload di sobat")."""
LEAD = 0.75
"""The next topic's BM25 score must be at most this share of the best's for an answer."""
MAYBE = 0.4
"""Confidence from which a question is offered its two best topics."""
OTHER_QUESTION = 0.5
"""Confidence kept when the message asks for another kind of answer than the topic gives."""
ASKS_FOR = {
    "kapan": "time", "when": "time", "dimana": "place", "mana": "place", "where": "place",
    "berapa": "amount", "siapa": "person", "who": "person",
}  # fmt: skip
TYPO_CUTOFF = 82
"""rapidfuzz ratio from which an unknown word is read as the known word closest to it."""
MIN_TYPO_LENGTH = 4

_REPEATS = re.compile(r"(\w)\1{2,}")
_WORD = re.compile(r"[a-z]+|\d+")


class Verdict(StrEnum):
    ANSWER = "answer"
    OFFER = "offer"
    HANDOVER = "handover"
    NONE = "none"


@dataclass(frozen=True)
class Topic:
    """Something the config answers, and the texts it is known by."""

    key: str
    texts: tuple[str, ...]


@dataclass(frozen=True)
class Candidate:
    """A topic for a message: its BM25 score (the order) and its confidence (0..1)."""

    key: str
    score: float
    confidence: float


@dataclass(frozen=True)
class Reading:
    """What a typed message is: its verdict, the topics it names (best first), how sure."""

    verdict: Verdict
    topics: tuple[str, ...] = ()
    confidence: float = 0.0


@lru_cache(maxsize=1)
def _stemmer() -> object:
    from Sastrawi.Stemmer.StemmerFactory import StemmerFactory

    return StemmerFactory().create_stemmer()


@lru_cache(maxsize=20000)
def stem(word: str) -> str:
    """The Indonesian stem of one word (Sastrawi); other words come back as they are."""
    if word.isdigit():
        return word
    return _stemmer().stem(word) or word  # type: ignore[attr-defined]


def chat_words(text: str) -> list[str]:
    """The words of a typed message in standard spelling, fillers still in."""
    cleaned = _REPEATS.sub(r"\1", text.casefold().replace("'", ""))
    words: list[str] = []
    for word in _WORD.findall(cleaned):
        words += SPELLINGS.get(word, word).split()
    for run, word in PHRASES.items():
        for at in range(len(words) - len(run), -1, -1):
            if tuple(words[at : at + len(run)]) == run:
                words[at : at + len(run)] = [word]
    return words


def is_question(text: str) -> bool:
    """True when the message asks something or reports a problem: a question mark, a question
    word, a modal with a question tag ("bisa daftar ga"), a trouble ("gagal", "blm ada email"),
    or three words or more said to the bot ("min, …")."""
    if "?" in text:
        return True
    words = chat_words(text)
    if any(word in ASKING or (word.endswith("kah") and len(word) > 5) for word in words):
        return True
    content = [word for word in words if word not in ADDRESSING]
    addressed = len(content) < len(words)
    if len(content) < 3 and not (addressed and content and content[0] in ASKING_FIRST):
        return False
    if addressed or content[0] in ASKING_FIRST or any(word in TROUBLE for word in content):
        return True
    negated = any(word in NEGATIONS for word in content[:-1])
    tagged = content[-1] in ASKING_LAST and any(word in MODALS for word in content)
    return negated or tagged


def topics_of(config: RecruitmentConfig, learned: Iterable[tuple[str, str]] = ()) -> list[Topic]:
    """The topics of a config: its FAQ entries and its SOBAT fixes with a key, each known by
    its question and phrasings (both languages), the names its page shows (the documents, the
    stages) and the `(key, phrasing)` pairs staff added."""
    extra: dict[str, list[str]] = {}
    for key, phrasing in learned:
        extra.setdefault(key, []).append(phrasing)
    shown = {
        "documents": [text for doc in config.documents for text in _both(doc.name)],
        "schedule": [text for stage in config.stages for text in _both(stage.name)],
    }
    topics = [
        Topic(
            faq.key,
            (
                *_both(faq.question),
                *faq.phrasings.all(),
                *shown.get(faq.page or "", []),
                *extra.get(faq.key, []),
            ),
        )
        for faq in config.faq
    ]
    topics += [
        Topic(fix.key, (*_both(fix.problem), *fix.phrasings.all(), *extra.get(fix.key, [])))
        for fix in config.sobat.fixes
        if fix.key
    ]
    return topics


def _both(text: object) -> list[str]:
    languages = [getattr(text, "id", None), getattr(text, "en", None)]
    return [value for value in languages if value]


class FaqIndex:
    """The topics, indexed for reading typed messages."""

    def __init__(self, topics: Sequence[Topic]) -> None:
        self._keys: list[str] = []
        self._asks: dict[str, frozenset[str]] = {}
        documents: list[list[str]] = []
        self._vocabulary: set[str] = set()
        for topic in topics:
            for text in topic.texts:
                words = [word for word in chat_words(text) if word not in FILLER]
                self._vocabulary.update(words)
                self._keys.append(topic.key)
                documents.append([stem(word) for word in words])
            self._asks[topic.key] = _asks(chat_words(" ".join(topic.texts)))
        self._stems = {word for document in documents for word in document}
        self._known = sorted(self._vocabulary)
        self._documents = [set(document) for document in documents]
        frequency = Counter(word for document in self._documents for word in document)
        count = len(documents)
        self._idf = {
            word: math.log(1 + (count - seen + 0.5) / (seen + 0.5))
            for word, seen in frequency.items()
        }
        self._unknown_weight = max(self._idf.values(), default=1.0)
        import bm25s  # numpy and scipy: loaded with the first index, not at start-up

        self._bm25 = bm25s.BM25()
        self._bm25.index(documents, show_progress=False)
        self._order = self._bm25.vocab_dict

    def terms(self, text: str) -> list[str]:
        """The message's words as the index knows them: stemmed, fillers dropped, typos
        corrected to the closest known word."""
        terms = []
        for word in chat_words(text):
            if word in FILLER:
                continue
            stemmed = stem(word)
            if word not in self._vocabulary and stemmed not in self._stems:
                stemmed = self._corrected(word) or stemmed
            terms.append(stemmed)
        return terms

    def _corrected(self, word: str) -> str | None:
        if len(word) < MIN_TYPO_LENGTH or word.isdigit():
            return None
        from rapidfuzz import fuzz, process

        found = process.extractOne(word, self._known, scorer=fuzz.ratio, score_cutoff=TYPO_CUTOFF)
        return stem(found[0]) if found else None

    def rank(self, text: str) -> list[Candidate]:
        """Each topic the message shares a word with, best first in BM25's order, with the
        confidence of its best text."""
        terms = self.terms(text)
        known = [term for term in terms if term in self._order]
        if not known:
            return []
        scores = self._bm25.get_scores(known)
        weight = sum(self._idf.get(term, self._unknown_weight) for term in set(terms))
        asks = _asks(terms)
        best: dict[str, Candidate] = {}
        for index, score in enumerate(scores):
            key = self._keys[index]
            if score <= 0 or (key in best and score <= best[key].score):
                continue
            confidence = self._confidence(set(terms), index, weight)
            if asks and self._asks[key] and not asks & self._asks[key]:
                confidence *= OTHER_QUESTION  # "where" asked, the topic answers "when"
            best[key] = Candidate(key, float(score), confidence)
        return sorted(best.values(), key=lambda candidate: (-candidate.score, candidate.key))

    def _confidence(self, terms: set[str], index: int, weight: float) -> float:
        """How much of the message's weight the text covers, and of the text's the message."""
        document = self._documents[index]
        shared = sum(self._idf[term] for term in terms & document)
        covered = shared / weight if weight else 0.0
        coverage = shared / sum(self._idf[term] for term in document)
        return 2 * covered * coverage / (covered + coverage) if shared else 0.0

    def read(self, text: str) -> Reading:
        """The verdict on one typed message (see the module's docstring)."""
        ranked = self.rank(text)
        asked = is_question(text)
        if ranked:
            best, *rest = ranked
            clear = not rest or rest[0].score <= LEAD * best.score
            if clear and best.confidence >= (SURE if asked else SURE_UNASKED):
                return Reading(Verdict.ANSWER, (best.key,), best.confidence)
            if asked and best.confidence >= MAYBE:
                topics = tuple(candidate.key for candidate in ranked[:2])
                return Reading(Verdict.OFFER, topics, best.confidence)
        if asked:
            return Reading(Verdict.HANDOVER, confidence=ranked[0].confidence if ranked else 0.0)
        return Reading(Verdict.NONE)


def _asks(terms: Iterable[str]) -> frozenset[str]:
    """What kind of answer the words ask for: a time, a place, an amount, a person."""
    return frozenset(ASKS_FOR[term] for term in terms if term in ASKS_FOR)


_INDEXES: dict[tuple[int, tuple[tuple[str, str], ...]], tuple[RecruitmentConfig, FaqIndex]] = {}


def faq_index(config: RecruitmentConfig, learned: Sequence[tuple[str, str]] = ()) -> FaqIndex:
    """The index of `config`'s topics with the `(key, phrasing)` pairs staff added, built once
    per process and kept while they stay the same."""
    cache_key = (id(config), tuple(learned))
    cached = _INDEXES.get(cache_key)
    if cached is None or cached[0] is not config:
        _INDEXES.clear()
        cached = (config, FaqIndex(topics_of(config, learned)))
        _INDEXES[cache_key] = cached
    return cached[1]
