"""Ingest: log files → validated, normalised rows in the store; bad records → quarantine.

Every record read ends up in exactly one place: stored, a duplicate of a stored
request_id, or the quarantine. Chunks are parsed in worker processes when asked
(``workers > 1``); the store is written from this process only.
"""

from __future__ import annotations

import gc
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from distillguard import formats
from distillguard.contract.errors import Reason, RecordError
from distillguard.formats import CONTRACT, SNIFF_RECORDS, Defaults, Skip, Unreadable
from distillguard.formats.openai_batch import OpenAIBatch, is_output
from distillguard.ingest.batch import Outputs
from distillguard.ingest.quarantine import Quarantine
from distillguard.ingest.rows import AccountRows, EventRows, read_requests, rows_to_arrow
from distillguard.ingest.sources import (
    DEFAULT_CHUNK,
    Chunk,
    Record,
    decoded,
    partition_values,
    read,
    scan,
)
from distillguard.ingest.validate import DEFAULT_MAX_RECORD_BYTES, Validator
from distillguard.store.database import Retention, Store

Rejected = list[tuple[RecordError, bytes | dict[str, Any] | None]]


@dataclass
class IngestOptions:
    max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES
    chunk_size: int = DEFAULT_CHUNK
    workers: int = 1
    now: datetime | None = None  # the clock for "not in the future"; tests and replays fix it
    format: str | None = None  # the event files' log format; None: detected per file
    account_id: str | None = None  # the account for records that name none


@dataclass
class IngestReport:
    """What one ingest run did. ``records == stored + duplicates + quarantined``, and
    ``accounts_new + accounts_updated + accounts_quarantined`` is the account lines read
    (a line naming an account already seen, in the store or earlier in the run, is an update).
    """

    files: int = 0
    stored: int = 0
    duplicates: int = 0
    quarantined: Counter[str] = field(default_factory=Counter)
    accounts_new: int = 0
    accounts_updated: int = 0
    accounts_quarantined: int = 0
    skipped: list[str] = field(default_factory=list)  # files in directories not read: not logs
    skipped_records: Counter[str] = field(default_factory=Counter)  # valid, not model calls
    formats: Counter[str] = field(default_factory=Counter)  # event files per log format
    quarantine_path: Path | None = None
    seconds: float = 0.0

    @property
    def records(self) -> int:
        return self.stored + self.duplicates + sum(self.quarantined.values())

    @property
    def clean(self) -> bool:
        return not self.quarantined and not self.accounts_quarantined


@dataclass
class _Parsed:
    table: pa.Table
    rejected: Rejected
    repeats: int = 0  # lines replaced by a later line in the same chunk (accounts)
    skipped: Counter[str] = field(default_factory=Counter)  # records that are not model calls


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector for one chunk. A chunk builds hundreds of thousands
    of short-lived objects (decoded records, views, rows); the collector's passes over them
    and over every long-lived object (models, memos) cost a third of parsing time. Reference
    counting frees them all the same; the rare cycle (an exception's traceback) waits for
    the collector's next pass after the chunk."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def parse_events(
    chunk: Chunk,
    keep_text: bool,
    max_record_bytes: int,
    now: datetime,
    account_id: str | None = None,
) -> _Parsed:
    """Validate and normalise one chunk of event records (runs in a worker process).

    Records in another tool's format (``chunk.format``) are first mapped onto the contract;
    ``account_id`` is the account for records that name none (``--account-id``).
    """
    with _collector_paused():
        return _parse_events(chunk, keep_text, max_record_bytes, now, account_id)


