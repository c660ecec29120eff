"""Topic by meaning: which of a fixed set of subjects a request is about.

A farm that builds a training set walks a curriculum: its accounts ask about one subject, then
the next, together, whatever words each request is dressed in. The topic of a request is its
embedding (``meaning.py``) with the corpus mean and the intent models' directions taken out
(what a request asks the model *to do* is the intent signals' business; what it is *about* is
left), nearest of ``K`` centroids fitted by k-means on the corpus (``meaning_train.py``). Topics
are stored per request (the ``topic`` column) and compared across accounts by day
(``coordination/links.py``: ``curriculum`` links); one request's topic is no evidence.

>>> from distillguard.signals.meaning import Embedder
>>> topics, embed = Topics.default(), Embedder.default().embed
>>> a = topics.of(embed("A train leaves at 9:00 at 80 km/h; when does it cover 200 km?"))
>>> b = topics.of(embed("Show every step: a car drives 150 km at 60 km/h. How long does it take?"))
>>> c = topics.of(embed("Write a cover letter for a junior nursing position at a city hospital."))
>>> 0 <= a < topics.k, a == b, a == c
(True, True, False)
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from distillguard.signals.lexicon import RULES

TOPIC_FILE = "topics.npz"
K = 64  # subjects: coarse enough that paraphrases of one subject share one


class Topics:
    """Nearest centroid of the subject part of an embedding (``rules/topics.npz``)."""

    def __init__(self, path: Path) -> None:
        with np.load(path, allow_pickle=False) as data:
            self._mean = data["mean"].astype(np.float32)  # (dim,)
            self._basis = data["basis"].astype(np.float32)  # (dim, intents): orthonormal
            self._centroids = data["centroids"].astype(np.float32)  # (k, dim)
        self.k = int(self._centroids.shape[0])

    @staticmethod
    @cache
    def default() -> Topics:
        return Topics(Path(str(RULES / TOPIC_FILE)))

    def subject(self, vectors: NDArray[np.float32]) -> NDArray[np.float32]:
        """The subject part of unit embeddings (rows), as unit vectors."""
        y = np.atleast_2d(vectors) - self._mean
        y = y - (y @ self._basis) @ self._basis.T
        n = np.linalg.norm(y, axis=1, keepdims=True)
        out: NDArray[np.float32] = y / np.where(n > 0, n, 1)
        return out

    def of(self, vector: NDArray[np.float32]) -> int:
        """The topic of one unit embedding: an id in ``[0, k)``."""
        return int(np.argmax(self._centroids @ self.subject(vector)[0]))


def fit_topics(
    embeddings: NDArray[np.float32], intent_directions: NDArray[np.float32], k: int = K
) -> dict[str, NDArray[np.float32]]:
    """The arrays of ``topics.npz`` from corpus embeddings (rows, unit) and the intent models'
    text weights (one row per intent). Fixed seed: the same corpus gives the same topics."""
    from sklearn.cluster import KMeans

    mean = embeddings.mean(0).astype(np.float32)
    basis, _ = np.linalg.qr(intent_directions.T.astype(np.float64))
    y = embeddings - mean
    y = y - (y @ basis) @ basis.T
    y /= np.maximum(np.linalg.norm(y, axis=1, keepdims=True), 1e-12)
    km = KMeans(k, n_init=4, random_state=0).fit(y)
    centroids = km.cluster_centers_ / np.linalg.norm(km.cluster_centers_, axis=1, keepdims=True)
    return {
        "mean": mean,
        "basis": basis.astype(np.float32),
        "centroids": centroids.astype(np.float32),
    }
