"""The watermark test: exact under the null over many keys, powerful on marked sampling, blind to
repetition, and the CLI over a real tokenizer."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import kstest

from distillguard.provenance.keys import derive, green_mask, load_keys, new_key_file
from distillguard.provenance.processor import bias
from distillguard.provenance.score import score
from distillguard.verdicts.config import ConfigError

VOCAB = 2000


class ToyModel:
    """A fixed next-token distribution per previous token, peaked like a language model's."""

    def __init__(self, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.table = (rng.standard_normal((VOCAB, VOCAB)) * 2.5).astype(np.float32)

    def sample(self, n: int, rng: np.random.Generator, key: object = None) -> list[int]:
        tokens = [int(rng.integers(VOCAB))]
        for _ in range(n - 1):
            logits = self.table[tokens[-1]]
            if key is not None:
                logits = bias(key, tokens, logits)  # type: ignore[arg-type]
            p = np.exp(logits - logits.max())
            tokens.append(int(rng.choice(VOCAB, p=p / p.sum())))
        return tokens


@pytest.fixture(scope="module")
def toy() -> ToyModel:
    return ToyModel()


def test_p_values_are_uniform_on_unmarked_text(toy: ToyModel) -> None:
    rng = np.random.default_rng(1)
    text = [toy.sample(300, rng) for _ in range(4)]
    ps = np.array([score(derive(b"s", f"k{i}"), text).p_value for i in range(400)])
    # Discrete p-values are at most uniform: never more small ones than alpha allows.
    for alpha in (0.01, 0.05, 0.2):
        assert (ps < alpha).mean() <= alpha + 3 * np.sqrt(alpha / len(ps))
    assert kstest(ps, "uniform").pvalue > 0.001


def test_marked_sampling_is_found_and_other_keys_are_not(toy: ToyModel) -> None:
    rng = np.random.default_rng(2)
    key = derive(b"s", "c7")
    marked = [toy.sample(200, rng, key) for _ in range(2)]
    assert score(key, marked).p_value < 1e-5
    assert score(derive(b"s", "c8"), marked).p_value > 1e-3  # another key sees chance
    assert score(derive(b"other secret", "c7"), marked).p_value > 1e-3


def test_repetition_cannot_fake_a_result() -> None:
    key = derive(b"s", "c7")
    # An adversary (or a template) repeats one green pair: it is scored once.
    start = 17
    green = int(np.flatnonzero(green_mask(key, [start], VOCAB))[0])
    s = score(key, [[start, green] * 500])
    assert s.tokens == 2  # (17, g) and (g, 17)
    assert s.p_value > 0.05


def test_key_files(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    new_key_file(path, ["c1", "c2"], gamma=0.5)
    assert [k.key_id for k in load_keys(path)] == ["c1", "c2"]
    assert load_keys(path)[0].gamma == 0.5
    assert path.stat().st_mode & 0o777 == 0o600
    path.write_text('{"secret": "zz", "gamma": 0.25}')
    with pytest.raises(ConfigError, match=str(path)):
        load_keys(path)


def test_the_cli_scores_texts_through_a_real_tokenizer(toy: ToyModel, tmp_path: Path) -> None:
    from tokenizers import Tokenizer, models, pre_tokenizers

    # A word-level tokenizer whose ids are the toy model's tokens: text in, the same ids out.
    words = [f"w{i}" for i in range(VOCAB)]
    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="w0"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.save(str(tmp_path / "tokenizer.json"))
    keys = tmp_path / "keys.json"
    cli = [sys.executable, "-m", "distillguard", "provenance"]
    made = subprocess.run([*cli, "keygen", "--out", str(keys), "--key", "c1", "--key", "c2"])
    assert made.returncode == 0
    c1 = load_keys(keys)[0]
    rng = np.random.default_rng(3)
    marked = tmp_path / "suspect.jsonl"
    marked.write_text(
        "".join(
            json.dumps({"text": " ".join(words[t] for t in toy.sample(150, rng, c1))}) + "\n"
            for _ in range(3)
        )
    )
    done = subprocess.run(
        [*cli, "test", str(marked), "--key-file", str(keys), "--tokenizer",
         str(tmp_path / "tokenizer.json"), "--json"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    by_key = {r["key_id"]: r for r in rows}
    assert by_key["c1"]["p_value"] < 1e-5
    assert by_key["c2"]["p_value"] > 1e-3
    assert by_key["c1"]["tokens"] > 300
    marked.write_text('{"text": "w1 w2"}\n{"prompt": "no text"}\n')
    bad = subprocess.run(
        [*cli, "test", str(marked), "--key-file", str(keys), "--tokenizer",
         str(tmp_path / "tokenizer.json")],
        capture_output=True, text=True,
    )  # fmt: skip
    assert bad.returncode != 0
    assert f"{marked}:2: field `text`" in bad.stderr


def test_the_gateway_asks_for_the_mark_only_for_configured_verdicts(tmp_path: Path) -> None:
    import httpx
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from distillguard.gateway.app import Gateway
    from distillguard.gateway.config import load_gateway_config
    from distillguard.gateway.local import serving

    seen: list[tuple[bytes, dict[str, str]]] = []

    async def chat(request: Request) -> JSONResponse:
        seen.append((await request.body(), dict(request.headers)))
        answer = {"role": "assistant", "content": "42"}
        return JSONResponse({"id": "x", "object": "chat.completion", "model": "m",
                             "choices": [{"index": 0, "message": answer}]})  # fmt: skip

    config = tmp_path / "gateway.yaml"
    config.write_text(
        "identity: {header: x-account}\nactions: {watch: allow}\nwatermark: {verdicts: [watch]}\n"
    )
    results = tmp_path / "results"
    results.mkdir()
    (results / "accounts.csv").write_text(
        "account_id,risk,verdict,cluster_id,campaign_id,reasons\n"
        "acct_farm,0.5,watch,C0017,K0017,shared template\nacct_new,0.5,watch,,,online\n"
    )
    upstream = Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"])])
    raw = b'{"model":"m",  "messages":[{"role":"user","content":"Solve 17*23 step by step"}]}'
    with serving(upstream) as model:
        gateway = Gateway(model, load_gateway_config(config), results, None, tmp_path / "log")
        with serving(gateway.app()) as url:
            for account, extra in [
                ("acct_customer", {"x-distillguard-watermark": "C0017"}),  # a client's: dropped
                ("acct_farm", {"x-distillguard-watermark": ""}),
                ("acct_new", {}),
            ]:
                r = httpx.post(
                    url + "/v1/chat/completions",
                    content=raw,
                    headers={"x-account": account, "content-type": "application/json", **extra},
                )
                assert r.status_code == 200
    assert [body for body, _ in seen] == [raw] * 3  # bodies byte for byte as sent
    assert [h.get("x-distillguard-watermark") for _, h in seen] == [
        None,
        "C0017",
        "account:acct_new",
    ]
    logged = [json.loads(x) for p in sorted((tmp_path / "log").glob("*.jsonl")) for x in p.open()]
    assert [e["gateway"].get("watermark") for e in logged] == [None, "C0017", "account:acct_new"]
