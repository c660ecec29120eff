"""Read log files of any size, a chunk of records at a time, in constant memory.

JSON Lines (plain or gzip) and Parquet are recognised by their first bytes, not
their names; a directory stands for the log files inside it. Reading never
raises for bad content: an oversized line or a file that ends early becomes a
RecordError in the chunk, and every good record before it is still delivered.
"""

from __future__ import annotations

import gzip
import io
import os
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePath
from typing import IO, Any, Protocol
from urllib.parse import unquote

import msgspec
import pyarrow as pa
import pyarrow.parquet as pq

from distillguard.contract.errors import Reason, RecordError
from distillguard.formats import SNIFF_RECORDS, detect
from distillguard.ingest.validate import explain_json_error

LOG_SUFFIXES = (".jsonl", ".ndjson", ".json", ".gz", ".parquet")
DEFAULT_CHUNK = 5_000
_GZIP_MAGIC = b"\x1f\x8b"
_PARQUET_MAGIC = b"PAR1"
_BOM = b"\xef\xbb\xbf"  # UTF-8 byte order mark
# Dotfiles, and Spark's and Hadoop's markers (_SUCCESS, _committed_*): not logs, not worth listing.
_HIDDEN = (".", "_")
PARTITION_FIELDS = ("account_id", "api_key_id", "org_id", "endpoint", "model")
_HIVE_NULL = "__HIVE_DEFAULT_PARTITION__"
_UNCONVERTIBLE = (OverflowError, ValueError, pa.ArrowException)  # Arrow value → Python value


class SourceError(ValueError):
    """A path given to ingest cannot be used at all (it does not exist, or holds no logs)."""


Record = tuple[int, bytes | dict[str, Any]]


class _LineStream(Protocol):
    def readline(self, size: int | None = -1, /) -> bytes: ...


@dataclass
class Chunk:
    """Up to ``DEFAULT_CHUNK`` records of one file, with the problems met reading them."""

    file: str
    records: list[Record] = field(default_factory=list)
    errors: list[RecordError] = field(default_factory=list)
    consumed: int = 0  # bytes of the file read since the previous chunk, for progress
    format: str = "contract"  # the log format its records are in (``distillguard.formats``)
    file_time: datetime | None = None  # the file's modification time, for formats that need it


def expand(paths: Iterable[Path]) -> list[Path]:
    """The log files named by ``paths``: files as given, directories searched recursively.

    >>> expand([Path("/nonexistent/events.jsonl")])
    Traceback (most recent call last):
    ...
    distillguard.ingest.sources.SourceError: /nonexistent/events.jsonl: no such file or directory
    """
    return scan(paths)[0]


def scan(paths: Iterable[Path]) -> tuple[list[Path], list[Path]]:
    """The log files named by ``paths``, and the files in its directories left unread.

    In a directory a file is read when its name ends in a log suffix, in any case,
    and is not hidden. The others are returned so they can be reported. Hidden, as Spark and
    Hadoop read a directory: a name starting with ``.`` or ``_`` at any depth (``.git/``,
    ``_SUCCESS``, a job's unfinished ``_temporary/``), neither read nor listed.
    """
    files: list[Path] = []
    skipped: list[Path] = []
    for path in paths:
        if path.is_dir():
            found: list[Path] = []
            for p in sorted(path.rglob("*")):
                kind = wanted(p.relative_to(path))
                if kind is None or not p.is_file():
                    continue
                (found if kind else skipped).append(p)
            if not found:
                raise SourceError(
                    f"{path}: directory holds no log files ({', '.join(LOG_SUFFIXES)})"
                )
            files.extend(found)
        elif path.exists():
            files.append(path)
        else:
            raise SourceError(f"{path}: no such file or directory")
    return files, skipped


def wanted(relative: PurePath) -> bool | None:
    """A name found under a directory: a log to read (True), a file to report as skipped
    (False), or hidden (None).

    >>> wanted(PurePath("date=2026-03-02/part-0.parquet")), wanted(PurePath("notes.txt"))
    (True, False)
    >>> wanted(PurePath("_temporary/0/part-0.parquet")) is None
    True
    """
    if any(part.startswith(_HIDDEN) for part in relative.parts):
        return None
    return relative.name.lower().endswith(LOG_SUFFIXES)


def partition_values(path: PurePath) -> dict[str, str]:
    """Contract fields named by Hive-style directories (``model=atlas-3/``) above a file.

    A lake partitioned by a field drops it from the files; ingest puts it back where a record
    lacks it. Other partition keys (``date=``, ``hour=``) are the lake's, not the contract's.

    >>> partition_values(Path("lake/date=2026-03-02/model=atlas%2D3/part-0.parquet"))
    {'model': 'atlas-3'}
    """
    out = {}
    for part in path.parts[:-1]:
        key, sep, value = part.partition("=")
        if sep and key in PARTITION_FIELDS and value and value != _HIVE_NULL:
            out[key] = unquote(value)
    return out


