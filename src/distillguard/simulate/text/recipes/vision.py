"""Images: people asking about a picture, and computer-use agents stepping through screens."""

from __future__ import annotations

from typing import Any

from distillguard.simulate.text.recipes.turns import (
    Message,
    assistant,
    image_part,
    text_part,
    tool_call,
    tool_result,
    user,
)
from distillguard.simulate.text.template import Ctx, Prompt, Recipe
from distillguard.simulate.text.tools import COMPUTER

_ACTIONS = ("left_click", "left_click", "type", "key", "scroll", "double_click", "mouse_move")


class VisionDescribe(Recipe):
    """Describe, read (OCR) or answer a question about one or two images."""

    intent, capability, output_tokens = "vision_describe", "other", (40, 380)

    def render(self, ctx: Ctx) -> Prompt:
        images = [image_part(ctx.pick(ctx.bank.images)) for _ in range(ctx.pick((1, 1, 1, 2)))]
        parts = [*images, text_part(ctx.say("ask"))]
        if ctx.chance(0.3):
            parts.reverse()  # some clients put the question first
        return ctx.prompt([user(parts)])


class ComputerUse(Recipe):
    """Screenshots plus 'what is the next action', with a computer tool; prior actions replayed."""

    intent, capability, output_tokens = "computer_use", "computer_use", (15, 140)

    def fix(self, ctx: Ctx) -> dict[str, Any]:
        w, h = ctx.pick(((1280, 800), (1024, 768), (1920, 1080), (1440, 900)))
        computer = [{**COMPUTER[0], "description": COMPUTER[0]["description"].format(w=w, h=h)}]
        return {"tools": computer, "size": (w, h)}

    def render(self, ctx: Ctx) -> Prompt:
        rng, (w, h) = ctx.rng, ctx.fixed["size"]
        shot = ctx.bank.images
        msgs: list[Message] = [user([text_part(ctx.say("task")), image_part(ctx.pick(shot))])]
        for _ in range(ctx.pick((0, 1, 2, 3, 4, 6, 8))):
            action = ctx.pick(_ACTIONS)
            args: dict[str, Any] = {"action": action}
            if action in ("left_click", "double_click", "mouse_move"):
                args["coordinate"] = [rng.randint(0, w - 1), rng.randint(0, h - 1)]
            elif action == "type":
                args["text"] = ctx.draw("typed")
            elif action == "key":
                args["text"] = ctx.pick(("Return", "Tab", "ctrl+l", "ctrl+s", "Escape"))
            else:
                args.update(
                    scroll_direction=ctx.pick(("down", "up")), scroll_amount=rng.randint(1, 10)
                )
            call = tool_call(rng, "computer", args)
            msgs += [
                assistant(ctx.draw("thought") if ctx.chance(0.5) else None, [call]),
                tool_result(call, ctx.pick(("ok", "done", "Action performed.", ""))),
            ]
            if ctx.chance(0.6):
                msgs.append(user([image_part(ctx.pick(shot)), text_part(ctx.say("next"))]))
        if msgs[-1]["role"] != "user":
            msgs.append(user([image_part(ctx.pick(shot)), text_part(ctx.say("next"))]))
        return ctx.prompt(msgs, system=ctx.say("system"), tools=ctx.fixed["tools"])
