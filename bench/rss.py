"""Peak resident memory of this process and its worker processes, for the benchmarks."""

from __future__ import annotations

import threading
from types import TracebackType

import psutil


class PeakRSS:
    """Samples every 50 ms while in the ``with`` block; ``bytes`` is the worst moment's total.

    >>> with PeakRSS() as peak:
    ...     data = bytearray(10_000_000)
    >>> peak.bytes > 10_000_000
    True
    """

    def __init__(self) -> None:
        self.bytes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        me = psutil.Process()
        while True:
            try:
                rss = me.memory_info().rss + sum(
                    c.memory_info().rss for c in me.children(recursive=True)
                )
                self.bytes = max(self.bytes, rss)
            except psutil.Error:
                pass
            if self._stop.wait(0.05):
                return

    def __enter__(self) -> PeakRSS:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def mb(self) -> int:
        return round(self.bytes / 2**20)
