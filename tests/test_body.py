"""The request view reads both API shapes alike and never raises on odd bodies."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from distillguard.contract.body import view_request, view_response
from distillguard.contract.digest import system_digest, tool_schema_digest

PARAMETERS = {"type": "object", "properties": {"q": {"type": "string"}}}


def test_openai_chat_with_tools_images_and_tool_results() -> None:
    body = {
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "developer", "content": [{"type": "text", "text": "Use tools."}]},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Look at this"},
                    {"type": "image_url", "image_url": {"url": "data:,"}},
                ],
            },
            {"role": "assistant", "content": None, "tool_calls": [{"id": "1"}, {"id": "2"}]},
            {"role": "tool", "tool_call_id": "1", "content": "result one"},
            {"role": "user", "content": "thanks, now summarise"},
        ],
        "tools": [{"type": "function", "function": {"name": "search", "parameters": PARAMETERS}}],
        "max_completion_tokens": 300,
        "temperature": 0,
        "n": 3,
        "logprobs": True,
        "response_format": {"type": "json_object"},
        "stream": True,
        "reasoning_effort": "high",
    }
    view = view_request(body, "/v1/chat/completions")
    assert view.shape == "openai_chat"
    assert view.system == "Be brief.\nUse tools."
    assert [t.role for t in view.turns] == ["user", "assistant", "user"]
    assert (view.n_images, view.n_tool_calls, view.n_tool_results) == (1, 2, 1)
    assert view.tool_result_chars == len("result one")
    assert view.last_user_text == "thanks, now summarise"
    assert (view.max_tokens, view.temperature, view.n) == (300, 0.0, 3)
    assert view.logprobs
    assert view.stream
    assert view.reasoning
    assert view.response_format == "json_object"


def test_anthropic_messages_with_system_blocks_tool_use_and_thinking() -> None:
    body = {
        "system": [{"type": "text", "text": "You grade essays."}],
        "thinking": {"type": "enabled", "budget_tokens": 2000},
        "max_tokens": 512,
        "messages": [
            {"role": "user", "content": "Grade this."},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "x"}]},
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": "t",
                        "content": [{"type": "text", "text": "42"}],
                    },
                    {"type": "image", "source": {}},
                ],
            },
        ],
        "tools": [{"name": "search", "input_schema": PARAMETERS}],
    }
    view = view_request(body, "/v1/messages")
    assert view.shape == "anthropic_messages"
    assert view.system == "You grade essays."
    assert (view.n_tool_calls, view.n_tool_results, view.n_images) == (1, 1, 1)
    assert view.tool_result_chars == 2
    assert view.reasoning
    assert view.max_tokens == 512


def test_completions_and_responses_shapes() -> None:
    completions = view_request({"prompt": ["a", "bb"]}, "/v1/completions")
    assert completions.shape == "openai_completions"
    assert completions.prompt_chars == 3
    responses = view_request(
        {
            "instructions": "Be kind.",
            "input": [
                {"role": "user", "content": [{"type": "input_text", "text": "hi"}]},
                {"type": "function_call", "name": "f"},
                {"type": "function_call_output", "output": "done"},
            ],
        },
        "/v1/responses",
    )
    assert responses.shape == "openai_responses"
    assert responses.system == "Be kind."
    assert responses.last_user_text == "hi"
    assert (responses.n_tool_calls, responses.n_tool_results) == (1, 1)


def test_shape_from_body_when_the_endpoint_is_unfamiliar() -> None:
    assert view_request({"system": "s", "messages": []}, "/proxy/x").shape == "anthropic_messages"
    assert view_request({"messages": [{"role": "system"}]}, "/gw").shape == "openai_chat"
    assert view_request({"prompt": "p"}, "/gw").shape == "openai_completions"
    assert view_request({}, "/gw").shape == "unknown"


def test_tool_schema_digest_ignores_api_shape_and_tool_order() -> None:
    openai = view_request(
        {
            "messages": [],
            "tools": [
                {
                    "type": "function",
                    "function": {"name": "a", "description": "d", "parameters": PARAMETERS},
                },
                {"type": "function", "function": {"name": "b", "parameters": {}}},
            ],
        },
        "/v1/chat/completions",
    )
    anthropic = view_request(
        {
            "messages": [],
            "tools": [
                {"name": "b", "input_schema": {}},
                {"name": "a", "description": "d", "input_schema": PARAMETERS},
            ],
        },
        "/v1/messages",
    )
    assert tool_schema_digest(openai.tools) == tool_schema_digest(anthropic.tools) is not None
    renamed = view_request(
        {"messages": [], "tools": [{"name": "zz", "input_schema": {}}]}, "/v1/messages"
    )
    assert tool_schema_digest(renamed.tools) != tool_schema_digest(anthropic.tools)


def test_system_digest_collapses_whitespace_only() -> None:
    assert system_digest("You are  helpful.\n") == system_digest("You are helpful.")
    assert system_digest("You are helpful.") != system_digest("You are unhelpful.")
    assert system_digest("   ") is None


def test_response_view_counts_text_and_reasoning() -> None:
    openai = view_response(
        {"choices": [{"message": {"content": "abc", "reasoning_content": "xy"}}]}
    )
    assert (openai.text_chars, openai.reasoning_chars) == (3, 2)
    assert view_response(None).text_chars == 0


def test_non_string_roles_and_part_types_are_ignored_not_fatal() -> None:
    body = {"system": [{"role": None, "type": []}], "messages": [{"role": ["user"]}]}
    assert view_request(body, "/v1/messages").system == ""
    assert view_request({"messages": [{"role": {"x": 1}}]}, "/gw").shape == "openai_chat"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "role",
                    "content",
                    "type",
                    "text",
                    "messages",
                    "system",
                    "tools",
                    "function",
                    "name",
                    "input",
                    "prompt",
                    "n",
                    "max_tokens",
                    "thinking",
                ]
            ),
            inner,
            max_size=5,
        )
    ),
    max_leaves=25,
)


@settings(max_examples=1000, deadline=None)
@given(
    body=st.dictionaries(
        st.sampled_from(
            [
                "messages",
                "system",
                "tools",
                "functions",
                "prompt",
                "input",
                "instructions",
                "max_tokens",
                "n",
                "logprobs",
                "thinking",
                "response_format",
                "temperature",
            ]
        ),
        json_values,
        max_size=6,
    ),
    endpoint=st.sampled_from(
        ["/v1/chat/completions", "/v1/messages", "/v1/completions", "/v1/responses", "/other"]
    ),
)
def test_view_never_raises_on_arbitrary_json(body: dict[str, Any], endpoint: str) -> None:
    view = view_request(body, endpoint)
    assert view.prompt_chars >= 0
    assert view.n_images >= 0
    tool_schema_digest(view.tools)
    view_response(body)


def test_an_integer_beyond_any_float_does_not_raise() -> None:
    view = view_request(
        {"messages": [], "temperature": 10**400, "top_p": 1}, "/v1/chat/completions"
    )
    assert view.temperature is None
    assert view.top_p == 1.0
