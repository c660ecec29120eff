"""Log files → validated events with their signals, in Spark tasks, by the ingest code itself.

Each task is given whole files and reads them as ``distillguard ingest`` does (``ingest.sources``
for the format, ``ingest.run.parse_events`` for validation, normalisation and the per-request
signals), so the two engines cannot drift: the same quarantine reasons, the same columns. A
task yields Arrow batches of one schema: the store's event columns (64-bit digests as
``DECIMAL(20,0)``, since Spark has no unsigned integers) followed by the quarantine's fields,
which are NULL on an event and set on a refused record.

Paths are local (or on a filesystem mounted on every worker, as ``/dbfs`` is on Databricks),
or URIs that pyarrow's filesystems open (``s3://``, ``gs://``, ``hdfs://``...); a URI's file is
copied to the task's scratch space and read there.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote

import msgspec
import pyarrow as pa
import pyarrow.compute as pc

from distillguard.contract.errors import Reason, RecordError
from distillguard.ingest.run import parse_events
from distillguard.ingest.sources import SourceError, read, scan, wanted
from distillguard.store.columns import EVENT_COLUMNS, arrow_schema

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

DIGEST = pa.decimal128(20, 0)  # a uint64 digest, as Spark can hold it
ERROR_FIELDS = (
    ("q_file", pa.string()),
    ("q_line", pa.int64()),
    ("q_field", pa.string()),
    ("q_reason", pa.string()),
    ("q_message", pa.string()),
    ("q_bytes", pa.int64()),
    ("file_index", pa.int64()),  # the file's place in the listing, for first-read-wins
)
_ERROR_NAMES = {n for n, _ in ERROR_FIELDS}
_STORE = arrow_schema(EVENT_COLUMNS)
SCHEMA = pa.schema(
    [pa.field(f.name, DIGEST if f.type == pa.uint64() else f.type) for f in _STORE]
    + [pa.field(n, t) for n, t in ERROR_FIELDS]
)
_encode = msgspec.json.Encoder().encode


def list_files(paths: list[str]) -> tuple[list[str], list[str]]:
    """The log files named by ``paths`` (files, directories, URIs), and the files left unread.

    The rules are ingest's: directories are searched recursively, hidden names are ignored and
    files without a log suffix are reported as skipped.
    """
    local = [Path(p) for p in paths if "://" not in p]
    files, skipped = scan(local) if local else ([], [])
    found = [str(p) for p in files]
    others = [str(p) for p in skipped]
    for uri in (p for p in paths if "://" in p):
        more, left = _list_uri(uri)
        found += more
        others += left
    return found, others


def _list_uri(uri: str) -> tuple[list[str], list[str]]:
    from pyarrow import fs

    try:
        filesystem, root = fs.FileSystem.from_uri(uri)
        info = filesystem.get_file_info(root)
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise SourceError(f"{uri}: {exc}") from exc
    if info.type == fs.FileType.NotFound:
        raise SourceError(f"{uri}: no such file or directory")
    if info.type == fs.FileType.File:
        return [uri], []
    base = uri.rstrip("/")
    found: list[str] = []
    skipped: list[str] = []
    for item in sorted(
        filesystem.get_file_info(fs.FileSelector(root, recursive=True)), key=lambda i: i.path
    ):
        if item.type != fs.FileType.File:
            continue
        relative = PurePosixPath(item.path).relative_to(PurePosixPath(root))
        kind = wanted(relative)
        if kind is not None:
            # Escaped, so a name holding "%", a space or ":" (Hive escapes) opens as itself.
            (found if kind else skipped).append(f"{base}/{quote(str(relative), safe='/=')}")
    if not found:
        raise SourceError(f"{uri}: directory holds no log files")
    return found, skipped


@dataclass
class Settings:
    """What every task needs to validate as the driver would."""

    max_record_bytes: int
    now: datetime  # the driver's clock: "not in the future" means the same in every task


def parse_files(batches: Iterator[pa.RecordBatch], settings: Settings) -> Iterator[pa.RecordBatch]:
    """A task: for each file named in the ``path`` column, its events and refused records."""
    for batch in batches:
        for name, index in zip(
            batch.column("path").to_pylist(), batch.column("index").to_pylist(), strict=True
        ):
            yield from _parse_file(str(name), settings, int(index))


def _parse_file(name: str, settings: Settings, index: int = 0) -> Iterator[pa.RecordBatch]:
    """One file's events and refused records; ``index`` is its place in the listing (the
    first read of a request id is the one kept, as ingest keeps it)."""
    scratch = None
    shown = unquote(name) if "://" in name else name  # as listed: Hive names keep their escapes
    try:
        if "://" in name:
            scratch = _fetch(name)
            path = Path(scratch)
        else:
            path = Path(name)
        for chunk in read(path, max_record_bytes=settings.max_record_bytes):
            if scratch is not None:  # errors and rows name the file as the user did
                chunk.errors = [msgspec.structs.replace(e, file=shown) for e in chunk.errors]
            chunk.file = shown
            parsed = parse_events(chunk, False, settings.max_record_bytes, settings.now)
            if parsed.table.num_rows:
                yield from _events(parsed.table, index).to_batches()
            if parsed.rejected:
                yield from _errors(parsed.rejected, index).to_batches()
    except (OSError, pa.ArrowException) as exc:  # vanished, or cannot be fetched: one refusal
        error = RecordError(
            file=shown, line=0, field="", reason=Reason.UNREADABLE_FILE, message=str(exc)
        )
        yield from _errors([(error, None)], index).to_batches()
    finally:
        if scratch is not None:
            os.unlink(scratch)


def _fetch(uri: str) -> str:
    from pyarrow import fs

    filesystem, path = fs.FileSystem.from_uri(uri)
    # Spark's scratch directories where the task has them (YARN, Kubernetes), else the system's.
    scratch = (os.environ.get("SPARK_LOCAL_DIRS") or "").split(",")[0] or None
    with filesystem.open_input_stream(path) as src:  # opened first: a failure leaves no file
        handle, local = tempfile.mkstemp(
            prefix="distillguard-", suffix=PurePosixPath(path).suffix, dir=scratch
        )
        try:
            with os.fdopen(handle, "wb") as out:
                shutil.copyfileobj(src, out, 1 << 20)
        except BaseException:
            os.unlink(local)
            raise
    return local


def _events(table: pa.Table, index: int) -> pa.Table:
    columns = [
        pc.cast(table.column(f.name), DIGEST) if f.type == DIGEST else table.column(f.name)
        for f in SCHEMA
        if f.name not in _ERROR_NAMES
    ]
    n = table.num_rows
    columns += [pa.nulls(n, t) for name, t in ERROR_FIELDS if name != "file_index"]
    columns.append(pa.array([index] * n, pa.int64()))
    return pa.Table.from_arrays(columns, schema=SCHEMA)


def _errors(
    rejected: list[tuple[RecordError, bytes | dict[str, Any] | None]], index: int
) -> pa.Table:
    n = len(rejected)
    values: dict[str, list[Any]] = {
        "file_index": [index] * n,
        "q_file": [e.file for e, _ in rejected],
        "q_line": [e.line for e, _ in rejected],
        "q_field": [e.field for e, _ in rejected],
        "q_reason": [e.reason.value for e, _ in rejected],
        "q_message": [e.message for e, _ in rejected],
        "q_bytes": [_size(r) for _, r in rejected],
    }
    columns = [
        pa.array(values[f.name], f.type) if f.name in values else pa.nulls(n, f.type)
        for f in SCHEMA
    ]
    return pa.Table.from_arrays(columns, schema=SCHEMA)


def _size(record: bytes | dict[str, Any] | None) -> int | None:
    if record is None:
        return None
    if isinstance(record, bytes):
        return len(record)
    try:
        return len(_encode(record))
    except (RecursionError, msgspec.EncodeError, OverflowError):
        return None


def read_events(spark: SparkSession, files: list[str], settings: Settings) -> DataFrame:
    """Every record of ``files`` parsed in Spark tasks: events and refused records (``SCHEMA``).

    Each file goes to a task of its own (up to a few per core), so a directory of log segments
    keeps every core busy; one huge file is one task.
    """
    from pyspark.sql.pandas.types import from_arrow_schema

    slices = max(1, min(len(files), 10_000))
    paths = spark.sparkContext.parallelize([(f, i) for i, f in enumerate(files)], slices)
    listing = spark.createDataFrame(paths, "path string, index long")
    return listing.mapInArrow(partial(parse_files, settings=settings), from_arrow_schema(SCHEMA))
