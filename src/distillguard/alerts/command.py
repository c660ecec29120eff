"""``distillguard alert``: what is new or has grown since the previous scan, to webhooks."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from distillguard.alerts.changes import changes
from distillguard.alerts.webhook import Delivery, Format, deliver, payload, redacted, shape_of
from distillguard.terminal import err, fail, out

ALERTS = "alerts.json"


def _campaigns(results: Path) -> list[dict[str, Any]]:
    path = results / "campaigns.json"
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        hint = f"run `distillguard scan --out {results}`"
        raise fail(f"{path}: no campaigns.json here; {hint}") from None
    except json.JSONDecodeError as exc:
        raise fail(f"{path}:{exc.lineno}: not JSON ({exc.msg})") from None
    if not isinstance(value, list) or not all(
        isinstance(c, dict) and "campaign_id" in c for c in value
    ):
        raise fail(f"{path}: not a list of campaigns with a campaign_id each")
    return value


def alert_command(
    results: Annotated[Path, typer.Option(help="The latest scan's output directory.")],
    previous: Annotated[
        Path | None,
        typer.Option(help="The scan before it; without one, every campaign is new."),
    ] = None,
    webhook: Annotated[
        list[str] | None,
        typer.Option(
            envvar="DISTILLGUARD_ALERT_WEBHOOK",
            help="Where to POST each alert (repeat for several); none: only alerts.json.",
        ),
    ] = None,
    fmt: Annotated[
        str,
        typer.Option(
            "--format", help="slack, json, or auto (slack for hooks.slack.com, else json)."
        ),
    ] = "auto",
    console_url: Annotated[
        str | None,
        typer.Option(help="The console's address, for a link to each campaign's page."),
    ] = None,
    grow_by: Annotated[
        float, typer.Option(min=0, help="A campaign that grew by this share of its accounts.")
    ] = 0.5,
    min_growth: Annotated[
        int, typer.Option(min=1, help="...and by at least this many accounts.")
    ] = 5,
) -> None:
    """Alert on campaigns that are new since the previous scan, or have grown past a threshold.

    Campaigns are followed from scan to scan by their accounts (ids are each scan's own). Each
    alert goes to every webhook (Slack-compatible or generic JSON) with a link to its console
    page, and all are written to RESULTS/alerts.json, which the console shows:

      distillguard alert --results results-2 --previous results-1 \\
        --webhook https://hooks.slack.com/services/... --console-url https://console.internal

    Exit status 4 when a webhook could not be reached or refused an alert (named on stderr).
    """
    if fmt not in ("auto", "slack", "json"):
        raise fail(f"--format must be auto, slack or json, not {fmt!r}")
    shape: Format = fmt  # type: ignore[assignment]
    current = _campaigns(results)
    before = _campaigns(previous) if previous is not None else []
    found = changes(before, current, grow_by, min_growth)
    hooks = webhook or []
    written: list[dict[str, Any]] = []
    failed = 0
    down: set[str] = set()  # hooks that never answered an earlier alert: not waited on again
    for alert in found:
        out.print(f"{alert.kind:5}  {alert.headline()}", highlight=False, soft_wrap=True)
        deliveries = []
        for url in hooks:
            if url in down:
                sent = Delivery(url, False, None, 0, "skipped: it did not answer an earlier alert")
            else:
                sent = deliver(url, payload(alert, shape_of(url, shape), console_url))
            if sent.status is None:
                down.add(url)
            deliveries.append(
                {"webhook": redacted(url), "ok": sent.ok, "status": sent.status,
                 "attempts": sent.attempts, "error": sent.error}
            )  # fmt: skip
            if not sent.ok:
                failed += 1
                why = f"not delivered after {sent.attempts} attempts ({sent.error})"
                err.print(f"[red]error:[/red] {redacted(url)}: {alert.campaign_id} {why}",
                          soft_wrap=True, highlight=False)  # fmt: skip
        written.append({**alert.as_dict(), "deliveries": deliveries})
    if not found:
        out.print("no new or grown campaigns")
    record = {
        "generated": datetime.now(UTC).isoformat(timespec="seconds"),
        "previous": str(previous) if previous is not None else None,
        "grow_by": grow_by,
        "min_growth": min_growth,
        "alerts": written,
    }
    (results / ALERTS).write_text(json.dumps(record, indent=1), encoding="utf-8")
    if failed:
        raise typer.Exit(4)
