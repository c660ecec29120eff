"""Why a record was refused: one reason per bad record, with where it was found.

Reasons are a closed vocabulary so a quarantine file can be counted and filtered;
the free-text ``message`` says what exactly was wrong.
"""

from __future__ import annotations

from enum import StrEnum

import msgspec


class Reason(StrEnum):
    """Why a record went to quarantine."""

    BAD_JSON = "bad_json"  # not parseable JSON, or not valid UTF-8
    NOT_AN_OBJECT = "not_an_object"  # valid JSON but not a JSON object
    MISSING_FIELD = "missing_field"  # a required field is absent
    WRONG_TYPE = "wrong_type"  # a field has the wrong JSON type
    BAD_VALUE = "bad_value"  # right type, impossible value (empty id, bad IP, negative count)
    BAD_TIMESTAMP = "bad_timestamp"  # unparseable, no UTC offset, or outside the plausible range
    OVERSIZED = "oversized"  # the record is larger than the configured limit
    TRUNCATED_FILE = "truncated_file"  # a compressed file ends early or is corrupt
    UNREADABLE_FILE = "unreadable_file"  # the file cannot be opened or decoded at all


class RecordError(msgspec.Struct, frozen=True, kw_only=True):
    """A refused record: the file and line it came from, the field at fault, and why.

    ``line`` is 1-based (the row number for Parquet); ``field`` is a dotted path
    such as ``client.ip``, or ``""`` when the whole record is at fault.
    """

    file: str
    line: int
    field: str
    reason: Reason
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}"
        field = f" field {self.field!r}" if self.field else ""
        return f"{where}:{field} {self.reason.value}: {self.message}"


class ContractError(ValueError):
    """Raised by the strict (non-batch) validators when one record breaks the contract."""

    def __init__(self, error: RecordError) -> None:
        super().__init__(str(error))
        self.error = error
