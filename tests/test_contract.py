"""The contract is defined once: the committed JSON Schemas are what the typed module generates."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from distillguard.contract.examples import example_account, example_event
from distillguard.contract.schema import SCHEMAS, json_schema

SCHEMA_DIR = Path(__file__).parent.parent / "schemas"


@pytest.mark.parametrize("name", list(SCHEMAS))
def test_committed_schema_matches_the_typed_contract(name: str) -> None:
    committed = json.loads((SCHEMA_DIR / f"{name}.schema.json").read_text())
    assert committed == json_schema(name), "run `make schemas` and commit the result"


def test_examples_validate_against_the_exported_schemas() -> None:
    jsonschema.validate(example_event(3), json_schema("event"))
    jsonschema.validate(example_account(3), json_schema("account"))


def test_schema_rejects_what_ingest_rejects() -> None:
    event = example_event(1)
    del event["request"]
    with pytest.raises(jsonschema.ValidationError, match="'request' is a required property"):
        jsonschema.validate(event, json_schema("event"))


def test_schema_and_ingest_both_allow_an_event_without_an_address() -> None:
    event = example_event(1)
    del event["client"]
    jsonschema.validate(event, json_schema("event"))


def test_unknown_fields_are_allowed_by_the_schema() -> None:
    event = example_event(1) | {"region": "eu-west-1"}
    jsonschema.validate(event, json_schema("event"))


def test_the_contract_doc_names_every_store_column_and_reason() -> None:
    from distillguard.contract.errors import Reason
    from distillguard.store.columns import ACCOUNT_COLUMNS, EVENT_COLUMNS

    doc = (Path(__file__).parent.parent / "docs" / "log-contract.md").read_text()
    for column in (*EVENT_COLUMNS, *ACCOUNT_COLUMNS):
        assert f"`{column.name}`" in doc, column.name
    for reason in Reason:
        assert f"`{reason.value}`" in doc, reason.value
