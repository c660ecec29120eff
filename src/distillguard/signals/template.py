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

from dataclasses import dataclass

from rensa import RMinHash

from distillguard.contract.digest import digest64

EDGE_WORDS = 8
SHINGLED_WORDS = 200  # near-duplicates are judged on the first 200 words: enough for a template
PERMS, BANDS = 16, 4
_DIGITS_TO_ZERO = bytes.maketrans(b"123456789", b"000000000")
_MASK = (1 << 64) - 1
_K1, _K2 = 0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F  # odd: multiplying permutes 64-bit values


@dataclass(frozen=True, slots=True)
class Skeleton:
    head: int | None
    tail: int | None
    bands: tuple[int, ...]


def words(text: str) -> list[bytes]:
    """Lower-cased words with every run of digits made one ``0``: numbers are slots, not form.

    >>> words("Call 555-1234 at 9")
    [b'call', b'0-0', b'at', b'0']
    """
    raw = text[:4000].lower().encode().translate(_DIGITS_TO_ZERO)
    while b"00" in raw:  # bytes methods, not a regex: this runs on every request
        raw = raw.replace(b"00", b"0")
    return raw.split()


def skeleton(text: str) -> Skeleton:
    w = words(text)
    if not w:
        return Skeleton(None, None, ())
    head = digest64(b" ".join(w[:EDGE_WORDS]))
    tail = digest64(b" ".join(w[-EDGE_WORDS:]))
    if len(w) < 8:
        return Skeleton(head, tail, ())
    w = w[:SHINGLED_WORDS]
    mh = RMinHash(PERMS, 42)
    mh.update(list(map(b" ".join, zip(w, w[1:], w[2:], strict=False))))  # word 3-grams
    d = mh.digest()  # PERMS 32-bit minima; a band is four of them, folded into 64 bits
    bands = tuple(
        (((d[j] << 32 | d[j + 1]) * _K1) ^ ((d[j + 2] << 32 | d[j + 3]) * _K2) ^ j) & _MASK
        for j in range(0, PERMS, PERMS // BANDS)
    )
    return Skeleton(head, tail, bands)
