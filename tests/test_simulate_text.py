"""The prompt-text layer: every intent, language, skeleton and tool loop as the engine expects."""

from __future__ import annotations

import base64
import random
from collections import defaultdict
from importlib import resources
from typing import Any

import pytest

from distillguard.simulate.text import (
    ATTACK_INTENTS,
    INTENTS,
    LANGUAGES,
    Prompt,
    Template,
    TextBank,
    rename_tools,
)

CAPABILITIES = {
    "coding",
    "agentic",
    "math_reasoning",
    "data_analysis",
    "computer_use",
    "writing",
    "translation",
    "other",
}
MAIN = ("support_chat", "writing", "coding_help", "math_help", "general", "translation")


@pytest.fixture(scope="module")
def bank() -> TextBank:
    return TextBank.load()


def texts(p: Prompt) -> list[str]:
    """Every piece of text a client wrote: system, message text and text parts."""
    out = [p.system] if p.system else []
    for m in p.messages:
        content = m.get("content")
        if isinstance(content, str):
            out.append(content)
        elif isinstance(content, list):
            out += [part["text"] for part in content if part["type"] == "text"]
    return out


def template(bank: TextBank, intent: str, seed: int, lang: str = "en") -> Template:
    return bank.template(intent, random.Random(seed), lang=lang)


def test_load_is_a_singleton(bank: TextBank) -> None:
    assert TextBank.load() is bank


def test_intents_and_capabilities() -> None:
    assert set(INTENTS.values()) <= CAPABILITIES
    assert len(INTENTS) == 26
    assert INTENTS["computer_use"] == "computer_use"
    assert INTENTS["benchmark_math"] == INTENTS["reasoning_reconstruction"] == "math_reasoning"
    assert INTENTS["judge_rubric"] == INTENTS["rubric_grading"]
    assert INTENTS["coding_agent"] == INTENTS["agentic_harvest"] == "agentic"
    assert INTENTS["translation"] == "translation"
    assert len(ATTACK_INTENTS) == 10
    assert set(LANGUAGES) >= {"en", "zh", "es", "de", "fr", "ja", "ru", "pt"}


def test_language_coverage(bank: TextBank) -> None:
    for intent in MAIN:
        assert set(bank.languages(intent)) == set(LANGUAGES), intent
    for intent in (*ATTACK_INTENTS, "math_help", "benchmark_math", "general", "writing"):
        assert len(bank.languages(intent)) >= 5, intent
    # Every claimed language has every segment English has (no silent mixing).
    for intent in INTENTS:
        en = set(bank.phrases[intent]["en"])
        for lang in bank.languages(intent):
            assert set(bank.phrases[intent][lang]) == en, (intent, lang)


def test_unknown_language_falls_back_to_english(bank: TextBank) -> None:
    assert template(bank, "batch_classify", 1, "ja").lang == "en"


@pytest.mark.parametrize("intent", sorted(INTENTS))
def test_every_intent_renders_in_every_language(bank: TextBank, intent: str) -> None:
    for lang in bank.languages(intent):
        for seed in range(6):
            t = template(bank, intent, seed, lang)
            for paraphrase in (0.0, 0.5, 1.0):
                p = t.render(random.Random(seed + 100), paraphrase=paraphrase)
                check_shape(p, intent)
                assert all("{{" not in s for s in texts(p)), (intent, lang)


def check_shape(p: Prompt, intent: str) -> None:
    assert p.intent == intent
    assert p.capability == INTENTS[intent]
    lo, hi = p.output_tokens
    assert 0 < lo <= hi
    assert p.response_format in (None, "json_object")
    assert p.max_tokens is None or p.max_tokens > 0
    assert p.messages
    assert p.messages[-1]["role"] in ("user", "tool")
    assert p.messages[0]["role"] == "user"
    for m in p.messages:
        assert m["role"] in ("user", "assistant", "tool")
        content = m.get("content")
        assert content is None or isinstance(content, str | list)
        if isinstance(content, list):
            for part in content:
                assert part["type"] in ("text", "image")
    check_tool_loop(p)


