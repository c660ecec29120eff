"""The store's tables, column by column: one definition for DDL, Arrow batches and docs."""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    arrow: pa.DataType
    doc: str


_SQL_TYPES = {
    pa.string(): "VARCHAR",
    pa.bool_(): "BOOLEAN",
    pa.int8(): "TINYINT",
    pa.int16(): "SMALLINT",
    pa.int32(): "INTEGER",
    pa.int64(): "BIGINT",
    pa.uint64(): "UBIGINT",
    pa.float32(): "FLOAT",
    pa.timestamp("us", tz="UTC"): "TIMESTAMPTZ",
}

TS = pa.timestamp("us", tz="UTC")

_INTENTS = (
    Column(
        "reasoning_elicitation", pa.float32(), "Signal: asks to spell out or reconstruct reasoning."
    ),
    Column("hidden_reasoning_request", pa.float32(), "Signal: asks to reveal hidden thinking."),
    Column("rubric_grading", pa.float32(), "Signal: uses the model as a grader with a rubric."),
    Column("synthetic_data", pa.float32(), "Signal: asks for examples for a dataset."),
    Column(
        "sensitive_rewrite", pa.float32(), "Signal: censorship-safe rewrite of a sensitive topic."
    ),
    Column("format_harvest", pa.float32(), "Signal: reasoning in a fixed training format."),
)

EVENT_COLUMNS: tuple[Column, ...] = (
    Column("request_id", pa.string(), "Unique request id; the primary key."),
    Column("ts", TS, "When the request arrived (UTC)."),
    Column("account_id", pa.string(), "Account that sent it."),
    Column("api_key_id", pa.string(), "API key used, if logged."),
    Column("org_id", pa.string(), "Organisation, if logged."),
    Column("endpoint", pa.string(), "API path as logged."),
    Column("model", pa.string(), "Model requested."),
    Column(
        "api_shape",
        pa.string(),
        "openai_chat, openai_completions, openai_responses, anthropic_messages or unknown.",
    ),
    Column("ip", pa.string(), "Client IP address (normalised)."),
    Column("ip_prefix", pa.string(), "The /24 (IPv4) or /48 (IPv6) network of the client IP."),
    Column("ip_version", pa.int8(), "4 or 6."),
    Column("user_agent", pa.string(), "Client user agent."),
    Column("asn", pa.int64(), "Client autonomous system number."),
    Column("country", pa.string(), "Client country (upper-case)."),
    Column("tls_fingerprint", pa.string(), "TLS client fingerprint."),
    Column("status", pa.int16(), "HTTP status returned."),
    Column("input_tokens", pa.int64(), "Billed input tokens."),
    Column("output_tokens", pa.int64(), "Billed output tokens."),
    Column("latency_ms", pa.float32(), "Time to full response."),
    Column(
        "n_turns", pa.int32(), "Messages in the conversation, system and tool results excluded."
    ),
    Column("n_user_turns", pa.int32(), "User messages."),
    Column("n_images", pa.int32(), "Images attached anywhere in the conversation."),
    Column("n_tools", pa.int32(), "Tools offered to the model."),
    Column("n_tool_calls", pa.int32(), "Tool calls made by the model earlier in the conversation."),
    Column("n_tool_results", pa.int32(), "Tool results sent back to the model."),
    Column("system_hash", pa.uint64(), "Digest of the system prompt (whitespace-collapsed)."),
    Column(
        "tool_schema_hash", pa.uint64(), "Digest of the tool set, shape- and order-independent."
    ),
    Column("system_chars", pa.int32(), "Length of the system prompt."),
    Column("prompt_chars", pa.int32(), "Length of all text the client wrote (system + turns)."),
    Column("last_user_chars", pa.int32(), "Length of the last user message."),
    Column("tool_result_chars", pa.int32(), "Length of tool results sent back."),
    Column("response_chars", pa.int32(), "Length of the response text (when logged)."),
    Column("response_reasoning_chars", pa.int32(), "Length of visible reasoning in the response."),
    Column("max_tokens", pa.int64(), "Requested output cap."),
    Column("temperature", pa.float32(), "Sampling temperature."),
    Column("top_p", pa.float32(), "Nucleus sampling parameter."),
    Column("n", pa.int32(), "Completions requested per prompt."),
    Column("logprobs", pa.bool_(), "Log-probabilities requested."),
    Column("stream", pa.bool_(), "Streaming requested."),
    Column("response_format", pa.string(), "Structured-output type requested (json_object, ...)."),
    Column("reasoning", pa.bool_(), "Extended thinking or a reasoning effort was requested."),
    # Per-request signals (signals/): computed once at ingest, from text that may not be kept.
    *_INTENTS,
    Column(
        "capability", pa.string(), "Capability targeted (coding, agentic, math_reasoning, ...)."
    ),
    Column("template_head", pa.uint64(), "Digest of the first words of the last user message."),
    Column("template_tail", pa.uint64(), "Digest of the last words of the last user message."),
    Column("lsh_0", pa.uint64(), "MinHash LSH band 0 of the last user message (near-duplicates)."),
    Column("lsh_1", pa.uint64(), "MinHash LSH band 1."),
    Column("lsh_2", pa.uint64(), "MinHash LSH band 2."),
    Column("lsh_3", pa.uint64(), "MinHash LSH band 3."),
    Column("tool_shape_hash", pa.uint64(), "Digest of the tool set's shape, robust to renaming."),
    # Intent by meaning (signals/meaning.py): 0.5 is each model's operating point.
    *(
        Column(f"meaning_{c.name}", pa.float32(), f"By meaning: {c.doc[len('Signal: ') :]}")
        for c in _INTENTS
    ),
    Column("topic", pa.int16(), "Subject of the user turns by meaning (signals/topic.py)."),
    Column("request_json", pa.string(), "Request body as JSON; NULL when retention is 'derived'."),
    Column(
        "response_json", pa.string(), "Response body as JSON; NULL when retention is 'derived'."
    ),
    Column("extra", pa.string(), "Fields outside the contract, as a JSON object (dotted keys)."),
    Column("source_file", pa.string(), "File the event was ingested from."),
    Column("source_line", pa.int64(), "Line (or Parquet row) in that file, 1-based."),
)

ACCOUNT_COLUMNS: tuple[Column, ...] = (
    Column("account_id", pa.string(), "Account id; the primary key."),
    Column("created_at", TS, "Sign-up time (UTC)."),
    Column(
        "tier", pa.string(), "free, pro, edu, research, startup, enterprise, or other (lower-case)."
    ),
    Column("email_domain", pa.string(), "Domain of the sign-up e-mail (lower-case)."),
    Column("payment_fingerprint", pa.string(), "Opaque identifier of the payment method."),
    Column("country", pa.string(), "Account country (upper-case)."),
    Column("verified", pa.bool_(), "Identity or organisation verified."),
    Column("org_id", pa.string(), "Organisation the account belongs to."),
    Column("extra", pa.string(), "Fields outside the contract, as a JSON object."),
)


def arrow_schema(columns: tuple[Column, ...]) -> pa.Schema:
    return pa.schema([pa.field(c.name, c.arrow) for c in columns])


def create_table_sql(table: str, columns: tuple[Column, ...], key: str) -> str:
    body = ",\n  ".join(
        f"{c.name} {_SQL_TYPES[c.arrow]}{' PRIMARY KEY' if c.name == key else ''}" for c in columns
    )
    return f"CREATE TABLE IF NOT EXISTS {table} (\n  {body}\n)"
