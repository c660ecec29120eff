"""``ingest --follow``: read log files as they grow and as new ones arrive, without loss or repeat.

Each file's position (bytes and lines read) is stored in the store with the rows read up to it,
in one transaction (``Store.insert_events_at``): a restart resumes where the last commit left
off. Only complete lines are read; a line still being written waits for its newline. A file is
known by its device and inode, so a rotated file (renamed by the writer) keeps its position
under its new name, and a file that shrinks (truncated in place) is read again from the start.
Compressed and Parquet files are read whole once their size stops changing; their position
moves with their last chunk, so a crash inside one reads it again (the store keeps the first
copy of each request id).

Refused records are written to the quarantine before the rows commit: a crash in between can
repeat a refusal in the quarantine file, never lose one.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from distillguard.contract.errors import Reason, RecordError
from distillguard.formats import detect
from distillguard.ingest.quarantine import Quarantine
from distillguard.ingest.run import IngestOptions, IngestReport, parse_events
from distillguard.ingest.sources import Chunk, decoded, read, scan
from distillguard.store.database import Retention, Store

READ_BYTES = 8 << 20  # at most this much of a file per step, so memory stays flat
_BOM = b"\xef\xbb\xbf"
_WHOLE = (".gz", ".parquet")  # written whole, not appended to


def follow(
    directory: Path,
    store: Store,
    *,
    quarantine_path: Path,
    options: IngestOptions | None = None,
    poll_seconds: float = 1.0,
    stop: Callable[[IngestReport], bool] = lambda report: False,
    on_step: Callable[[IngestReport], None] = lambda report: None,
) -> IngestReport:
    """Follow the log files under ``directory`` until ``stop(report)`` says so (checked after
    every pass over the files) or the process is interrupted."""
    options = options or IngestOptions()
    report = IngestReport(quarantine_path=quarantine_path)
    quarantine = Quarantine(
        quarantine_path,
        keep_text=store.retention is Retention.FULL,
        run=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    sizes: dict[str, int] = {}  # whole files: their size at the last pass, to see them settle
    try:
        while True:
            started = time.perf_counter()
            files = scan([directory])[0] if directory.exists() else []
            for path in files:
                _step(path, store, quarantine, options, report, sizes)
            report.files = len(files)
            report.seconds += time.perf_counter() - started
            on_step(report)
            if stop(report):
                return report
            time.sleep(poll_seconds)
    finally:
        quarantine.close()


def _step(
    path: Path,
    store: Store,
    quarantine: Quarantine,
    options: IngestOptions,
    report: IngestReport,
    sizes: dict[str, int],
) -> None:
    try:
        status = path.stat()
    except OSError:
        return  # rotated away between listing and reading: its new name comes next pass
    key = f"{status.st_dev}:{status.st_ino}"
    _, offset, line, fmt = store.positions().get(key, (str(path), 0, 0, ""))
    if status.st_size < offset:  # truncated in place: a new file under the old inode
        offset, line = 0, 0
    if status.st_size == offset:
        return
    if path.name.lower().endswith(_WHOLE):
        if sizes.get(key) != status.st_size:  # still being written, or first seen
            sizes[key] = status.st_size
            return
        chunks = read(path, max_record_bytes=options.max_record_bytes, format=options.format)
        chunk = next(chunks, None)
        while chunk is not None:
            after = next(chunks, None)
            # The position moves past the file with its last chunk only: a crash before then
            # reads it again, and the store keeps the first copy of each request id.
            done = status.st_size if after is None else offset
            _store(chunk, store, quarantine, options, report, key, done, 0)
            chunk = after
        return
    with path.open("rb") as f:
        f.seek(offset)
        data = f.read(READ_BYTES)
    end = data.rfind(b"\n") + 1
    if end == 0:  # no complete line yet (or one longer than a step: wait for more)
        if len(data) < READ_BYTES:
            return
        end = len(data)
    chunk = Chunk(str(path), file_time=datetime.fromtimestamp(status.st_mtime, UTC))
    lines = data[:end].split(b"\n")
    if data[:end].endswith(b"\n"):
        lines.pop()  # the empty piece after the last newline
    for raw in lines:
        line += 1
        if line == 1:
            raw = raw.removeprefix(_BOM)
        record = raw.rstrip(b"\r")
        if len(record) > options.max_record_bytes:
            message = f"record is {len(record)} bytes, over the limit of {options.max_record_bytes}"
            chunk.errors.append(
                RecordError(
                    file=str(path), line=line, field="", reason=Reason.OVERSIZED, message=message
                )
            )
        elif record.strip():
            chunk.records.append((line, record))
    chunk.format = options.format or fmt or detect(decoded(chunk.records)).name
    _store(chunk, store, quarantine, options, report, key, offset + end, line)


def _store(
    chunk: Chunk,
    store: Store,
    quarantine: Quarantine,
    options: IngestOptions,
    report: IngestReport,
    key: str,
    offset: int,
    line: int,
) -> None:
    now = options.now or datetime.now(UTC)
    keep_text = store.retention is Retention.FULL
    parsed = parse_events(chunk, keep_text, options.max_record_bytes, now, options.account_id)
    for error, record in parsed.rejected:
        report.quarantined[error.reason.value] += 1
        quarantine.add(error, record)
    quarantine.flush()
    stored = store.insert_events_at(parsed.table, key, chunk.file, offset, line, chunk.format)
    report.stored += stored
    report.duplicates += parsed.table.num_rows - stored
    report.skipped_records.update(parsed.skipped)