def read(
    path: Path,
    *,
    max_record_bytes: int,
    chunk_size: int = DEFAULT_CHUNK,
    format: str | None = None,
) -> Iterator[Chunk]:
    """Chunks of records from one log file, whatever its encoding, each stamped with its
    log format: ``format`` when given, else the one its first records look like."""
    try:
        raw = open(path, "rb")  # noqa: SIM115 - closed below, after the generator is drained
        mtime = datetime.fromtimestamp(os.fstat(raw.fileno()).st_mtime, UTC)
    except OSError as exc:
        yield Chunk(str(path), errors=[_file_error(path, 0, Reason.UNREADABLE_FILE, str(exc))])
        return
    name = format
    for chunk in _read(path, raw, max_record_bytes, chunk_size):
        if name is None and chunk.records:  # the first records decide, for the whole file
            name = detect(decoded(chunk.records)).name
        chunk.format, chunk.file_time = name or "contract", mtime
        yield chunk


def decoded(records: list[Record]) -> Iterator[dict[str, Any]]:
    """The first records as objects, for format detection; lines that are not JSON objects
    are passed over (the validator reports them)."""
    for _, record in records[:SNIFF_RECORDS]:
        if isinstance(record, dict):
            yield record
            continue
        try:
            obj = msgspec.json.decode(record)
        except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
            continue
        if isinstance(obj, dict):
            yield obj


def _read(
    path: Path, raw: io.BufferedReader, max_record_bytes: int, chunk_size: int
) -> Iterator[Chunk]:
    with raw:
        magic = raw.read(4)
        raw.seek(0)
        if magic.startswith(_PARQUET_MAGIC):
            yield from _read_parquet(path, raw, max_record_bytes, chunk_size)
        elif magic.startswith(_GZIP_MAGIC):
            with gzip.GzipFile(fileobj=raw, mode="rb") as stream:
                yield from _read_lines(path, stream, raw, max_record_bytes, chunk_size)
        else:
            yield from _read_lines(path, raw, raw, max_record_bytes, chunk_size)


def _file_error(path: Path, line: int, reason: Reason, message: str) -> RecordError:
    return RecordError(file=str(path), line=line, field="", reason=reason, message=message)


def _read_lines(
    path: Path, stream: _LineStream, raw: IO[bytes], max_bytes: int, chunk_size: int
) -> Iterator[Chunk]:
    chunk = Chunk(str(path))
    line_no = 0
    position = 0
    try:
        while True:
            # Room for "\r\n", and on the first line for a byte order mark.
            line = stream.readline(max_bytes + 2 + (0 if line_no else len(_BOM)))
            if not line:
                break
            line_no += 1
            if line_no == 1:
                line = line.removeprefix(_BOM)  # Windows tools write one; it is not JSON
            record = line.rstrip(b"\r\n")
            # Too long, or no newline within the limit: skip the rest of the line unread.
            if len(record) > max_bytes or (len(line) > max_bytes and not line.endswith(b"\n")):
                size = _skip_rest(stream, line)
                chunk.errors.append(
                    _file_error(
                        path,
                        line_no,
                        Reason.OVERSIZED,
                        f"record is {size} bytes, over the limit of {max_bytes}",
                    )
                )
                continue
            if record.strip():
                chunk.records.append((line_no, record))
            if len(chunk.records) >= chunk_size:
                chunk.consumed, position = raw.tell() - position, raw.tell()
                yield chunk
                chunk = Chunk(str(path))
    except (EOFError, gzip.BadGzipFile, zlib.error, OSError) as exc:
        chunk.errors.append(
            _file_error(
                path,
                line_no + 1,
                Reason.TRUNCATED_FILE,
                f"file ends early or is corrupt after line {line_no} "
                f"({type(exc).__name__}: {exc}); the lines before were read",
            )
        )
    chunk.consumed = _size(raw) - position
    yield chunk


def _skip_rest(stream: _LineStream, start: bytes) -> int:
    """Read past the rest of an oversized line; its size without the "\n" or "\r\n"."""
    size, tail, piece = len(start), start[-2:], start
    while piece and not piece.endswith(b"\n"):
        piece = stream.readline(1 << 20)
        size += len(piece)
        tail = (tail + piece)[-2:]  # "\r\n" may straddle two pieces
    return size - (2 if tail == b"\r\n" else 1 if tail.endswith(b"\n") else 0)


