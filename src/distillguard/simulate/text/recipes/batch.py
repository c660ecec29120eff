"""Pipelines: classification and extraction batch jobs, and synthetic-data generation.

A batch job is one template and generated documents; ``synthetic_test_data`` (fake records
for testing) and ``synthetic_data`` (training pairs) ask for look-alike things.
"""

from __future__ import annotations

from typing import Any

from distillguard.simulate.text.recipes.turns import user
from distillguard.simulate.text.template import Ctx, Prompt, Recipe


class BatchClassify(Recipe):
    """Ticket triage, sentiment, moderation, intent: one label set, short JSON output."""

    intent, capability, output_tokens = "batch_classify", "other", (3, 20)

    def fix(self, ctx: Ctx) -> dict[str, Any]:
        task = ctx.pick(("ticket", "review", "intent", "moderation"))
        return {"task": task, "json": ctx.chance(0.6), "max_tokens": ctx.pick((None, 16, 32, 64))}

    def render(self, ctx: Ctx) -> Prompt:
        task = ctx.fixed["task"]
        body = ctx.say(f"ask_{task}", {"doc": ctx.draw(f"doc_{task}")})
        fmt = "json_object" if ctx.fixed["json"] else None
        return ctx.prompt(
            [user(body)],
            system=ctx.say("system") or None,
            response_format=fmt,
            max_tokens=ctx.fixed["max_tokens"],
        )


class BatchExtract(Recipe):
    """Invoices, emails, resumes, shipping notices into fixed JSON fields."""

    intent, capability, output_tokens = "batch_extract", "other", (20, 160)

    def fix(self, ctx: Ctx) -> dict[str, Any]:
        task = ctx.pick(("invoice", "email", "resume", "shipping"))
        return {"task": task, "json": ctx.chance(0.7), "max_tokens": ctx.pick((None, 256, 512))}

    def render(self, ctx: Ctx) -> Prompt:
        task = ctx.fixed["task"]
        body = ctx.say(f"ask_{task}", {"doc": ctx.draw(f"doc_{task}")})
        fmt = "json_object" if ctx.fixed["json"] else None
        return ctx.prompt(
            [user(body)],
            system=ctx.say("system") or None,
            response_format=fmt,
            max_tokens=ctx.fixed["max_tokens"],
        )


class SyntheticTestData(Recipe):
    """Fake records for testing software: customers, orders, logs, addresses."""

    intent, capability, output_tokens = "synthetic_test_data", "other", (300, 2500)

    def render(self, ctx: Ctx) -> Prompt:
        fmt = "json_object" if ctx.chance(0.2) else None
        return ctx.prompt(
            [user(ctx.say("ask") + ctx.say("format"))],
            response_format=fmt,
            system=ctx.say("system") or None,
        )


class SyntheticData(Recipe):
    """Diverse instruction-response pairs or dialogues for a training set."""

    intent, capability, output_tokens = "synthetic_data", "other", (600, 3200)

    def render(self, ctx: Ctx) -> Prompt:
        fmt = "json_object" if ctx.chance(0.25) else None
        return ctx.prompt(
            [user(ctx.say("ask") + ctx.say("format"))],
            response_format=fmt,
            system=ctx.say("system") or None,
        )
