"""When requests happen within a day: human rhythms, office hours, batch windows, flat pipelines.

Each profile returns sorted offsets (seconds from UTC midnight) for ``n`` requests, given the
actor's UTC offset. Sessions cluster requests the way people and agent loops do.

>>> import random
>>> ts = day_times("business", 50, random.Random(3), utc_offset=0)
>>> len(ts), all(9 * 3600 <= t < 18 * 3600 for t in ts)
(50, True)
"""

from __future__ import annotations

import random
from bisect import bisect
from itertools import accumulate

DAY = 86400.0

# Relative activity by local hour for people (low at night, busy afternoon and evening).
_HUMAN = (2, 1, 1, 1, 1, 2, 4, 7, 10, 12, 13, 13, 12, 13, 14, 14, 13, 12, 12, 13, 13, 11, 8, 4)
_BUSINESS = tuple(10 if 9 <= h < 18 else 0 for h in range(24))
_NIGHTLY = tuple(10 if 1 <= h < 5 else 0 for h in range(24))
_CUM = {
    "diurnal": list(accumulate(_HUMAN)),
    "sessions": list(accumulate(_HUMAN)),
    "business": list(accumulate(_BUSINESS)),
    "nightly": list(accumulate(_NIGHTLY)),
}
WEEKEND_FACTOR = {"diurnal": 0.8, "sessions": 0.8, "business": 0.1, "nightly": 1.0, "flat": 1.0}


def _hour(profile: str, rng: random.Random) -> int:
    cum = _CUM[profile]
    return bisect(cum, rng.random() * cum[-1])


def day_times(
    profile: str,
    n: int,
    rng: random.Random,
    utc_offset: float = 0.0,
    session_gap: float = 60.0,
) -> list[float]:
    """``n`` request times in one UTC day, sorted.

    ``session_gap`` is the mean pause between requests within a session (``sessions`` only):
    about a minute for people, a few seconds for agent tool loops.
    """
    if n <= 0:
        return []
    shift = utc_offset * 3600.0
    if profile == "flat":
        times = [rng.random() * DAY for _ in range(n)]
    elif profile == "sessions":
        times = []
        while len(times) < n:
            t = _hour(profile, rng) * 3600.0 + rng.random() * 3600.0 - shift
            for _ in range(min(n - len(times), 1 + int(rng.expovariate(1 / 6)))):
                times.append(t)
                t += rng.expovariate(1 / session_gap) + 1.0
    else:
        times = [_hour(profile, rng) * 3600.0 + rng.random() * 3600.0 - shift for _ in range(n)]
    return sorted(t % DAY for t in times)


def poisson(rng: random.Random, mean: float) -> int:
    """A Poisson draw; normal approximation for large means keeps it O(1)."""
    if mean <= 0:
        return 0
    if mean > 50:
        return max(0, round(rng.gauss(mean, mean**0.5)))
    limit, k, p = 2.718281828459045**-mean, 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1