def check_tool_loop(p: Prompt) -> None:
    """Every tool result answers an earlier call; every call names an offered tool."""
    offered = {t["name"] for t in p.tools or ()}
    open_calls: set[str] = set()
    for m in p.messages:
        for call in m.get("tool_calls") or ():
            assert m["role"] == "assistant"
            assert call["name"] in offered, call["name"]
            assert isinstance(call["arguments"], dict)
            open_calls.add(call["id"])
        if m["role"] == "tool":
            assert m["tool_call_id"] in open_calls
            assert isinstance(m["content"], str)
            open_calls.discard(m["tool_call_id"])
    for t in p.tools or ():
        assert set(t) >= {"name", "description", "parameters"}
        assert t["parameters"].get("type") == "object"


@pytest.mark.parametrize("intent", sorted(INTENTS))
def test_same_seed_same_prompt(bank: TextBank, intent: str) -> None:
    for paraphrase in (0.0, 1.0):
        a = template(bank, intent, 5).render(random.Random(9), paraphrase)
        b = template(bank, intent, 5).render(random.Random(9), paraphrase)
        assert a == b


@pytest.mark.parametrize("intent", sorted(INTENTS))
def test_paraphrase_zero_keeps_the_skeleton(bank: TextBank, intent: str) -> None:
    t = template(bank, intent, 3)
    used: dict[str, set[int]] = defaultdict(set)
    for seed in range(25):
        p, trace = t.traced(random.Random(seed), paraphrase=0.0)
        joined = "\n".join(texts(p))
        for segment, i in trace:
            used[segment].add(i)
            # The phrasing's fixed text (slots removed) is in the prompt, piece by piece.
            assert all(lit in joined for lit in t.book[segment][i].lits), (intent, segment)
    assert all(len(ix) == 1 and ix == {t.choice[s]} for s, ix in used.items()), intent


@pytest.mark.parametrize("intent", sorted(INTENTS))
def test_paraphrase_one_varies_the_skeleton(bank: TextBank, intent: str) -> None:
    t = template(bank, intent, 3)
    used: dict[str, set[int]] = defaultdict(set)
    for seed in range(40):
        for segment, i in t.traced(random.Random(seed), paraphrase=1.0)[1]:
            used[segment].add(i)
    varied = [s for s, ix in used.items() if len(ix) > 1]
    assert varied, intent


def test_slots_vary_under_a_fixed_skeleton(bank: TextBank) -> None:
    t = template(bank, "batch_classify", 2)
    bodies = {texts(t.render(random.Random(s)))[-1] for s in range(30)}
    assert len(bodies) > 5


def test_coding_agent_fixes_one_agent_per_template(bank: TextBank) -> None:
    agents = set()
    for seed in range(40):
        t = template(bank, "coding_agent", seed)
        a, b = t.render(random.Random(1), 0.3), t.render(random.Random(2), 0.3)
        assert a.tools is b.tools
        assert a.tools
        assert len(a.system or "") > 800
        agents.add(tuple(x["name"] for x in a.tools))
        steps = sum(1 for m in a.messages if m["role"] == "tool")
        assert 1 <= steps <= 20
    assert len(agents) >= 3


def test_tool_loops_reach_twenty_steps(bank: TextBank) -> None:
    t = template(bank, "coding_agent", 1)
    lengths = {
        sum(m["role"] == "tool" for m in t.render(random.Random(s)).messages) for s in range(300)
    }
    assert min(lengths) == 1
    assert max(lengths) == 20


def test_agentic_harvest_shares_coding_agent_tools(bank: TextBank) -> None:
    agent_tools = {
        tuple(
            t["name"]
            for t in template(bank, "coding_agent", s).render(random.Random(0)).tools or ()
        )
        for s in range(40)
    }
    harvest_tools = {
        tuple(
            t["name"]
            for t in template(bank, "agentic_harvest", s).render(random.Random(0)).tools or ()
        )
        for s in range(60)
    }
    assert agent_tools & harvest_tools


def test_tool_use_assistant_offers_real_bfcl_schemas(bank: TextBank) -> None:
    questions = {r.question for r in bank.sources.bfcl_records}
    p = template(bank, "tool_use_assistant", 4).render(random.Random(1))
    assert p.messages[0]["content"] in questions
    assert p.tools
    assert all("parameters" in t for t in p.tools)


