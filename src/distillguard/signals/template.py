"""Template signatures: the prompt's skeleton, and MinHash bands for near-duplicates.

Pipelines wrap varying content (a problem, a document) in fixed instructions, usually at the
start and the end of the message. ``head`` and ``tail`` hash the first and last words with
numbers removed (they are the slots); ``bands`` are MinHash LSH band hashes of word 3-grams,
equal for two texts with high Jaccard similarity (about 0.7 and above) with high probability.

>>> a = skeleton("Solve: 12 + 7 = ? Think step by step and box the final answer.")
>>> b = skeleton("Solve: 3 + 95 = ? Think step by step and box the final answer.")
>>> a.head == b.head, a.tail == b.tail
(True, True)
"""

from __future__ import annotations

import sys
from array import array
from dataclasses import dataclass

import xxhash
from rensa import RMinHash

from distillguard.contract.digest import digest64

EDGE_WORDS = 8
SHINGLED_WORDS = 200  # near-duplicates are judged on the first 200 words: enough for a template
PERMS, BANDS = 16, 4
_DIGITS = b"0123456789"
_BAND_BYTES = 4 * PERMS // BANDS  # a band: PERMS // BANDS minima of 32 bits
_BAND_SLICES = tuple(slice(i, i + _BAND_BYTES) for i in range(0, 4 * PERMS, _BAND_BYTES))
_BAND_SEEDS = tuple(range(BANDS))  # equal minima in two bands are not one band value
_band_digest = xxhash.xxh3_64_intdigest
_BIG_ENDIAN = sys.byteorder == "big"


@dataclass(frozen=True, slots=True)
class Skeleton:
    head: int | None
    tail: int | None
    bands: tuple[int, ...]


def normalise(text: str) -> bytes:
    """Lower-cased UTF-8 without digits: numbers are slots, not form.

    >>> normalise("Call 555-1234 at 9")
    b'call - at '
    """
    return text[:4000].lower().encode().translate(None, _DIGITS)  # one pass in C


def skeleton(text: str) -> Skeleton:
    raw = normalise(text)
    # Split only what is used: the first SHINGLED_WORDS words and the last EDGE_WORDS.
    w = raw.split(None, SHINGLED_WORDS)
    if not w:
        return Skeleton(None, None, ())
    if len(w) > SHINGLED_WORDS:
        w.pop()  # the unsplit rest
        last = raw.rsplit(None, EDGE_WORDS)[-EDGE_WORDS:]
    else:
        last = w[-EDGE_WORDS:]
    head = digest64(b" ".join(w[:EDGE_WORDS]))
    tail = digest64(b" ".join(last))
    if len(w) < 8:
        return Skeleton(head, tail, ())
    mh = RMinHash(PERMS, 42)
    mh.update(list(map(b" ".join, zip(w, w[1:], w[2:], strict=False))))  # word 3-grams
    minima = array("I", mh.digest())  # PERMS 32-bit minima, BANDS bands of them
    if _BIG_ENDIAN:
        minima.byteswap()  # band values are shared between machines: little-endian everywhere
    packed = minima.tobytes()
    bands = tuple(map(_band_digest, map(packed.__getitem__, _BAND_SLICES), _BAND_SEEDS))
    return Skeleton(head, tail, bands)
