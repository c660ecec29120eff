"""Suspect texts from files: plain text (one document), or JSONL with a ``text`` field.

>>> import tempfile, pathlib
>>> with tempfile.TemporaryDirectory() as d:
...     p = pathlib.Path(d) / "a.jsonl"
...     _ = p.write_text('{"text": "one"}\\n{"text": "two"}\\n')
...     read_texts([p])
['one', 'two']
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path


def read_texts(paths: Sequence[Path]) -> list[str]:
    """ValueError naming the file and line of a record without text."""
    docs: list[str] = []
    for path in paths:
        try:
            raw = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ValueError(f"{path}: cannot read ({exc})") from None
        if path.suffix != ".jsonl":
            docs.append(raw)
            continue
        for n, line in enumerate(raw.splitlines(), 1):
            if not line.strip():
                continue
            try:
                text = json.loads(line)["text"]
            except (ValueError, KeyError, TypeError):
                raise ValueError(
                    f"{path}:{n}: field `text`: expected a JSON object with text"
                ) from None
            if not isinstance(text, str):
                raise ValueError(f"{path}:{n}: field `text`: expected a string")
            docs.append(text)
    return docs
