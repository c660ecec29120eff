"""Code: developers asking for help, HumanEval harnesses, and full-solution harvesting."""

from __future__ import annotations

from typing import Any

from distillguard.simulate.text.recipes.turns import assistant, user
from distillguard.simulate.text.template import Ctx, Prompt, Recipe


class CodingHelp(Recipe):
    """Debugging with a pasted snippet and error, how-to questions, explaining code."""

    intent, capability, output_tokens = "coding_help", "coding", (120, 900)

    def render(self, ctx: Ctx) -> Prompt:
        x = ctx.rng.random()
        if x < 0.4:
            text = ctx.say("debug", {"code": ctx.draw("snippet_bug")})
        elif x < 0.75:
            text = ctx.draw("howto")
        else:
            task = ctx.pick(ctx.bank.sources.humaneval)
            text = ctx.say("explain", {"code": task.prompt.rstrip() + "\n" + task.solution})
        msgs = [user(text)]
        if ctx.chance(0.2):
            msgs += [assistant(ctx.draw("code_reply")), user(ctx.say("followup"))]
        return ctx.prompt(msgs, system=ctx.say("system") or None)


class BenchmarkCode(Recipe):
    """A HumanEval harness: one prompt format around each problem, temperature 0, fixed cap."""

    intent, capability, output_tokens = "benchmark_code", "coding", (40, 420)

    def fix(self, ctx: Ctx) -> dict[str, Any]:
        return {"max_tokens": ctx.pick((None, 512, 768, 1024, 2048))}

    def render(self, ctx: Ctx) -> Prompt:
        task = ctx.pick(ctx.bank.sources.humaneval)
        body = ctx.say("instruction", {"prompt": task.prompt, "entry_point": task.entry_point})
        return ctx.prompt(
            [user(body)], system=ctx.say("system") or None, max_tokens=ctx.fixed["max_tokens"]
        )


class CodingHarvest(Recipe):
    """Programming problems asked for complete solutions, explanations, tests, complexity."""

    intent, capability, output_tokens = "coding_harvest", "coding", (500, 2600)

    def render(self, ctx: Ctx) -> Prompt:
        if ctx.chance(0.45):
            task = ctx.pick(ctx.bank.sources.humaneval)
            statement = task.prompt
        else:
            statement = ctx.draw("task")
        values = {"task": statement, "language": ctx.draw("solution_language")}
        text = ctx.say("ask", values) + ctx.say("requirements", values)
        return ctx.prompt([user(text)], system=ctx.say("system") or None)
