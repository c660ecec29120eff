"""Template signatures: the prompt's skeleton, and MinHash bands for near-duplicates.

Pipelines wrap varying content (a problem, a document) in fixed instructions, usually at the
start and the end of the message. ``head`` and ``tail`` hash the first and last words with
numbers normalised; ``bands`` are MinHash LSH band hashes of word 3-grams, equal for two texts
with high Jaccard similarity (about 0.7 and above) with high probability.

>>> a = skeleton("Solve: 12 + 7 = ? Think step by step and box the final answer.")
>>> b = skeleton("Solve: 3 + 95 = ? Think step by step and box the final answer.")
>>> a.head == b.head, a.tail == b.tail
(True, True)
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rensa import RMinHash

from distillguard.contract.digest import digest64

EDGE_WORDS = 8
PERMS, BANDS = 16, 4
_DIGITS = re.compile(r"\d+")
_MASK = (1 << 64) - 1


@dataclass(frozen=True, slots=True)
class Skeleton:
    head: int | None
    tail: int | None
    bands: tuple[int, ...]


def skeleton(text: str) -> Skeleton:
    words = _DIGITS.sub("0", text[:4000].lower()).split()
    if not words:
        return Skeleton(None, None, ())
    head = digest64(" ".join(words[:EDGE_WORDS]))
    tail = digest64(" ".join(words[-EDGE_WORDS:]))
    if len(words) < 8:
        return Skeleton(head, tail, ())
    shingles = [" ".join(words[i : i + 3]) for i in range(min(len(words), 400) - 2)]
    mh = RMinHash(PERMS, 42)
    mh.update(shingles)
    d = mh.digest()
    rows = PERMS // BANDS
    bands = tuple(_fold(d[i * rows : (i + 1) * rows], i) for i in range(BANDS))
    return Skeleton(head, tail, bands)


def _fold(values: list[int], band: int) -> int:
    h = 0xCBF29CE484222325 ^ band
    for v in values:
        h = ((h ^ v) * 0x100000001B3) & _MASK
    return h
