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


@intel_app.command("import")
def import_command(
    bundle: Annotated[Path, typer.Argument(help="A partner's STIX 2.1 bundle (JSON).")],
    store: Annotated[Path, typer.Option(help="The store to keep the indicators in.")] = Path(
        "distillguard.duckdb"  # the store's default path (store.DEFAULT_STORE)
    ),
    source: Annotated[
        str | None,
        typer.Option(help="Name the partner (default: the bundle's producer identity)."),
    ] = None,
    expires_days: Annotated[
        float, typer.Option(help="Days an indicator stays in force when it sets no valid_until.")
    ] = 90.0,
) -> None:
    """Keep a partner's indicators, with their source, confidence and expiry.

    The bundle is judged object by object: indicators whose patterns distillguard can match
    (addresses, prefixes, ASNs, user agents, TLS, salted payment, e-mail and account digests)
    and distillguard signatures are kept; other versions, types and patterns are counted in the
    report with why. A bundle that cannot be read at all changes nothing. Exit 3 when some
    objects were skipped.

      distillguard intel import partner-bundle.json --store dg.duckdb
    """
    from datetime import UTC, datetime

    from distillguard.intel.partners import BundleError, read_bundle
    from distillguard.store import Store, StoreError

    try:
        report = read_bundle(bundle, source, expires_days)
    except (OSError, BundleError) as exc:
        raise fail(str(exc), 2) from None
    now = datetime.now(UTC)
    rows = [
        (i.source, i.stix_id, i.kind, i.value, i.salted, i.confidence, i.campaign, i.expires, now)
        for i in report.kept
    ]
    try:
        with Store.open(store) as db:
            db.put_partner_indicators(rows)
    except StoreError as exc:
        raise fail(str(exc)) from None
    kinds: dict[str, int] = {}
    for i in report.kept:
        kinds[i.kind] = kinds.get(i.kind, 0) + 1
    kept = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())) or "none"
    out.print(f"{bundle}: {report.objects} objects; kept {len(rows)} ({kept}) in {store}")
    for reason, n in report.skipped.most_common():
        out.print(f"  skipped {n}: {reason} (e.g. {report.examples.get(reason, '?')})")
    if report.skipped:
        raise typer.Exit(3)
