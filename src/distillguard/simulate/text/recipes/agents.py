"""Tool use: open-source coding agents, function-calling apps, and agent-trajectory harvest.

A coding agent's users all send its system prompt and tool schema; harvest pipelines replay
the same kind of loops (sometimes with an agent's tools verbatim), or sample many real
function schemas (BFCL) with tasks, which a single app never does.
"""

from __future__ import annotations

from typing import Any

from distillguard.simulate.text.calls import arguments, result
from distillguard.simulate.text.loops import tool_loop
from distillguard.simulate.text.recipes.turns import (
    Message,
    assistant,
    tool_call,
    tool_result,
    user,
)
from distillguard.simulate.text.template import Ctx, Prompt, Recipe
from distillguard.simulate.text.tools import AGENTS, Tool, tool

STEPS = (1, 1, 2, 2, 3, 3, 4, 4, 5, 6, 6, 7, 8, 9, 10, 12, 14, 16, 18, 20)
TOOLKIT = [
    tool(
        "web_search",
        "Search the web and return the top results.",
        ("query",),
        query="string",
        num_results="integer",
    ),
    tool("fetch_url", "Fetch a web page and return its text.", ("url",), url="string"),
    tool("python", "Execute Python code in a sandbox and return stdout.", ("code",), code="string"),
    tool("read_file", "Read a file from the workspace.", ("path",), path="string"),
    tool(
        "write_file",
        "Write a file in the workspace.",
        ("path", "content"),
        path="string",
        content="string",
    ),
    tool(
        "send_email",
        "Send an email.",
        ("to", "subject", "body"),
        to="string",
        subject="string",
        body="string",
    ),
    tool(
        "sql_query",
        "Run a read-only SQL query against the analytics database.",
        ("query",),
        query="string",
    ),
    tool(
        "create_calendar_event",
        "Create a calendar event.",
        ("title", "start"),
        title="string",
        start="string",
        duration_minutes="integer",
    ),
]


def call_loop(ctx: Ctx, tools: list[Tool], steps: int, request: str) -> list[Message]:
    """Calls to the offered functions with their results; the last message is a tool result."""
    out: list[Message] = []
    rng = ctx.rng
    for _ in range(steps):
        t = ctx.pick(tools)
        name = str(t["name"])
        call = tool_call(rng, name, arguments(t, rng, request))
        out.append(assistant(ctx.draw("step_note") if ctx.chance(0.3) else None, [call]))
        out.append(tool_result(call, result(name, call["arguments"], rng)))
    return out


class CodingAgent(Recipe):
    """One open-source coding agent: its long system prompt, its tools, a loop of prior steps."""

    intent, capability, output_tokens = "coding_agent", "agentic", (30, 700)

    def fix(self, ctx: Ctx) -> dict[str, Any]:
        agent = ctx.pick(sorted(AGENTS))
        return {
            "agent": agent,
            "system": ctx.pick(ctx.lists[f"system_{agent}"]),
            "wrap": ctx.pick(ctx.lists[f"wrap_{agent}"]),
            "tools": AGENTS[agent],
        }

    def render(self, ctx: Ctx) -> Prompt:
        f = ctx.fixed
        first = ctx.fill(f["wrap"], {"task": ctx.say("task")})
        msgs: list[Message] = [user(first)]
        msgs += tool_loop(ctx.rng, f["agent"], ctx.bank.sources.humaneval, ctx.pick(STEPS))
        if ctx.chance(0.15):
            msgs += [assistant(ctx.say("done")), user(ctx.say("followup"))]
        return ctx.prompt(msgs, system=ctx.fill(f["system"]), tools=f["tools"])


class AgenticHarvest(Recipe):
    """Synthetic agent trajectories: agent tool loops, or many real schemas with tasks."""

    intent, capability, output_tokens = "agentic_harvest", "agentic", (40, 900)

    def fix(self, ctx: Ctx) -> dict[str, Any]:
        kind = ctx.pick(("coding", "schemas", "schemas", "toolkit"))
        agent = ctx.pick(sorted(AGENTS))
        borrowed = ctx.chance(0.3)  # replays an open-source agent's own system prompt
        system = ctx.pick(ctx.lists[f"system_{agent}"]) if borrowed else None
        return {"kind": kind, "agent": agent, "system": system}

    def render(self, ctx: Ctx) -> Prompt:
        f, src = ctx.fixed, ctx.bank.sources
        system = ctx.fill(f["system"]) if f["system"] is not None else ctx.say("system")
        if f["kind"] == "coding":
            msgs = [user(ctx.say("task_code"))]
            msgs += tool_loop(ctx.rng, f["agent"], src.humaneval, ctx.pick(STEPS))
            return ctx.prompt(msgs, system=system, tools=AGENTS[f["agent"]])
        if f["kind"] == "schemas":
            rec = ctx.pick(src.bfcl_records)
            tools = [src.bfcl_functions[i] for i in rec.functions]
            request = ctx.say("task_schema", {"question": rec.question})
        else:
            tools, request = TOOLKIT, ctx.say("task_toolkit")
        msgs = [user(request)]
        msgs += call_loop(ctx, tools, ctx.pick((0, 1, 1, 2, 3, 4, 6)), request)
        return ctx.prompt(msgs, system=system, tools=tools)


class ToolUseAssistant(Recipe):
    """An app with function calling: its fixed functions, real user requests (BFCL live)."""

    intent, capability, output_tokens = "tool_use_assistant", "agentic", (12, 160)

    def fix(self, ctx: Ctx) -> dict[str, Any]:
        src = ctx.bank.sources
        rec = ctx.pick(src.bfcl_records)
        questions = tuple(r.question for r in src.bfcl_records if r.functions == rec.functions)
        return {
            "tools": [src.bfcl_functions[i] for i in rec.functions],
            "questions": questions,
            "system": rec.system,
            "own_system": ctx.chance(0.7),
        }

    def render(self, ctx: Ctx) -> Prompt:
        f = ctx.fixed
        question = ctx.pick(f["questions"])
        msgs: list[Message] = [user(question)]
        if ctx.chance(0.35):
            msgs += call_loop(ctx, f["tools"], 1, question)
        system = f["system"] or (ctx.say("system") if f["own_system"] else None)
        return ctx.prompt(msgs, system=system, tools=f["tools"])
