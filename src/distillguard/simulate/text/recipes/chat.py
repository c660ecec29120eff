"""Everyday conversation: an app's support bot, general questions, writing help, translation."""

from __future__ import annotations

from typing import Any

from distillguard.simulate.text.recipes.turns import Message, assistant, user
from distillguard.simulate.text.template import Ctx, Prompt, Recipe


def history(ctx: Ctx, ask: str, reply: str, turns: tuple[int, ...]) -> list[Message]:
    """Earlier exchanges of the same conversation, oldest first."""
    out: list[Message] = []
    for _ in range(ctx.pick(turns)):
        out.append(user(ctx.draw(ask)))
        out.append(assistant(ctx.draw(reply)))
    return out


class SupportChat(Recipe):
    """A deployed app: one fixed system prompt (domain, company, rules); end users ask."""

    intent, capability, output_tokens = "support_chat", "other", (30, 320)

    def fix(self, ctx: Ctx) -> dict[str, Any]:
        domain = ctx.fill(ctx.pick(ctx.lists["domain"]))
        values = {
            "company": ctx.draw(f"company_{domain}"),
            "assistant": ctx.draw("assistant_name"),
            "scope": ctx.draw(f"scope_{domain}"),
            "phone": ctx.draw("phone"),
        }
        return {"domain": domain, "values": values}

    def render(self, ctx: Ctx) -> Prompt:
        domain, values = ctx.fixed["domain"], ctx.fixed["values"]
        system = "\n\n".join(
            (ctx.say("persona", values), ctx.say("rules", values), ctx.say("style", values))
        )
        q = f"q_{domain}"
        msgs = history(ctx, q, "agent_reply", (0, 0, 0, 1, 1, 2, 3))
        msgs.append(user(ctx.draw("greeting") + ctx.draw(q)))
        return ctx.prompt(msgs, system=system)


class General(Recipe):
    """Recipes, travel, trivia, advice, brainstorming: one person, sometimes a follow-up."""

    intent, capability, output_tokens = "general", "other", (80, 700)

    def render(self, ctx: Ctx) -> Prompt:
        msgs: list[Message] = []
        if ctx.chance(0.25):
            msgs += [user(ctx.say("open") + ctx.draw("question")), assistant(ctx.draw("reply"))]
            msgs.append(user(ctx.say("followup")))
        else:
            msgs.append(user(ctx.say("open") + ctx.draw("question") + ctx.say("close")))
        system = ctx.say("system") if ctx.chance(0.2) else None
        return ctx.prompt(msgs, system=system or None)


class Writing(Recipe):
    """Drafting and editing: emails, posts, letters, stories; often with a pasted draft."""

    intent, capability, output_tokens = "writing", "writing", (120, 900)

    def render(self, ctx: Ctx) -> Prompt:
        if ctx.chance(0.35):
            text = ctx.say("edit", {"draft": ctx.draw("draft")})
        else:
            text = ctx.say("ask") + ctx.say("constraint")
        msgs = [user(text)]
        if ctx.chance(0.2):
            msgs = [user(text), assistant(ctx.draw("draft")), user(ctx.say("revise"))]
        return ctx.prompt(msgs, system=ctx.say("system") or None)


class Translation(Recipe):
    """Translate a passage; the instruction is in the user's language, the text in any."""

    intent, capability, output_tokens = "translation", "translation", (30, 450)

    def render(self, ctx: Ctx) -> Prompt:
        values = {"target": ctx.draw("target"), "text": ctx.draw("passage")}
        system = ctx.say("system") or None
        return ctx.prompt([user(ctx.say("ask", values))], system=system)