def _parse_events(
    chunk: Chunk, keep_text: bool, max_record_bytes: int, now: datetime, account_id: str | None
) -> _Parsed:
    validator = Validator(
        chunk.file,
        max_record_bytes=max_record_bytes,
        now=now,
        partition=partition_values(Path(chunk.file)),
    )
    rows = EventRows(keep_text)
    rejected: Rejected = [(error, None) for error in chunk.errors]
    skipped: Counter[str] = Counter()
    records = chunk.records
    if chunk.format != CONTRACT.name or account_id is not None:
        defaults = Defaults(account_id, chunk.file_time, Path(chunk.file).name)
        records = _mapped(chunk, formats.get(chunk.format), defaults, validator, rejected, skipped)
    valid = []
    for line, record in records:
        result = validator.event(line, record)
        if isinstance(result, RecordError):
            rejected.append((result, record))
        else:
            valid.append((line, record, *result))
    reads = read_requests([event for _, _, event, _ in valid])  # the chunk's signals at once
    for (line, record, event, extra), done in zip(valid, reads, strict=True):
        try:
            if isinstance(done, Exception):
                raise done
            rows.add(event, extra, chunk.file, line, done)
        except Exception as exc:  # one record the normaliser cannot read must not sink the batch
            error = validator.error(line, "", Reason.BAD_VALUE, f"cannot be normalised: {exc!r}")
            rejected.append((error, record))
    return _Parsed(_to_arrow(rows, chunk, validator, rejected), rejected, skipped=skipped)


def _mapped(
    chunk: Chunk,
    fmt: formats.Format,
    defaults: Defaults,
    validator: Validator,
    rejected: Rejected,
    skipped: Counter[str],
) -> list[Record]:
    """The chunk's records as contract records. One source record may hold many events (an
    OTLP line, a trace); each that cannot be mapped is refused alone, naming its source field."""
    out: list[Record] = []
    for line, record in chunk.records:
        obj = validator.decode(line, record) if isinstance(record, bytes) else record
        if isinstance(obj, RecordError):
            rejected.append((obj, record))
            continue
        try:
            for item in fmt.events(obj, defaults):
                if isinstance(item, Skip):
                    skipped[item.what] += 1
                elif isinstance(item, Unreadable):
                    error = validator.error(
                        line, item.field, item.reason, f"{fmt.name}: {item.message}"
                    )
                    rejected.append((error, obj))
                else:
                    out.append((line, item))
        except Exception as exc:  # a reader's bug on one odd record must not sink the batch
            message = f"{fmt.name}: cannot be read: {exc!r}"
            rejected.append((validator.error(line, "", Reason.BAD_VALUE, message), obj))
    return out


def parse_accounts(chunk: Chunk, max_record_bytes: int, now: datetime) -> _Parsed:
    validator = Validator(chunk.file, max_record_bytes=max_record_bytes, now=now)
    rows = AccountRows()
    rejected: Rejected = [(error, None) for error in chunk.errors]
    for line, record in chunk.records:
        result = validator.account(line, record)
        if isinstance(result, RecordError):
            rejected.append((result, record))
        else:
            rows.add(*result)
    return _Parsed(rows.to_arrow(), rejected, rows.repeats)


def _to_arrow(rows: EventRows, chunk: Chunk, validator: Validator, rejected: Rejected) -> pa.Table:
    try:
        return rows.to_arrow()
    except (pa.ArrowException, ValueError, OverflowError, UnicodeError):
        pass
    # Rare: a value Arrow refuses (a lone surrogate, say). Find those rows, keep the rest.
    keep = []
    for row in rows.rows:
        try:
            rows_to_arrow([row], rows.schema)
            keep.append(row)
        except (pa.ArrowException, ValueError, OverflowError, UnicodeError) as exc:
            line = row[-1]  # source_line is the last column
            record = next((r for n, r in chunk.records if n == line), None)
            error = validator.error(line, "", Reason.BAD_VALUE, f"unstorable value: {exc}")
            rejected.append((error, record))
    rows.rows = keep
    return rows.to_arrow()


