"""Grading and rewriting: an eval company's judge, the reward-model attack, censored rewrites.

``judge_rubric`` and ``rubric_grading`` share rubrics, questions and candidate answers on
purpose: what separates them is volume, breadth and the justification asked for.
"""

from __future__ import annotations

from typing import Any

from distillguard.simulate.text.recipes.turns import user
from distillguard.simulate.text.template import Ctx, Prompt, Recipe

KINDS = ("math", "code", "qa", "qa")


def candidate(ctx: Ctx, kind: str) -> tuple[str, str]:
    """A question and an answer to grade: maths with worked steps, code, or general QA."""
    src = ctx.bank.sources
    if kind == "math":
        p = ctx.pick(src.champ)
        answer = p.answer if ctx.chance(0.7) else ctx.draw("num")
        return p.text, " ".join(p.steps[:6]) + f" So the answer is {answer}."
    if kind == "code":
        t = ctx.pick(src.humaneval)
        return t.prompt, t.prompt.rstrip() + "\n" + t.solution
    q, _, a = ctx.draw("qa").partition("|||")
    return q.strip(), a.strip()


class JudgeRubric(Recipe):
    """LLM-as-judge at an eval company: a fixed rubric, a question, one answer, score JSON."""

    intent, capability, output_tokens = "judge_rubric", "other", (15, 220)

    def fix(self, ctx: Ctx) -> dict[str, Any]:
        # One dataset per judge job: its rubric fits its questions.
        kind = ctx.pick(KINDS)
        return {"kind": kind, "rubric": ctx.draw(f"rubric_{kind}"), "json": ctx.chance(0.6)}

    def render(self, ctx: Ctx) -> Prompt:
        q, a = candidate(ctx, ctx.fixed["kind"])
        values = {"rubric": ctx.fixed["rubric"], "question": q, "answer": a}
        fmt = "json_object" if ctx.fixed["json"] else None
        return ctx.prompt(
            [user(ctx.say("task", values) + ctx.say("output"))],
            system=ctx.say("system"),
            response_format=fmt,
        )


class RubricGrading(Recipe):
    """The model as a reward model: grade against a rubric, justify, score; also pairwise."""

    intent, capability, output_tokens = "rubric_grading", "other", (120, 800)

    def fix(self, ctx: Ctx) -> dict[str, Any]:
        return {"json": ctx.chance(0.5), "pairwise": ctx.chance(0.3)}

    def render(self, ctx: Ctx) -> Prompt:
        kind = ctx.pick(KINDS)  # many datasets at once: breadth is the point
        q, a = candidate(ctx, kind)
        values = {"rubric": ctx.draw(f"rubric_{kind}"), "question": q, "answer": a}
        if ctx.fixed["pairwise"]:
            values["answer_b"] = ctx.draw("weak_answer")
            body = ctx.say("pairwise", values) + ctx.say("output_pair")
        else:
            body = ctx.say("task", values) + ctx.say("output")
        fmt = "json_object" if ctx.fixed["json"] else None
        return ctx.prompt([user(body)], system=ctx.say("system") or None, response_format=fmt)


class SensitiveRewrite(Recipe):
    """Politically sensitive questions turned into 'safe', neutral alternative answers."""

    intent, capability, output_tokens = "sensitive_rewrite", "writing", (200, 900)

    def render(self, ctx: Ctx) -> Prompt:
        values = {"question": ctx.draw("sensitive"), "draft": ctx.draw("draft")}
        body = ctx.say("rewrite", values) if ctx.chance(0.4) else ctx.say("ask", values)
        return ctx.prompt([user(body)], system=ctx.say("system") or None)
