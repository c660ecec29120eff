"""OpenAI Batch API files: the input (``custom_id``, ``method``, ``url``, ``body``) and the
output (``custom_id``, ``response.status_code``, ``response.request_id``, ``response.body``,
``error``), paired by ``custom_id``.

Ingest reads a batch's output files first and hands each input line its output
(``OUTPUT_KEY``): the request comes from the input, the time, status and usage from the
output. Batch files name no account and no address: the account is the body's ``user`` or
``safety_identifier`` when the caller set one, else ``--account-id``; there are no network
links. An input line without its output is timed by its file's modification time.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from distillguard.contract.errors import Reason
from distillguard.formats.base import Defaults, Format, Item, Unreadable, drop_none, first, iso

OUTPUT_KEY = "_distillguard_batch_output"  # where ingest attaches an input line's output


def is_output(record: dict[str, Any]) -> bool:
    """An output line (its ``response``/``error``), not an input line."""
    return "custom_id" in record and ("response" in record or "error" in record)


class OpenAIBatch(Format):
    name = "openai-batch"
    summary = "OpenAI Batch API input and output files, paired by custom_id"

    def sniff(self, record: dict[str, Any]) -> bool:
        if "custom_id" not in record:
            return False
        return is_output(record) or ("url" in record and "body" in record)

    def events(self, record: dict[str, Any], defaults: Defaults) -> Iterator[Item]:
        if is_output(record):
            yield Unreadable(
                "custom_id",
                "an output line without its input line: give the batch's input file with it"
                " (the input holds the request)",
                Reason.MISSING_FIELD,
            )
            return
        custom_id, body, url = record.get("custom_id"), record.get("body"), record.get("url")
        if not isinstance(custom_id, str) or not custom_id:
            yield Unreadable("custom_id", "no custom_id", Reason.MISSING_FIELD)
            return
        if not isinstance(body, dict):
            yield Unreadable("body", "expected the request body as an object", Reason.WRONG_TYPE)
            return
        output = _object(record.get(OUTPUT_KEY))
        response = _object(output.get("response"))
        answer = _object(response.get("body")) or None
        account = first(body.get("user"), body.get("safety_identifier"), defaults.account_id)
        if account is None:
            yield Unreadable(
                "body.user",
                "batch files name no account and this request sets no user or"
                " safety_identifier: give --account-id (the batch's owner)",
                Reason.MISSING_FIELD,
            )
            return
        created = first(_object(answer).get("created"), _object(answer).get("created_at"))
        try:
            ts = iso(
                created if created is not None else defaults.file_time, "response.body.created"
            )
        except Unreadable as problem:
            yield problem
            return
        usage = _object(_object(answer).get("usage"))
        error = output.get("error")
        yield drop_none(
            {
                "ts": ts,
                "request_id": first(output.get("id"), f"{defaults.source}:{custom_id}"),
                "account_id": str(account),
                "endpoint": url if isinstance(url, str) else "/v1/chat/completions",
                "model": body.get("model"),
                "request": body,
                "response": answer,
                "status": response.get("status_code"),
                "usage": {
                    "input_tokens": first(usage.get("prompt_tokens"), usage.get("input_tokens")),
                    "output_tokens": first(
                        usage.get("completion_tokens"), usage.get("output_tokens")
                    ),
                },
                "batch": drop_none(
                    {
                        "custom_id": custom_id,
                        "request_id": response.get("request_id"),
                        "error": error.get("code") if isinstance(error, dict) else None,
                        "timed_by": None if created is not None else "file_mtime",
                    }
                ),
            }
        )


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
