"""Read a request body of either API shape into one neutral view.

The same view feeds the store's derived columns, the per-request signals and the
gateway, so OpenAI and Anthropic traffic are compared like with like. It never
raises: a body the API would have refused is still a logged fact, and whatever
parts are well formed are read.

>>> view = view_request({"system": "Be terse.", "max_tokens": 50, "messages": [
...     {"role": "user", "content": [{"type": "text", "text": "What is 2+2?"},
...                                  {"type": "image", "source": {}}]}]}, "/v1/messages")
>>> view.shape, view.system, view.n_user_turns, view.n_images, view.last_user_text
('anthropic_messages', 'Be terse.', 1, 1, 'What is 2+2?')
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SHAPES = (
    "openai_chat",
    "openai_completions",
    "openai_responses",
    "anthropic_messages",
    "unknown",
)

_SYSTEM_ROLES = frozenset({"system", "developer"})
_TOOL_RESULT_ROLES = frozenset({"tool", "function"})
_TEXT_PARTS = frozenset({"text", "input_text", "output_text"})
_IMAGE_PARTS = frozenset({"image", "image_url", "input_image"})


@dataclass(slots=True)
class Turn:
    """One message of the conversation, reduced to its role and plain text."""

    role: str
    text: str


@dataclass(slots=True)
class Tool:
    """A tool offered to the model, in a shape-neutral form."""

    name: str
    description: str
    parameters: Any


@dataclass(slots=True)
class RequestView:
    """What a request asks for, independent of the API shape it was sent in."""

    shape: str
    system: str = ""
    turns: list[Turn] = field(default_factory=list)
    tools: list[Tool] = field(default_factory=list)
    n_images: int = 0
    n_tool_calls: int = 0
    n_tool_results: int = 0
    tool_result_chars: int = 0
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    n: int | None = None
    logprobs: bool = False
    stream: bool = False
    response_format: str | None = None
    reasoning: bool = False  # extended thinking or a reasoning effort was requested

    @property
    def n_user_turns(self) -> int:
        return sum(1 for t in self.turns if t.role == "user")

    @property
    def last_user_text(self) -> str:
        for turn in reversed(self.turns):
            if turn.role == "user":
                return turn.text
        return ""

    @property
    def prompt_chars(self) -> int:
        """Characters of text the client wrote: system prompt plus every turn."""
        return len(self.system) + sum(len(t.text) for t in self.turns)


def detect_shape(body: dict[str, Any], endpoint: str) -> str:
    """The API shape of a body: by endpoint first, then by what the body contains.

    >>> detect_shape({}, "/v1/chat/completions"), detect_shape({"system": "x"}, "/proxy")
    ('openai_chat', 'anthropic_messages')
    """
    path = endpoint.rstrip("/")
    if path.endswith("/chat/completions"):
        return "openai_chat"
    if path.endswith("/messages"):
        return "anthropic_messages"
    if path.endswith("/completions"):
        return "openai_completions"
    if path.endswith("/responses"):
        return "openai_responses"
    # Gateways and resellers mount APIs at odd paths: fall back to the body.
    if "system" in body or "thinking" in body or "stop_sequences" in body:
        return "anthropic_messages"
    if isinstance(body.get("messages"), list):
        return _shape_from_messages(body["messages"])
    if "prompt" in body:
        return "openai_completions"
    if "input" in body or "instructions" in body:
        return "openai_responses"
    return "unknown"


def _shape_from_messages(messages: list[Any]) -> str:
    for message in messages:
        if not isinstance(message, dict):
            continue
        role = _str(message.get("role"))  # not a str in a hostile body: set lookups would raise
        if role in _SYSTEM_ROLES or role in _TOOL_RESULT_ROLES or "tool_calls" in message:
            return "openai_chat"
        content = message.get("content")
        if isinstance(content, list):
            for part in content:
                if isinstance(part, dict) and part.get("type") in ("tool_result", "tool_use"):
                    return "anthropic_messages"
                if isinstance(part, dict) and part.get("type") == "image_url":
                    return "openai_chat"
    return "openai_chat"


def view_request(body: dict[str, Any], endpoint: str = "") -> RequestView:
    """Read ``body`` (a request as sent to ``endpoint``) into a :class:`RequestView`."""
    view = RequestView(shape=detect_shape(body, endpoint))
    system: list[str] = []
    if view.shape == "anthropic_messages":
        system.append(_content_text(body.get("system"), view))
    elif view.shape == "openai_responses":
        system.append(_str(body.get("instructions")))
    _read_messages(_messages_of(body, view.shape), view, system)
    view.system = "\n".join(s for s in system if s)
    view.tools = _tools_of(body)
    _read_params(body, view)
    return view


def _messages_of(body: dict[str, Any], shape: str) -> list[Any]:
    if shape == "openai_completions":
        prompt = body.get("prompt")
        prompts = prompt if isinstance(prompt, list) else [prompt]
        return [{"role": "user", "content": p} for p in prompts if isinstance(p, str)]
    if shape == "openai_responses":
        source = body.get("input")
        if isinstance(source, str):
            return [{"role": "user", "content": source}]
        return source if isinstance(source, list) else []
    messages = body.get("messages")
    return messages if isinstance(messages, list) else []


def _read_messages(messages: list[Any], view: RequestView, system: list[str]) -> None:
    for message in messages:
        if not isinstance(message, dict):
            continue
        role = _str(message.get("role")) or _str(message.get("type")) or "user"
        if role in _SYSTEM_ROLES:
            system.append(_content_text(message.get("content"), view))
            continue
        if role in _TOOL_RESULT_ROLES or role == "function_call_output":
            view.n_tool_results += 1
            result = message.get("content", message.get("output"))
            view.tool_result_chars += len(_content_text(result, view))
            continue
        if role == "function_call":  # Responses API item
            view.n_tool_calls += 1
            continue
        calls = message.get("tool_calls")
        if isinstance(calls, list):
            view.n_tool_calls += len(calls)
        view.turns.append(Turn(role, _content_text(message.get("content"), view)))


def _content_text(content: Any, view: RequestView) -> str:
    """Plain text of a message content, counting images, tool calls and tool results."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return ""
    texts: list[str] = []
    for part in content:
        if isinstance(part, str):
            texts.append(part)
            continue
        if not isinstance(part, dict):
            continue
        kind = _str(part.get("type"))
        if kind in _TEXT_PARTS:
            texts.append(_str(part.get("text")))
        elif kind in _IMAGE_PARTS:
            view.n_images += 1
        elif kind == "tool_use":
            view.n_tool_calls += 1
        elif kind == "tool_result":
            view.n_tool_results += 1
            view.tool_result_chars += len(_content_text(part.get("content"), view))
    return "\n".join(t for t in texts if t)


