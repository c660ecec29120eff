"""Pair OpenAI Batch API files before parsing: each input line gets its output line.

A batch's request is in its input file and its time, status and answer are in its output
file, in another order. Outputs are read first and held by ``custom_id`` (within their
directory: ids repeat across batches, so keep each batch's two files together); then each
input chunk's lines are handed their outputs. An output left unpaired at the end is refused,
never dropped.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec

from distillguard.contract.errors import Reason, RecordError
from distillguard.formats.openai_batch import OUTPUT_KEY, is_output
from distillguard.ingest.sources import Chunk, Record

Key = tuple[str, str]  # (directory, custom_id)


class Outputs:
    """A batch's output lines by ``custom_id``, until their input lines claim them."""

    def __init__(self) -> None:
        self.waiting: dict[Key, tuple[str, int, dict[str, Any]]] = {}
        self.errors: list[tuple[RecordError, bytes | dict[str, Any] | None]] = []

    def add(self, chunk: Chunk) -> None:
        """Hold one chunk of an output file; what is not an output line is refused now."""
        self.errors.extend((error, None) for error in chunk.errors)
        where = str(Path(chunk.file).parent)
        for line, record in chunk.records:
            obj = _object(record)
            if obj is None:
                error = _error(chunk.file, line, "not a JSON object", Reason.BAD_JSON, "")
                self.errors.append((error, record))
                continue
            if not is_output(obj) or not isinstance(obj.get("custom_id"), str):
                message = "not an output line (custom_id with response or error)"
                self.errors.append((_error(chunk.file, line, message), record))
                continue
            key = (where, obj["custom_id"])
            if key in self.waiting:
                file, first_line, _ = self.waiting[key]
                message = f"custom_id repeats line {first_line} of {file}; the first is kept"
                self.errors.append((_error(chunk.file, line, message), record))
                continue
            self.waiting[key] = (chunk.file, line, obj)

    def pair(self, chunks: Iterator[Chunk]) -> Iterator[Chunk]:
        """An input file's chunks, each line given its output (decoded here, in this process)."""
        for chunk in chunks:
            where = str(Path(chunk.file).parent)
            records: list[Record] = []
            for line, record in chunk.records:
                obj = _object(record)
                if obj is None or is_output(obj):
                    records.append((line, record))  # the parser refuses it with its reason
                    continue
                found = self.waiting.pop((where, str(obj.get("custom_id"))), None)
                if found is not None:
                    obj[OUTPUT_KEY] = found[2]
                records.append((line, obj))
            chunk.records = records
            yield chunk

    def unpaired(self) -> list[tuple[RecordError, bytes | dict[str, Any] | None]]:
        """Output lines no input line claimed, refused with their place; then forgotten."""
        left: list[tuple[RecordError, bytes | dict[str, Any] | None]] = [
            (
                _error(
                    file,
                    line,
                    "no input line with this custom_id in the batch input files given"
                    " (in the same directory): the request is not in the logs",
                ),
                obj,
            )
            for file, line, obj in self.waiting.values()
        ]
        self.waiting.clear()
        return left


def _object(record: bytes | dict[str, Any]) -> dict[str, Any] | None:
    if isinstance(record, dict):
        return record
    try:
        obj = msgspec.json.decode(record)
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
        return None
    return obj if isinstance(obj, dict) else None


def _error(
    file: str,
    line: int,
    message: str,
    reason: Reason = Reason.MISSING_FIELD,
    field: str = "custom_id",
) -> RecordError:
    return RecordError(
        file=file, line=line, field=field, reason=reason, message=f"openai-batch: {message}"
    )
