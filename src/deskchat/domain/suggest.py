"""Suggested canned messages: which answers resemble what the requester wrote (lexical, no I/O).

The repository of canned messages is small (a few hundred), so they are ranked here rather than in the
database: words are compared after lower-casing and a light suffix strip, rarer words count more (IDF), and
a word in the title counts double. The search of earlier requests uses the database's full-text engine.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from deskchat.domain.canned import CannedMessage

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_PLACEHOLDER = re.compile(r"\{\{[^{}]*\}\}|\{[a-z_.]+\}")  # {{requester.name}} and the like
_STOPWORDS = """a about after again all am an and any are as at be been before being but by can could
did do does doing don for from had has have having he her here hers him his how i if in into is it its just me
my no not now of off on once only or other our out over own please same she should so some such than that the
their them then there these they this those through to too under until up very was we were what when where
which while who why will with would you your yours hello hi hey thanks thank hallo help problem issue"""
STOPWORDS = frozenset(_STOPWORDS.split())
MAX_TERMS = 16


def stem(word: str) -> str:
    """A light English suffix strip: printers, printing, printed -> print."""
    for suffix in ("ing", "ed", "es", "s"):
        if len(word) > len(suffix) + 2 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def terms(text: str) -> list[str]:
    """The meaningful words of a text, stemmed, each once, in order."""
    found = (stem(w.lower()) for w in _WORD.findall(_PLACEHOLDER.sub(" ", text)))
    return list(dict.fromkeys(w for w in found if w not in STOPWORDS and len(w) > 1))


def query_terms(texts: Iterable[str]) -> list[str]:
    """What the requester wrote, as search terms (their latest words first)."""
    found: list[str] = []
    for text in reversed(list(texts)):
        found.extend(w for w in terms(text) if w not in found)
    return found[:MAX_TERMS]


@dataclass(frozen=True)
class Ranked:
    """A canned message and how well it matches."""

    canned: CannedMessage
    score: float


def rank_canned(question: Sequence[str], candidates: Sequence[CannedMessage], limit: int = 5) -> list[Ranked]:
    """Canned messages sharing words with the question, best first (ties: title order)."""
    if not question or not candidates:
        return []
    docs = [(c, set(terms(c.title)), set(terms(c.body))) for c in candidates]
    frequency: dict[str, int] = {}
    for _, title, body in docs:
        for word in title | body:
            frequency[word] = frequency.get(word, 0) + 1
    n = len(docs)
    ranked = []
    for canned, title, body in docs:
        score = 0.0
        for word in question:
            weight = 2.0 if word in title else 1.0 if word in body else 0.0
            if weight:
                score += weight * math.log(1 + n / frequency[word])
        if score > 0:
            ranked.append(Ranked(canned, round(score / math.sqrt(1 + len(title | body) / 10), 4)))
    ranked.sort(key=lambda r: (-r.score, r.canned.title.lower(), r.canned.id))
    return ranked[:limit]