def test_rename_tools_changes_names_keeps_structure(bank: TextBank) -> None:
    tools = template(bank, "coding_agent", 1).render(random.Random(0)).tools or []
    for seed in range(20):
        renamed = rename_tools(tools, random.Random(seed))
        assert len(renamed) == len(tools)
        changed = sum(a["name"] != b["name"] for a, b in zip(tools, renamed, strict=True))
        assert changed >= len(tools) // 2
        for a, b in zip(tools, renamed, strict=True):
            pa, pb = a["parameters"], b["parameters"]
            assert [v.get("type") for v in pa["properties"].values()] == [
                v.get("type") for v in pb["properties"].values()
            ]
            assert len(pa["required"]) == len(pb["required"])
            assert set(pb["required"]) <= set(pb["properties"])
    # One account renames a tool the same way whatever else is in the list.
    one = rename_tools(tools, random.Random(7))
    alone = rename_tools(tools[:1], random.Random(7))
    assert one[0]["name"] == alone[0]["name"]
    assert rename_tools(tools, random.Random(7)) == one


def images(p: Prompt) -> list[dict[str, Any]]:
    return [
        part
        for m in p.messages
        if isinstance(m.get("content"), list)
        for part in m["content"]
        if part["type"] == "image"
    ]


@pytest.mark.parametrize("intent", ["computer_use", "vision_describe"])
def test_images_present(bank: TextBank, intent: str) -> None:
    seen = set()
    for seed in range(20):
        p = template(bank, intent, seed).render(random.Random(seed))
        parts = images(p)
        assert parts
        for part in parts:
            assert part["media_type"] == "image/png"
            assert 200 <= len(part["data"]) <= 700
            assert base64.b64decode(part["data"]).startswith(b"\x89PNG")
            seen.add(part["data"])
    assert len(seen) > 10
    if intent == "computer_use":
        assert p.tools
        assert p.tools[0]["name"] == "computer"


def test_real_humaneval_text_appears(bank: TextBank) -> None:
    prompts = {c.prompt for c in bank.sources.humaneval}
    t = template(bank, "benchmark_code", 2)
    for seed in range(10):
        body = texts(t.render(random.Random(seed)))[-1]
        assert any(p.strip() in body for p in prompts)


def test_real_champ_text_appears(bank: TextBank) -> None:
    problems = [c.text for c in bank.sources.champ]
    found = 0
    for seed in range(20):
        p = template(bank, "reasoning_reconstruction", seed).render(random.Random(seed))
        joined = "\n".join(texts(p))
        found += any(q in joined for q in problems)
    assert found >= 3


def test_languages_are_written_in_their_script(bank: TextBank) -> None:
    for intent in ("math_help", "general", "support_chat", "reasoning_reconstruction"):
        p = template(bank, intent, 1, "zh").render(random.Random(1), paraphrase=1.0)
        assert any("\u4e00" <= ch <= "\u9fff" for s in texts(p) for ch in s), intent
        p = template(bank, intent, 1, "ru").render(random.Random(1), paraphrase=1.0)
        assert any("\u0400" <= ch <= "\u04ff" for s in texts(p) for ch in s), intent


def test_attack_and_legit_share_vocabulary(bank: TextBank) -> None:
    """Hard negatives say the same things: 'step by step' is not an attack marker."""

    def corpus(intent: str) -> str:
        return "\n".join(
            s
            for seed in range(30)
            for s in texts(template(bank, intent, seed).render(random.Random(seed), 1.0))
        ).lower()

    assert "step by step" in corpus("math_help")
    assert "step by step" in corpus("benchmark_math")
    assert "rubric" in corpus("judge_rubric")
    assert "rubric" in corpus("rubric_grading")


def test_bfcl_excerpt_is_small_and_attributed() -> None:
    data = resources.files("distillguard.simulate.text") / "data"
    assert len((data / "bfcl_live_multiple.json").read_bytes()) <= 400_000
    readme = (data / "README.md").read_text()
    assert "Apache" in readme
    assert "bfcl" in readme.lower()
    assert "Apache License" in (data / "LICENSE-BFCL-Apache-2.0.txt").read_text()
