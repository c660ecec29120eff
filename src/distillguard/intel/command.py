"""``distillguard intel``: export, import, push, pull."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from distillguard.store.database import DEFAULT_STORE
from distillguard.terminal import StoreOption, fail, out

if TYPE_CHECKING:
    from distillguard.intel.partners import Report

PASSWORD_ENV = "DISTILLGUARD_TAXII_PASSWORD"

intel_app = typer.Typer(
    help="Share indicators with partners as STIX 2.1 (docs/intel.md).", no_args_is_help=True
)


@intel_app.command("export")
def export_command(
    results: Annotated[Path, typer.Option(help="A scan's results directory.")],
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
    all_campaigns: Annotated[
        bool, typer.Option("--all", help="Every campaign at least --min-confidence.")
    ] = False,
    min_confidence: Annotated[
        float,
        typer.Option(
            min=0.0,
            max=1.0,
            help="With --all: leave out less confident campaigns (often campus or grader groups "
            "a partner would mistake for attackers).",
        ),
    ] = 0.7,
    tlp: Annotated[str, typer.Option(help="TLP marking: clear, green, amber or red.")] = "amber",
    producer: Annotated[
        str, typer.Option(help="Who produced it (the bundle's identity).")
    ] = "distillguard",
    out_path: Annotated[
        Path, typer.Option("--out", help="Where to write the bundle (JSON).")
    ] = Path("bundle.json"),
    verdicts: Annotated[
        Path | None,
        typer.Option(
            help="Analysts' manual verdicts (the gateway's file, as `console --verdicts`); they "
            "override the scan. Default: RESULTS/manual-verdicts.json when it exists."
        ),
    ] = None,
) -> None:
    """Write a STIX 2.1 bundle of campaigns and what identifies them, without customer data.

    Only flagged accounts, and what they hold, are shared; analysts' decisions come first
    (manual verdicts, then labels in RESULTS/labels.jsonl). Campaigns dismissed by an analyst or
    without a flagged account are left out (refused when named).

    Examples:

      distillguard intel export --results .demo/results --all --salt-file partner.salt

      distillguard intel export --results R --campaign K0012 --salt-file S --tlp green
    """
    from distillguard.console.data import Results
    from distillguard.intel.export import TLP, bundle

    if bool(campaign) == all_campaigns:
        raise fail("name campaigns with --campaign ID, or export them all with --all", 2)
    if tlp not in TLP:
        raise fail(f"--tlp must be one of {', '.join(TLP)}, not {tlp!r}", 2)
    salt = read_salt(salt_file)
    manual = _manual_verdicts(verdicts or results / "manual-verdicts.json", verdicts is not None)
    try:
        made = bundle(Results.open(results), None if all_campaigns else campaign, salt, tlp,
                      producer, min_confidence, manual)  # fmt: skip
    except (FileNotFoundError, KeyError, ValueError) as exc:
        raise fail(str(exc).strip("'\""), 2) from None
    out_path.write_text(made.serialize(pretty=True), encoding="utf-8")
    kinds = Counter(obj["type"] for obj in made.objects)
    counts = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
    out.print(f"{out_path}: {counts} (TLP {tlp.upper()})")


SourceOption = Annotated[
    str | None, typer.Option(help="Name the partner (default: the bundle's producer identity).")
]
ExpiresOption = Annotated[
    float, typer.Option(help="Days an indicator stays in force when it sets no valid_until.")
]
SaltOption = Annotated[
    Path | None,
    typer.Option(
        help="The secret shared with this partner: its salted payment, e-mail and account "
        "digests are matched against this store's account records (import again after new "
        "sign-ups). Without it they are kept but match nothing."
    ),
]
UrlOption = Annotated[
    str, typer.Option(help="The TAXII 2.1 API root, e.g. https://taxii.example.org/api1/.")
]
CollectionOption = Annotated[str, typer.Option(help="The collection's id on that API root.")]
UserOption = Annotated[
    str | None,
    typer.Option(help=f"User name; the password is read from ${PASSWORD_ENV}, never an option."),
]


@intel_app.command("import")
def import_command(
    bundle: Annotated[Path, typer.Argument(help="A partner's STIX 2.1 bundle (JSON).")],
    store: StoreOption = DEFAULT_STORE,
    source: SourceOption = None,
    expires_days: ExpiresOption = 90.0,
    salt_file: SaltOption = None,
) -> None:
    """Keep a partner's indicators, with their source, confidence and expiry.

    The bundle is judged object by object: indicators whose patterns distillguard can match
    (addresses, prefixes, ASNs, user agents, TLS, salted payment, e-mail and account digests)
    and distillguard signatures are kept; other versions, types and patterns are counted in the
    report with why. A bundle that cannot be read at all changes nothing. The next scan uses
    what was kept. Exit 3 when some objects were skipped.

      distillguard intel import bundle.json --store dg.duckdb --salt-file partner.salt
    """
    from distillguard.intel.partners import BundleError, read_bundle

    salt = read_salt(salt_file) if salt_file else None
    try:
        report = read_bundle(bundle, source, expires_days)
    except (OSError, BundleError) as exc:
        raise fail(str(exc), 2) from None
    _keep(report, str(bundle), store, salt)


@intel_app.command("pull")
def pull_command(
    url: UrlOption,
    collection: CollectionOption,
    source: Annotated[
        str,
        typer.Option(
            help="Name the partner. Required: anyone who can write to a shared collection can "
            "claim any producer identity."
        ),
    ],
    store: StoreOption = DEFAULT_STORE,
    user: UserOption = None,
    added_after: Annotated[
        str | None,
        typer.Option(help="Only objects the server added after this time (ISO 8601)."),
    ] = None,
    expires_days: ExpiresOption = 90.0,
    salt_file: SaltOption = None,
) -> None:
    """Read a partner's TAXII 2.1 collection and keep its indicators, as `import` does.

    The password for --user is read from $DISTILLGUARD_TAXII_PASSWORD.

    Example:

      distillguard intel pull --url URL --collection ID --source "Lab B" --salt-file s.salt

    (URL: the API root, like https://taxii.example.org/api1/; ID: the collection's id.)
    """
    from distillguard.intel.partners import BundleError, judge_bundle
    from distillguard.intel.taxii import TaxiiError, pull

    salt = read_salt(salt_file) if salt_file else None
    try:
        data = pull(url, collection, user, os.environ.get(PASSWORD_ENV), added_after)
        report = judge_bundle(data, source, expires_days, url)
    except (TaxiiError, BundleError) as exc:
        raise fail(str(exc), 2) from None
    _keep(report, f"{url} collection {collection}", store, salt)


@intel_app.command("push")
def push_command(
    bundle: Annotated[Path, typer.Argument(help="A bundle written by `intel export`.")],
    url: UrlOption,
    collection: CollectionOption,
    user: UserOption = None,
) -> None:
    """Post a bundle's objects to a partner's TAXII 2.1 collection and report what it took.

    The password for --user is read from $DISTILLGUARD_TAXII_PASSWORD. Exit 3 when the server
    refused some objects or had not taken them all within two minutes.

    Example:

      distillguard intel push bundle.json --url URL --collection ID --user lab-a
    """
    from distillguard.intel.taxii import TaxiiError, push

    if not bundle.is_file():
        raise fail(f"{bundle}: no such bundle file", 2)
    try:
        done = push(bundle, url, collection, user, os.environ.get(PASSWORD_ENV))
    except (TaxiiError, ValueError) as exc:
        raise fail(str(exc), 2) from None
    out.print(
        f"{bundle} -> {url} collection {collection}: {done.status}, {done.succeeded} objects "
        f"added, {done.failed} refused, {done.pending} pending"
    )
    if done.failed or done.pending:
        raise typer.Exit(3)


def _keep(report: Report, name: str, store: Path, salt: bytes | None) -> None:
    """Store what a judged bundle kept, match its salted digests, and report; exit 3 on skips."""
    import duckdb

    from distillguard.intel.partners import keep
    from distillguard.store import Store, StoreError

    salted = sum(i.salted for i in report.kept)
    try:
        with Store.open(store) as db:
            matched = keep(db, report, salt)
    except StoreError as exc:
        raise fail(str(exc)) from None
    except (duckdb.Error, ValueError, TypeError) as exc:  # judging let it through; none stored
        raise fail(f"{name}: not stored ({exc})", 2) from None
    kinds = Counter(i.kind for i in report.kept)
    kept = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())) or "none"
    out.print(f"{name}: {report.objects} objects; kept {len(report.kept)} ({kept}) in {store}")
    if salted and salt is None:
        out.print(f"  {salted} salted digests kept but unmatched: pass --salt-file to match them")
    elif salted:
        out.print(f"  {matched} of {salted} salted digests match this store's accounts")
    for reason, n in report.skipped.most_common():
        out.print(f"  skipped {n}: {reason} (e.g. {report.examples.get(reason, '?')})")
    if report.skipped:
        raise typer.Exit(3)


def read_salt(path: Path) -> bytes:
    """The partnership's secret from a file, or a clear error."""
    from distillguard.intel.salt import load_salt

    try:
        return load_salt(path)
    except ValueError as exc:
        raise fail(str(exc), 2) from None


def _manual_verdicts(path: Path, named: bool) -> dict[str, str]:
    """Account verdicts analysts set (the gateway's manual verdicts file), or none."""
    from distillguard.gateway.verdicts import VerdictBook
    from distillguard.verdicts.config import ConfigError

    if not path.exists():
        if named:
            raise fail(f"{path}: no such manual verdicts file", 2)
        return {}
    try:
        book = VerdictBook(None, path)
    except ConfigError as exc:
        raise fail(str(exc), 2) from None
    return dict(book.manual["account"])
