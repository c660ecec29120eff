"""The gateway's durable log: contract events appended to segment files ingest reads as they are.

Each event is one JSON line written with a single ``os.write`` to a file opened for appending,
before the client's response completes. Once the write returns, the line is in the operating
system's page cache: it survives the gateway being killed (``kill -9``) at any moment after.
It survives a power loss too only with ``fsync: true`` (each write is then flushed to disk
before the response completes, at a cost in latency). Segments roll over by size, and a
segment is named by when it was opened, so names sort in time order:

    LOG_DIR/events-20260301T120000-<pid>-000001.jsonl

>>> import tempfile, pathlib
>>> with tempfile.TemporaryDirectory() as d:
...     log = EventLog(pathlib.Path(d))
...     log.append({"request_id": "r1"})
...     log.close()
...     [p.name.startswith("events-") for p in pathlib.Path(d).iterdir()]
[True]
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

import msgspec

_encode = msgspec.json.Encoder().encode


class EventLog:
    """Append-only segments of JSON lines; safe to call from several threads."""

    def __init__(self, directory: Path, segment_bytes: int = 256 << 20, fsync: bool = False):
        self.directory = directory
        self.segment_bytes = segment_bytes
        self.fsync = fsync
        directory.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._seq = 0
        self._fd = -1
        self._size = 0
        self.path: Path | None = None
        self._open()

    def _open(self) -> None:
        self._seq += 1
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
        self.path = self.directory / f"events-{stamp}-{os.getpid()}-{self._seq:06d}.jsonl"
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
        self._size = 0

    def append(self, event: dict[str, Any]) -> None:
        """Write one event; when this returns the event is in the log (see the module doc)."""
        line = _encode(event) + b"\n"
        with self._lock:
            if self._size + len(line) > self.segment_bytes and self._size:
                fd, self._fd = self._fd, -1  # never write to a closed (maybe reused) number
                os.close(fd)
                self._open()
            written = os.write(self._fd, line)
            while written < len(line):  # a short write: rare, but never leave half a line
                written += os.write(self._fd, line[written:])
            self._size += len(line)
            if self.fsync:
                os.fsync(self._fd)

    def close(self) -> None:
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1