def ingest(
    events: Sequence[Path],
    store: Store,
    *,
    accounts: Sequence[Path] = (),
    quarantine_path: Path,
    options: IngestOptions | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> IngestReport:
    """Ingest event files (and account files) into ``store``.

    ``on_progress`` is called with the bytes of input consumed since its last call.
    Raises SourceError before writing anything if a path does not exist.
    """
    options = options or IngestOptions()
    now = options.now or datetime.now(UTC)
    started = time.perf_counter()
    (event_files, skipped), (account_files, skipped_accounts) = scan(events), scan(accounts)
    keep_text = store.retention is Retention.FULL
    report = IngestReport(
        files=len(event_files) + len(account_files),
        skipped=[str(p) for p in (*skipped, *skipped_accounts)],
        quarantine_path=quarantine_path,
    )
    quarantine = Quarantine(
        quarantine_path, keep_text=keep_text, run=now.isoformat(timespec="seconds")
    )
    progress = on_progress or (lambda _: None)
    executor: Executor | None = (
        ProcessPoolExecutor(max_workers=options.workers) if options.workers > 1 else None
    )
    try:
        for path in account_files:  # accounts first: later stages join events to them
            for chunk, parsed in _parse_all(
                _chunks(path, options),
                options,
                executor,
                parse_accounts,
                (options.max_record_bytes, now),
            ):
                new = store.upsert_accounts(parsed.table)
                report.accounts_new += new
                report.accounts_updated += parsed.table.num_rows - new + parsed.repeats
                report.accounts_quarantined += len(parsed.rejected)
                _quarantine(quarantine, parsed.rejected)
                progress(chunk.consumed)
        plan = [(path, _sniff(path, options)) for path in event_files]
        report.formats = Counter(name for _, (name, _) in plan)
        outputs = Outputs()
        for path, (_, output) in plan:  # a batch's outputs first: its inputs claim them
            if output:
                for chunk in _chunks(path, options):
                    outputs.add(chunk)
                    progress(chunk.consumed)
        args = (keep_text, options.max_record_bytes, now, options.account_id)
        for path, (name, output) in plan:
            if output:
                continue
            chunks = _chunks(path, options)
            if name == OpenAIBatch.name:
                chunks = outputs.pair(chunks)
            for chunk, parsed in _parse_all(chunks, options, executor, parse_events, args):
                stored = store.insert_events(parsed.table)
                report.stored += stored
                report.duplicates += parsed.table.num_rows - stored
                report.skipped_records.update(parsed.skipped)
                _refuse(report, quarantine, parsed.rejected)
                progress(chunk.consumed)
        _refuse(report, quarantine, [*outputs.errors, *outputs.unpaired()])
    finally:
        quarantine.close()
        if executor is not None:
            executor.shutdown(cancel_futures=True)
    report.seconds = time.perf_counter() - started
    return report


def _chunks(path: Path, options: IngestOptions) -> Iterator[Chunk]:
    return read(
        path,
        max_record_bytes=options.max_record_bytes,
        chunk_size=options.chunk_size,
        format=options.format,
    )


def _sniff(path: Path, options: IngestOptions) -> tuple[str, bool]:
    """A file's log format, and whether it is a batch's output file, from its first records."""
    first = next(
        read(
            path,
            max_record_bytes=options.max_record_bytes,
            chunk_size=SNIFF_RECORDS,
            format=options.format,
        ),
        None,
    )
    if first is None:
        return CONTRACT.name, False
    output = first.format == OpenAIBatch.name and any(is_output(r) for r in decoded(first.records))
    return first.format, output


def _refuse(report: IngestReport, quarantine: Quarantine, rejected: Rejected) -> None:
    for error, _ in rejected:
        report.quarantined[error.reason.value] += 1
    _quarantine(quarantine, rejected)


def _parse_all(
    chunks: Iterator[Chunk],
    options: IngestOptions,
    executor: Executor | None,
    parse: Callable[..., _Parsed],
    args: tuple[Any, ...],
) -> Iterator[tuple[Chunk, _Parsed]]:
    if executor is None:
        for chunk in chunks:
            yield chunk, parse(chunk, *args)
        return
    # Keep a bounded number of chunks in flight so memory stays flat on huge files.
    pending: list[tuple[Chunk, Future[_Parsed]]] = []
    for chunk in chunks:
        pending.append((chunk, executor.submit(parse, chunk, *args)))
        if len(pending) > 2 * options.workers:
            first, future = pending.pop(0)
            yield first, _result(future, parse, first, args)
    for chunk, future in pending:
        yield chunk, _result(future, parse, chunk, args)


def _result(
    future: Future[_Parsed], parse: Callable[..., _Parsed], chunk: Chunk, args: tuple[Any, ...]
) -> _Parsed:
    try:
        return future.result()
    except RecursionError:  # a deeply nested Parquet body cannot be pickled: parse it here
        return parse(chunk, *args)


def _quarantine(quarantine: Quarantine, rejected: Rejected) -> None:
    for error, record in rejected:
        quarantine.add(error, record)
