"""Sign-ups that share a value within the hour before each one, in this process.

Records may come out of time order (a replay of an accounts file): each is counted among the
sign-ups of the window before its own time.

>>> b = Bursts(window_s=3600)
>>> [b.add("email", "uni.example", now=t) for t in (0, 10, 20)]
[1, 2, 3]
>>> b.add("email", "uni.example", now=4000)  # the first three are over an hour before it
1
>>> b.add("email", "uni.example", now=5)  # late: among the two before it
2
"""

from __future__ import annotations

import bisect
from collections import OrderedDict

_MAX_VALUES = 100_000


class Bursts:
    def __init__(self, window_s: float = 3600.0) -> None:
        self.window_s = window_s
        self._seen: OrderedDict[tuple[str, str], list[float]] = OrderedDict()
        self._latest = float("-inf")

    def add(self, kind: str, value: str, now: float) -> int:
        """Count one sign-up with ``value`` at ``now``; those with it in the hour up to then."""
        key = (kind, value.lower())
        times = self._seen.pop(key, None) or []
        self._latest = max(self._latest, now)
        # Older than any window still asked about: dropped, so memory stays bounded.
        del times[: bisect.bisect_left(times, self._latest - 2 * self.window_s)]
        bisect.insort(times, now)
        self._seen[key] = times
        if len(self._seen) > _MAX_VALUES:
            self._seen.popitem(last=False)
        return bisect.bisect_right(times, now) - bisect.bisect_right(times, now - self.window_s)
