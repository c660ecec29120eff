"""Log formats: other tools' logs read as contract events (``ingest --format NAME``).

Each format maps its records onto the one contract; the contract's validator then checks
them, so nothing downstream knows which tool wrote a log. ``detect`` picks a file's format
from its first records when ``--format`` is not given.

>>> sorted(FORMATS)
['contract', 'langfuse', 'litellm', 'openai-batch', 'otel']
>>> detect([{"resourceSpans": []}]).name
'otel'
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from distillguard.formats.base import Defaults, Format, Skip, Unreadable
from distillguard.formats.contract import Contract
from distillguard.formats.langfuse import Langfuse
from distillguard.formats.litellm import LiteLLM
from distillguard.formats.openai_batch import OpenAIBatch
from distillguard.formats.otel import OTel

__all__ = [
    "CONTRACT",
    "FORMATS",
    "SNIFF_RECORDS",
    "Defaults",
    "Format",
    "Skip",
    "Unreadable",
    "detect",
    "get",
]

# In the order detection tries them: the contract first, so its logs never change reader.
FORMATS: dict[str, Format] = {
    f.name: f for f in (Contract(), LiteLLM(), OTel(), OpenAIBatch(), Langfuse())
}
CONTRACT = FORMATS["contract"]
SNIFF_RECORDS = 20  # how many records detection looks at


def get(name: str) -> Format:
    """The format named ``name``; a ValueError naming the known ones otherwise."""
    try:
        return FORMATS[name]
    except KeyError:
        raise ValueError(f"unknown log format {name!r}: one of {', '.join(FORMATS)}") from None


def detect(records: Iterable[dict[str, Any]]) -> Format:
    """The format of the first record any format recognises; the contract when none does
    (its validator then says what is wrong with the records)."""
    for i, record in enumerate(records):
        if i >= SNIFF_RECORDS:
            break
        for fmt in FORMATS.values():
            if fmt.sniff(record):
                return fmt
    return CONTRACT
