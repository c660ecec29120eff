"""Maths and reasoning: students, eval harnesses, and the attacks that look like them.

Students and harnesses say "step by step" too; what differs is the ask around the problem
(an answer handed over and its reasoning requested, hidden thoughts requested, training
formats), not the problems, which all come from the same sources.
"""

from __future__ import annotations

from typing import Any

from distillguard.simulate.text import mathgen
from distillguard.simulate.text.recipes.turns import assistant, user
from distillguard.simulate.text.template import Ctx, Prompt, Recipe


def problem(ctx: Ctx, champ_share: float) -> tuple[str, str, tuple[str, ...]]:
    """A problem, its answer and (for CHAMP) its worked steps."""
    if ctx.chance(champ_share):
        p = ctx.pick(ctx.bank.sources.champ)
        return p.text, p.answer, p.steps
    text, answer = mathgen.problem(ctx.rng, ctx.lang)
    return text, answer, ()


def solved(ctx: Ctx, text: str, answer: str, steps: tuple[str, ...]) -> str:
    """A worked solution as an exemplar or an earlier assistant turn."""
    body = " ".join(steps) if steps else ctx.draw("short_work")
    return f"{body} {ctx.say('conclude', {'answer': answer})}"


class MathHelp(Recipe):
    intent, capability, output_tokens = "math_help", "math_reasoning", (150, 1200)

    def render(self, ctx: Ctx) -> Prompt:
        text = ctx.draw("homework") if ctx.chance(0.3) else problem(ctx, 0.15)[0]
        ask = ctx.say("ask", {"problem": text})
        if ctx.chance(0.2):
            msgs = [user(ask), assistant(ctx.draw("explanation")), user(ctx.say("followup"))]
        else:
            msgs = [user(ask)]
        return ctx.prompt(msgs, system=ctx.say("system") or None)


class BenchmarkMath(Recipe):
    """A research group's harness: one prompt format, optional fixed few-shot exemplars."""

    intent, capability, output_tokens = "benchmark_math", "math_reasoning", (120, 1400)

    def fix(self, ctx: Ctx) -> dict[str, Any]:
        shots = ctx.pick((0, 0, 0, 2, 4, 8))
        exemplars = []
        for _ in range(shots):
            text, answer, steps = problem(ctx, 0.6)
            exemplars.append(
                ctx.say("shot", {"problem": text, "solution": solved(ctx, text, answer, steps)})
            )
        return {
            "shots": "\n\n".join(exemplars) + ("\n\n" if exemplars else ""),
            "champ": ctx.pick((0.2, 0.5, 1.0)),
            "max_tokens": ctx.pick((None, 1024, 2048, 4096)),
        }

    def render(self, ctx: Ctx) -> Prompt:
        text = problem(ctx, ctx.fixed["champ"])[0]
        body = ctx.fixed["shots"] + ctx.say("instruction", {"problem": text})
        return ctx.prompt(
            [user(body)], system=ctx.say("system") or None, max_tokens=ctx.fixed["max_tokens"]
        )


class ReasoningReconstruction(Recipe):
    """Problem plus final answer; asks for the full reasoning that leads there."""

    intent, capability, output_tokens = "reasoning_reconstruction", "math_reasoning", (400, 2500)

    def fix(self, ctx: Ctx) -> dict[str, Any]:
        return {"mode": ctx.pick(("user", "user", "system", "after"))}

    def render(self, ctx: Ctx) -> Prompt:
        if ctx.chance(0.2):
            task = ctx.pick(ctx.bank.sources.humaneval)
            text, answer = task.prompt, task.prompt + task.solution
        else:
            text, answer, _ = problem(ctx, 0.6)
        values = {"problem": text, "answer": answer}
        mode = ctx.fixed["mode"]
        if mode == "system":
            return ctx.prompt([user(ctx.say("pair", values))], system=ctx.say("system_instr"))
        if mode == "after":
            msgs = [
                user(text),
                assistant(ctx.say("conclude", values)),
                user(ctx.say("explain_after")),
            ]
            return ctx.prompt(msgs)
        return ctx.prompt([user(ctx.say("ask", values))])


class HiddenReasoning(Recipe):
    """Asks the model to reveal, repeat, translate, summarise or encode its hidden thinking."""

    intent, capability, output_tokens = "hidden_reasoning", "math_reasoning", (300, 2200)

    def render(self, ctx: Ctx) -> Prompt:
        text, answer, _ = problem(ctx, 0.5)
        if ctx.chance(0.4):
            msgs = [
                user(text),
                assistant(ctx.say("conclude", {"answer": answer})),
                user(ctx.say("reveal_after")),
            ]
        else:
            if ctx.chance(0.3):
                text = ctx.draw("puzzle")
            msgs = [user(ctx.say("reveal", {"problem": text}))]
        return ctx.prompt(msgs, system=ctx.say("system") or None)


class FormatHarvest(Recipe):
    """Any question, answered in a strict training format (JSON fields, think tags, blocks)."""

    intent, capability, output_tokens = "format_harvest", "math_reasoning", (200, 1600)

    def fix(self, ctx: Ctx) -> dict[str, Any]:
        return {"json": ctx.chance(0.45)}

    def render(self, ctx: Ctx) -> Prompt:
        x = ctx.rng.random()
        if x < 0.45:
            text = problem(ctx, 0.5)[0]
        elif x < 0.6:
            text = ctx.pick(ctx.bank.sources.humaneval).prompt
        else:
            text = ctx.draw("question")
        if ctx.fixed["json"]:
            instr = ctx.say("format_json")
            return ctx.prompt(
                [user(ctx.say("wrap", {"question": text, "format": instr}))],
                system=ctx.say("system") or None,
                response_format="json_object",
            )
        instr = ctx.say("format_text")
        return ctx.prompt(
            [user(ctx.say("wrap", {"question": text, "format": instr}))],
            system=ctx.say("system") or None,
        )