def _size(raw: IO[bytes]) -> int:
    raw.seek(0, 2)
    return raw.tell()


def _read_parquet(path: Path, raw: IO[bytes], max_bytes: int, chunk_size: int) -> Iterator[Chunk]:
    total = _size(raw)
    raw.seek(0)
    try:
        parquet = pq.ParquetFile(raw)
        rows_total = max(parquet.metadata.num_rows, 1)
    except (pa.ArrowException, OSError) as exc:
        yield Chunk(
            str(path),
            errors=[
                _file_error(path, 0, Reason.UNREADABLE_FILE, f"not a readable Parquet file: {exc}")
            ],
            consumed=total,
        )
        return
    row_no = 0
    reported = 0
    batches = parquet.iter_batches(batch_size=chunk_size)
    while True:
        chunk = Chunk(str(path))
        try:
            batch = next(batches, None)
        except (pa.ArrowException, OSError) as exc:
            chunk.errors.append(
                _file_error(
                    path,
                    row_no + 1,
                    Reason.TRUNCATED_FILE,
                    f"Parquet data unreadable after row {row_no}: {exc}",
                )
            )
            batch = None
        if batch is not None:
            for row in _pylist(path, batch, row_no):
                row_no += 1
                if isinstance(row, dict):
                    row = _parquet_record(path, row_no, row, max_bytes)
                if isinstance(row, RecordError):
                    chunk.errors.append(row)
                else:
                    chunk.records.append((row_no, row))
        done = total if batch is None else total * row_no // rows_total
        chunk.consumed, reported = done - reported, done
        yield chunk
        if batch is None:
            return


def _pylist(path: Path, batch: pa.RecordBatch, before: int) -> list[dict[str, Any] | RecordError]:
    """The batch's rows as dicts. A value Python cannot hold (a timestamp past year 9999)
    fails the whole batch at once, so then go row by row and lose only the bad rows."""
    try:
        return batch.to_pylist()  # type: ignore[no-any-return]
    except _UNCONVERTIBLE:
        pass
    rows: list[dict[str, Any] | RecordError] = []
    for i in range(batch.num_rows):
        try:
            rows.append(batch.slice(i, 1).to_pylist()[0])
        except _UNCONVERTIBLE as exc:
            rows.append(_unconvertible(path, before + i + 1, batch, i, exc))
    return rows


def _unconvertible(
    path: Path, row_no: int, batch: pa.RecordBatch, i: int, exc: Exception
) -> RecordError:
    field, reason, message = "", Reason.BAD_VALUE, f"value cannot be read: {exc}"
    for name, column in zip(batch.schema.names, batch.columns, strict=True):
        try:
            column[i].as_py()
        except _UNCONVERTIBLE as problem:
            field, message = name, f"value cannot be read: {problem}"
            if pa.types.is_temporal(column.type):
                reason = Reason.BAD_TIMESTAMP
                message = f"impossible timestamp, outside years 1-9999: {problem}"
            break
    return RecordError(file=str(path), line=row_no, field=field, reason=reason, message=message)


def _parquet_record(
    path: Path, row_no: int, row: dict[str, Any], max_bytes: int
) -> dict[str, Any] | RecordError:
    """A Parquet row as a contract record: nulls dropped, dotted columns nested, JSON parsed."""
    record: dict[str, Any] = {}
    for key, value in row.items():
        if value is None:
            continue
        if isinstance(value, dict):
            value = {k: v for k, v in value.items() if v is not None}
        parent, dot, child = key.partition(".")
        if dot and parent in ("client", "usage"):
            record.setdefault(parent, {})[child] = value
        else:
            record[key] = value
    for name in ("request", "response"):
        text = record.get(name)
        if isinstance(text, str | bytes):  # Parquet carries bodies as JSON text
            size = _utf8_size(text)
            if size > max_bytes:
                return _file_error(
                    path,
                    row_no,
                    Reason.OVERSIZED,
                    f"{name} is {size} bytes, over the limit of {max_bytes}",
                )
            try:
                record[name] = msgspec.json.decode(text)
            except (msgspec.DecodeError, UnicodeDecodeError, RecursionError) as exc:
                inner, reason, message = explain_json_error(text, exc)
                where = f"{name}.{inner}" if inner else name
                return RecordError(
                    file=str(path), line=row_no, field=where, reason=reason, message=message
                )
    return record


def _utf8_size(text: str | bytes) -> int:
    if isinstance(text, bytes) or text.isascii():  # isascii() is O(1): no copy for most bodies
        return len(text)
    return len(text.encode("utf-8", "surrogatepass"))