def _tools_of(body: dict[str, Any]) -> list[Tool]:
    tools: list[Tool] = []
    for source in (body.get("tools"), body.get("functions")):
        if not isinstance(source, list):
            continue
        for spec in source:
            if not isinstance(spec, dict):
                continue
            function = spec.get("function")
            inner: dict[str, Any] = function if isinstance(function, dict) else spec
            name = _str(inner.get("name")) or _str(spec.get("type"))
            parameters = inner.get("parameters", inner.get("input_schema"))
            tools.append(Tool(name, _str(inner.get("description")), parameters))
    return tools


def _read_params(body: dict[str, Any], view: RequestView) -> None:
    for key in ("max_tokens", "max_completion_tokens", "max_output_tokens"):
        if _is_int(body.get(key)):
            view.max_tokens = body[key]
            break
    view.temperature = _number(body.get("temperature"))
    view.top_p = _number(body.get("top_p"))
    view.n = body["n"] if _is_int(body.get("n")) else None
    view.logprobs = bool(body.get("logprobs")) or _is_int(body.get("top_logprobs"))
    view.stream = body.get("stream") is True
    fmt = body.get("response_format")
    if isinstance(fmt, dict):
        view.response_format = _str(fmt.get("type")) or None
    elif isinstance(fmt, str):
        view.response_format = fmt
    thinking = body.get("thinking")
    view.reasoning = (isinstance(thinking, dict) and thinking.get("type") == "enabled") or (
        "reasoning_effort" in body or isinstance(body.get("reasoning"), dict)
    )


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _is_int(value: Any) -> bool:
    # Bounded so a hostile body cannot overflow the store's integer columns.
    return isinstance(value, int) and not isinstance(value, bool) and -(2**31) < value < 2**31


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        return float(value)
    except OverflowError:  # an integer beyond any float: the view promises never to raise
        return None


@dataclass(slots=True)
class ResponseView:
    """How much text, and how much visible reasoning, a response carried."""

    text_chars: int = 0
    reasoning_chars: int = 0


def view_response(body: dict[str, Any] | None) -> ResponseView:
    """Measure a response body of either shape (non-streaming).

    >>> view_response({"content": [{"type": "thinking", "thinking": "hmm"},
    ...                            {"type": "text", "text": "4"}]})
    ResponseView(text_chars=1, reasoning_chars=3)
    """
    view = ResponseView()
    if not isinstance(body, dict):
        return view
    blocks = body.get("content")
    if isinstance(blocks, list):  # Anthropic Messages
        for block in blocks:
            if isinstance(block, dict):
                view.text_chars += len(_str(block.get("text")))
                view.reasoning_chars += len(_str(block.get("thinking")))
    choices = body.get("choices")
    if isinstance(choices, list):  # OpenAI Chat Completions / Completions
        for choice in choices:
            if not isinstance(choice, dict):
                continue
            message = choice.get("message")
            if isinstance(message, dict):
                view.text_chars += len(_str(message.get("content")))
                for key in ("reasoning_content", "reasoning"):
                    view.reasoning_chars += len(_str(message.get(key)))
            view.text_chars += len(_str(choice.get("text")))
    return view
