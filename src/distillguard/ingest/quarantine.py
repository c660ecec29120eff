"""The quarantine file: one JSON line per refused record, saying where it was and why.

Appended to across runs (each line carries its run's start time) so nothing an
earlier run refused is overwritten; the file is only created when a record is refused.
"""

from __future__ import annotations

from pathlib import Path
from typing import IO, Any

import msgspec

from distillguard.contract.errors import RecordError

MAX_KEPT_BYTES = 64 * 1024


class Quarantine:
    """Writes refused records; ``keep_text`` follows the store's retention setting."""

    def __init__(self, path: Path, *, keep_text: bool, run: str) -> None:
        self.path = path
        self.keep_text = keep_text
        self.run = run
        self.count = 0
        self._file: IO[bytes] | None = None
        self._encoder = msgspec.json.Encoder()

    def add(
        self,
        error: RecordError,
        record: bytes | dict[str, Any] | None = None,
        *,
        record_bytes: int | None = None,
    ) -> None:
        """One refused record; ``record_bytes`` is its size when the record itself is gone
        (the Spark engine's tasks keep only the size)."""
        entry: dict[str, Any] = {
            "file": error.file,
            "line": error.line,
            "field": error.field,
            "reason": error.reason.value,
            "message": error.message,
            "run": self.run,
        }
        raw = record if record is None or isinstance(record, bytes) else self._encode(record)
        if raw is None and record_bytes is not None:
            entry["record_bytes"] = record_bytes
        if raw is not None:
            entry["record_bytes"] = len(raw)
            if self.keep_text:  # a privacy-minded store keeps no prompt text here either
                entry["record"] = raw[:MAX_KEPT_BYTES].decode("utf-8", errors="replace")
                entry["record_truncated"] = len(raw) > MAX_KEPT_BYTES
        if self._file is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self.path, "ab")  # noqa: SIM115 - kept open for the run
        self._file.write(self._encoder.encode(entry) + b"\n")
        self.count += 1

    def _encode(self, record: dict[str, Any]) -> bytes | None:
        try:
            return self._encoder.encode(record)
        except (RecursionError, msgspec.EncodeError, OverflowError):  # the error line still counts
            return None

    def flush(self) -> None:
        """Push what was written to the operating system (before the rows it refers to commit)."""
        if self._file is not None:
            self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def default_path(store_path: str) -> Path:
    """``distillguard.duckdb`` → ``distillguard.quarantine.jsonl``, beside the store."""
    if store_path == ":memory:":
        return Path("distillguard.quarantine.jsonl")
    store = Path(store_path)
    return store.with_name(f"{store.stem}.quarantine.jsonl")
