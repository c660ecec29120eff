"""``distillguard provenance``: make watermark keys, and test a suspect model's text for them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from distillguard.terminal import fail, out
from distillguard.verdicts.config import ConfigError

provenance_app = typer.Typer(
    help="Watermark keys for flagged traffic, and the test of a suspect model's text "
    "(docs/provenance.md).",
    no_args_is_help=True,
)


@provenance_app.command("keygen")
def keygen_command(
    out_file: Annotated[Path, typer.Option("--out", help="The key file to write (mode 600).")],
    key: Annotated[list[str], typer.Option(help="A key id, e.g. a cluster id; repeat for more.")],
    gamma: Annotated[float, typer.Option(min=0.01, max=0.99, help="Green share.")] = 0.25,
    delta: Annotated[float, typer.Option(min=0.0, help="Logit bias on green tokens.")] = 2.0,
    context: Annotated[int, typer.Option(min=1, help="Tokens that pick a green list.")] = 1,
) -> None:
    """Write a key file with a fresh secret: give it to the model server that marks flagged
    traffic, and keep it to test suspect models later."""
    from distillguard.provenance.keys import new_key_file

    if out_file.exists():
        raise fail(f"{out_file}: exists; a new secret would orphan what the old one marked")
    new_key_file(out_file, key, gamma, delta, context)
    out.print(f"wrote {out_file} with {len(key)} key(s)")


@provenance_app.command("test")
def suspect_command(
    texts: Annotated[
        list[Path],
        typer.Argument(
            help="The suspect model's outputs: plain text, or JSONL with a `text` field."
        ),
    ],
    key_file: Annotated[Path, typer.Option(help="The key file the watermark was made with.")],
    tokenizer: Annotated[
        Path,
        typer.Option(help="The watermarked model's tokenizer.json (Hugging Face tokenizers)."),
    ],
    key: Annotated[
        list[str] | None,
        typer.Option(
            help="Test this key id (e.g. a cluster id from the gateway's events, "
            "`gateway.watermark`) instead of the file's list; repeat for more."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per key.")] = False,
) -> None:
    """Score the texts against every key: distinct (context, token) pairs scored, how many are
    green, and the p-value that chance alone gives so many (exact under the null). With several
    keys, compare the smallest p-value with 0.05 / the number of keys."""
    from tokenizers import Tokenizer

    from distillguard.provenance.keys import load_keys
    from distillguard.provenance.read import read_texts
    from distillguard.provenance.score import score

    try:
        keys = load_keys(key_file, key or ())
        tok = Tokenizer.from_file(str(tokenizer))
    except ConfigError as exc:
        raise fail(str(exc)) from None
    except Exception as exc:  # tokenizers raises its own exception types
        raise fail(f"{tokenizer}: not a tokenizer.json ({exc})") from None
    try:
        docs = read_texts(texts)
    except ValueError as exc:
        raise fail(str(exc)) from None
    ids = [enc.ids for enc in tok.encode_batch(docs, add_special_tokens=False)]
    for found in (score(k, ids) for k in keys):
        row = {
            "key_id": found.key_id,
            "tokens": found.tokens,
            "green": found.green,
            "gamma": found.gamma,
            "z": round(found.z, 2),
            "p_value": found.p_value,
        }
        if as_json:
            typer.echo(json.dumps(row))  # one line each, never wrapped
        else:
            out.print(
                f"{found.key_id}: {found.green} of {found.tokens} green "
                f"(expected {found.gamma:.0%}), z {found.z:.2f}, p {found.p_value:.3g}"
            )
