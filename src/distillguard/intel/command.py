"""``distillguard intel export``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from distillguard.terminal import fail, out

intel_app = typer.Typer(
    help="Share indicators with partners as STIX 2.1 (docs/intel.md).", no_args_is_help=True
)


@intel_app.command("export")
def export_command(
    results: Annotated[Path, typer.Option(help="A scan's results directory.")],
    out_path: Annotated[Path, typer.Option("--out", help="Where to write the bundle (JSON).")],
    salt_file: Annotated[
        Path,
        typer.Option(
            help="The secret shared with this partner (at least 16 bytes, e.g. `openssl rand "
            "-hex 32 > partner.salt`): payment methods, e-mail domains and account ids are "
            "exported only as HMAC-SHA256 digests under it."
        ),
    ],
    campaign: Annotated[
        list[str] | None, typer.Option(help="A campaign id (K...); repeat for more.")
    ] = None,
    all_campaigns: Annotated[bool, typer.Option("--all", help="Every campaign.")] = False,
    tlp: Annotated[str, typer.Option(help="TLP marking: clear, green, amber or red.")] = "amber",
    producer: Annotated[
        str, typer.Option(help="Who produced it (the bundle's identity).")
    ] = "distillguard",
) -> None:
    """Write a STIX 2.1 bundle of campaigns and what identifies them, without customer data.

      distillguard intel export --results .demo/results --all --salt-file partner.salt \\
          --out bundle.json --tlp green
    """
    from distillguard.console.data import Results
    from distillguard.intel.export import TLP, bundle

    if bool(campaign) == all_campaigns:
        raise fail("name campaigns with --campaign ID, or export them all with --all", 2)
    if tlp not in TLP:
        raise fail(f"--tlp must be one of {', '.join(TLP)}, not {tlp!r}", 2)
    try:
        salt = salt_file.read_bytes().strip()
    except OSError as exc:
        raise fail(f"{salt_file}: cannot read the salt ({exc.strerror})", 2) from None
    if len(salt) < 16:
        raise fail(f"{salt_file}: a salt needs at least 16 bytes; it has {len(salt)}", 2)
    try:
        made = bundle(Results.open(results), None if all_campaigns else campaign, salt, tlp,
                      producer)  # fmt: skip
    except (FileNotFoundError, KeyError) as exc:
        raise fail(str(exc).strip("'\""), 2) from None
    out_path.write_text(made.serialize(pretty=True), encoding="utf-8")
    kinds: dict[str, int] = {}
    for obj in made.objects:
        kinds[obj["type"]] = kinds.get(obj["type"], 0) + 1
    counts = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
    out.print(f"{out_path}: {counts} (TLP {tlp.upper()})")
