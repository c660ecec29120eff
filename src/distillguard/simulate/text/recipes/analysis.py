"""Data analysis over small generated tables: an analyst's question, or harvest at volume."""

from __future__ import annotations

from distillguard.simulate.text.recipes.turns import assistant, user
from distillguard.simulate.text.tables import table
from distillguard.simulate.text.template import Ctx, Prompt, Recipe


class DataAnalysis(Recipe):
    """A CSV or Markdown snippet and a pandas/SQL/spreadsheet question."""

    intent, capability, output_tokens = "data_analysis", "data_analysis", (100, 750)

    def render(self, ctx: Ctx) -> Prompt:
        data, cols = table(ctx.rng)
        values = {"table": data, "col": ctx.pick(cols), "col2": ctx.pick(cols)}
        msgs = [user(ctx.say("ask", values))]
        if ctx.chance(0.2):
            msgs += [assistant(ctx.draw("analysis_reply")), user(ctx.say("followup", values))]
        return ctx.prompt(msgs, system=ctx.say("system") or None)


class DataAnalysisHarvest(Recipe):
    """A generated dataset and a full analysis brief: code, statistics, reasoning, insights."""

    intent, capability, output_tokens = "data_analysis_harvest", "data_analysis", (500, 2300)

    def render(self, ctx: Ctx) -> Prompt:
        data, cols = table(ctx.rng, rows=(15, 40))
        values = {"table": data, "col": ctx.pick(cols), "col2": ctx.pick(cols)}
        return ctx.prompt(
            [user(ctx.say("ask", values) + ctx.say("deliverables", values))],
            system=ctx.say("system") or None,
        )
