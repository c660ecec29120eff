"""The test of a suspect model's text: how many of its distinct (context, token) pairs are green.

Under the null hypothesis (the text was made without the key) each distinct pair is green with
probability ``gamma``, independently, so the number green of ``n`` is Binomial(n, gamma) and
the p-value is its upper tail: exact, whatever the text. Only distinct pairs count, over all
the texts together: a template repeated a million times is scored once.

>>> from distillguard.provenance.keys import derive
>>> key = derive(b"secret", "c7")
>>> s = score(key, [[5, 9, 5, 9, 5, 9, 5, 9]])  # one pair (5, 9) and one (9, 5), repeated
>>> s.tokens
2
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import binom

from distillguard.provenance.keys import WatermarkKey, greens


@dataclass(frozen=True, slots=True)
class Score:
    key_id: str
    tokens: int  # distinct (context, token) pairs scored
    green: int
    gamma: float
    p_value: float

    @property
    def z(self) -> float:
        n = self.tokens
        if n == 0:
            return 0.0
        return (self.green - self.gamma * n) / float(np.sqrt(n * self.gamma * (1 - self.gamma)))


def pairs(texts: Iterable[Sequence[int]], context: int) -> np.ndarray:
    """The distinct (context..., token) rows of all the texts."""
    rows = []
    for tokens in texts:
        arr = np.asarray(tokens, dtype=np.uint64)
        if len(arr) <= context:
            continue
        rows.append(np.lib.stride_tricks.sliding_window_view(arr, context + 1))
    if not rows:
        return np.zeros((0, context + 1), dtype=np.uint64)
    return np.unique(np.concatenate(rows), axis=0)


def score(key: WatermarkKey, texts: Iterable[Sequence[int]]) -> Score:
    """Score token id sequences (each a text, tokenised as the watermarked model does)."""
    rows = pairs(texts, key.context)
    n = len(rows)
    green = int(greens(key, rows[:, : key.context], rows[:, key.context]).sum()) if n else 0
    p = float(binom.sf(green - 1, n, key.gamma)) if n else 1.0
    return Score(key.key_id, n, green, key.gamma, min(1.0, p))
