"""Topic by meaning: which of a fixed set of subjects a request is about.

A farm that builds a training set walks a curriculum: its accounts ask about one subject, then
the next, together, whatever words each request is dressed in. What a text is *about* is carried
by its rare words ("dice", "hydrogen", "invoice"), what it asks the model *to do* by common ones
("explain", "step", "reasoning"), so the topic reads a second sum of the same static token
vectors (``meaning.py``), each token weighted by ``a / (a + p)`` for its frequency ``p`` in the
corpus, with the common direction removed (Arora et al., 2017, "A simple but tough-to-beat
baseline for sentence embeddings"), and takes the nearest of ``K`` centroids fitted by k-means
on the corpus (``meaning_train.py``). Topics are stored per request (the ``topic`` column) and
compared across accounts by day (``coordination/curriculum.py``); one request's topic is no
evidence.

>>> from distillguard.signals.meaning import Meaning
>>> def topic(text: str) -> int | None:
...     return Meaning.default().read((text,), None).topic
>>> a = topic("Show every step: a car drives 150 km at 60 km/h. How long does it take?")
>>> b = topic("A cyclist rides 40 km at 16 km/h. How long is the ride?")
>>> c = topic("Write a cover letter for a junior nursing position at a city hospital.")
>>> a == b, a == c
(True, False)
"""

from __future__ import annotations

import math
import re
from collections import Counter
from functools import cache
from pathlib import Path
from typing import cast

import numpy as np
from numpy.typing import NDArray

from distillguard.signals.lexicon import RULES

TOPIC_FILE = "topics.npz"
K = 32  # subjects: coarse enough that paraphrases of one subject share one
SMOOTHING = 1e-4  # the a of a / (a + p): words rarer than this keep nearly full weight
LABEL_WORDS = 3  # characteristic words per topic, for analysts
LABEL_MAX_SHARE = 0.05  # a word in more texts than this says how, not what
_WORD = re.compile(r"[^\W\d_]{4,24}")


@cache
def subject_weights() -> NDArray[np.float32] | None:
    """Each token's weight in the subject sum, or None before topics are fitted."""
    path = Path(str(RULES / TOPIC_FILE))
    if not path.exists():
        return None
    with np.load(path, allow_pickle=False) as data:
        out: NDArray[np.float32] = data["token_weight"].astype(np.float32)
    return out


class Topics:
    """Nearest centroid of a text's subject vector (``rules/topics.npz``)."""

    def __init__(self, path: Path) -> None:
        with np.load(path, allow_pickle=False) as data:
            self._mean = data["mean"].astype(np.float32)  # (dim,)
            self._common = data["common"].astype(np.float32)  # (dim, 1): unit
            self._centroids = data["centroids"].astype(np.float32)  # (k, dim)
            words = data["words"] if "words" in data.files else None
        self.k = int(self._centroids.shape[0])
        self.words: list[str] = [str(w) for w in words] if words is not None else [""] * self.k

    @staticmethod
    @cache
    def default() -> Topics:
        return Topics(Path(str(RULES / TOPIC_FILE)))

    def prepare(self, vectors: NDArray[np.float32]) -> NDArray[np.float32]:
        """Unit subject vectors (rows) centred, the common direction removed, unit again."""
        return _prepare(vectors, self._mean, self._common)

    def of(self, vector: NDArray[np.float32]) -> int:
        """The topic of one unit subject vector: an id in ``[0, k)``. (``prepare`` for one
        vector, without its 2-d bookkeeping: this runs on every request, and the final
        length does not change which centroid is nearest.)"""
        y = vector - self._mean
        y -= float(y @ self._common[:, 0]) * self._common[:, 0]
        return int(np.argmax(self._centroids @ y))

    def of_many(self, vectors: NDArray[np.float32]) -> list[int]:
        """The topics of many unit subject vectors (rows), as ``of`` reads each."""
        return cast(list[int], np.argmax(self.prepare(vectors) @ self._centroids.T, 1).tolist())


def _prepare(
    vectors: NDArray[np.float32], mean: NDArray[np.float32], common: NDArray[np.float32]
) -> NDArray[np.float32]:
    y = np.atleast_2d(vectors) - mean
    y = y - (y @ common) @ common.T
    n = np.linalg.norm(y, axis=1, keepdims=True)
    out: NDArray[np.float32] = (y / np.where(n > 0, n, 1)).astype(np.float32)
    return out


def token_weights(tokens: list[list[int]], vocabulary: int) -> NDArray[np.float32]:
    """``a / (a + p)`` per token id, ``p`` its frequency in the corpus's token lists."""
    counts = np.bincount(
        np.fromiter((t for ids in tokens for t in ids), np.int64), None, vocabulary
    )
    p = counts / max(1, counts.sum())
    out: NDArray[np.float32] = (SMOOTHING / (SMOOTHING + p)).astype(np.float32)
    return out


def label_topics(
    texts: list[str], ids: NDArray[np.int64], k: int, max_share: float = LABEL_MAX_SHARE
) -> list[str]:
    """Each topic's most characteristic words among the texts assigned to it (class-based
    TF-IDF: frequent in the topic, rare in the corpus), so that an analyst reading
    ``2026-05-04:7 (dice, roll, chance)`` sees what the farm asked about.

    >>> texts = ["Two dice are rolled, what are the odds", "Roll three dice: the odds of a six",
    ...          "Dice game odds with two rolls", "Write a resignation letter to my manager",
    ...          "A polite letter to my manager asking for leave", "Thank-you letter for a manager"]
    >>> label_topics(texts, np.array([0, 0, 0, 1, 1, 1]), 2, max_share=0.5)
    ['dice, odds', 'letter, manager']
    """
    docs = [{w.lower() for w in _WORD.findall(t)} for t in texts]
    df = Counter(w for d in docs for w in d)
    per: list[Counter[str]] = [Counter() for _ in range(k)]
    for words, topic in zip(docs, ids, strict=True):
        per[int(topic)].update(words)
    out = []
    for counts in per:
        # a word in fewer than 3 of the topic's texts is one writer's, not the topic's
        scored = {
            w: c * math.log(len(docs) / df[w])
            for w, c in counts.items()
            if c >= 3 and df[w] <= max_share * len(docs)
        }
        top = sorted(scored, key=lambda w: (-scored[w], w))[:LABEL_WORDS]
        out.append(", ".join(top))
    return out


def fit_topics(
    subjects: NDArray[np.float32], weights: NDArray[np.float32], texts: list[str], k: int = K
) -> dict[str, NDArray[np.generic]]:
    """The arrays of ``topics.npz`` from the corpus's subject vectors (rows, unit, computed with
    ``weights``) and their texts (for the labels). Fixed seed: the same corpus gives the same
    topics."""
    from sklearn.cluster import KMeans

    mean = subjects.mean(0).astype(np.float32)
    _, _, vt = np.linalg.svd(subjects - mean, full_matrices=False)
    common = vt[:1].T.astype(np.float32)
    km = KMeans(k, n_init=4, random_state=0).fit(_prepare(subjects, mean, common))
    centroids = km.cluster_centers_ / np.linalg.norm(km.cluster_centers_, axis=1, keepdims=True)
    return {
        "token_weight": weights,
        "mean": mean,
        "common": common,
        "centroids": centroids.astype(np.float32),
        "words": np.array(label_topics(texts, km.labels_, k)),
    }
