"""One scan over the store, and the results directory it writes (docs/output-contract.md).

    accounts.csv     account_id,risk,verdict,cluster_id,campaign_id,reasons,flagged_at,
                     evidence_risk
    campaigns.json   campaigns with accounts, indicators, tactics and evidence
    report.html      a readable report with plots
    enforcement.csv  account_id,action,verdict,requests,tokens,first_ts,last_ts: the gateway's
    manifest.json    the store, the window, the config, the learned model if any, counts
    features.parquet account_id and the evidence as numbers (verdicts/features.py): what
                     `distillguard learn` trains on

The stages are set-oriented SQL over temp tables in one DuckDB connection; Python touches
only clusters (graph) and campaigns (JSON), never the events one by one. The stages that read
events (fingerprints, partners, links, the campaigns' evidence) run on an ``Engine``: the store
itself here (``StoreEngine``), or Spark (``distillguard.spark``) from the same SQL. The
account-sized rest (clusters, verdicts, campaigns, the files) always runs in DuckDB.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import duckdb
import msgspec

from distillguard.campaigns import assemble_campaigns, campaign_members, evidence_stage
from distillguard.coordination import build_links, cluster_accounts
from distillguard.fingerprints import build_fingerprints
from distillguard.intel.match import match_partners
from distillguard.scan.enforcement import enforcement_stage
from distillguard.scan.reasons import reasons_sql
from distillguard.verdicts import decisions as decided
from distillguard.verdicts import learned
from distillguard.verdicts.config import Config
from distillguard.verdicts.features import features
from distillguard.verdicts.features import write as write_features
from distillguard.verdicts.learned import Learned
from distillguard.verdicts.score import score

STAGES = ("fingerprints", "partners", "links", "clusters", "verdicts", "campaigns", "report")


@dataclass
class ScanResult:
    out: Path
    accounts: int
    events: int
    verdicts: dict[str, int]
    campaigns: list[dict[str, Any]]
    seconds: dict[str, float] = field(default_factory=dict)
    model_set_aside: str = ""  # why a learned model judged no account, if it did not


def window_events(con: duckdb.DuckDBPyConnection, until: datetime | None) -> None:
    con.execute("SET TimeZone = 'UTC'")  # day and hour features are UTC days and hours
    if until is None:
        con.execute("CREATE OR REPLACE TEMP VIEW ev AS SELECT * FROM events")
    else:
        # A view cannot take a parameter; an isoformat string is a safe literal.
        con.execute(
            "CREATE OR REPLACE TEMP VIEW ev AS SELECT * FROM events "
            f"WHERE ts < '{until.isoformat()}'::TIMESTAMPTZ"
        )


class Engine(Protocol):
    """Where the event-level stages run; the tables they leave in ``con`` are the same."""

    name: str  # recorded in the manifest

    def span(self, con: duckdb.DuckDBPyConnection) -> tuple[datetime | None, datetime | None]:
        """The first and last event time."""
        ...

    def window(self, con: duckdb.DuckDBPyConnection, until: datetime | None) -> None:
        """Use only events before ``until`` from now on."""
        ...

    def fingerprints(self, con: duckdb.DuckDBPyConnection) -> None:
        """Leave ``fp`` in ``con``."""
        ...

    def partners(self, con: duckdb.DuckDBPyConnection) -> None:
        """Leave ``partner_hits`` and ``partner_fp`` in ``con``."""
        ...

    def links(self, con: duckdb.DuckDBPyConnection) -> None:
        """Leave ``links`` in ``con``."""
        ...

    def evidence(self, con: duckdb.DuckDBPyConnection) -> None:
        """Leave ``ev_hours`` and ``ev_top`` for ``campaign_of`` in ``con``."""
        ...

    def enforcement(self, con: duckdb.DuckDBPyConnection) -> None:
        """Leave ``enforced`` (what the gateway did, per account and action) in ``con``."""
        ...

    def events(self, con: duckdb.DuckDBPyConnection) -> int:
        """Events in the window."""
        ...


class StoreEngine:
    """The embedded engine: every stage is SQL on the store's own connection."""

    name = "duckdb"

    def span(self, con: duckdb.DuckDBPyConnection) -> tuple[datetime | None, datetime | None]:
        first, last = con.execute("SELECT min(ts), max(ts) FROM events").fetchall()[0]
        return first, last

    def window(self, con: duckdb.DuckDBPyConnection, until: datetime | None) -> None:
        window_events(con, until)

    def fingerprints(self, con: duckdb.DuckDBPyConnection) -> None:
        build_fingerprints(con)

    def partners(self, con: duckdb.DuckDBPyConnection) -> None:
        match_partners(con)

    def links(self, con: duckdb.DuckDBPyConnection) -> None:
        build_links(con)

    def evidence(self, con: duckdb.DuckDBPyConnection) -> None:
        evidence_stage().run(con)

    def enforcement(self, con: duckdb.DuckDBPyConnection) -> None:
        enforcement_stage().run(con)

    def events(self, con: duckdb.DuckDBPyConnection) -> int:
        (n,) = con.execute("SELECT count(*) FROM ev").fetchall()[0]
        return int(n)


def detect(
    con: duckdb.DuckDBPyConnection,
    cfg: Config,
    until: datetime | None = None,
    on_stage: Callable[[str], None] | None = None,
    engine: Engine | None = None,
) -> dict[str, float]:
    """Run every stage on events before ``until``; leaves ``risk``, ``cl``... as temp tables."""
    run = engine or StoreEngine()
    seconds: dict[str, float] = {}
    run.window(con, until)
    steps: list[tuple[str, Callable[[], object]]] = [
        ("fingerprints", lambda: run.fingerprints(con)),
        ("partners", lambda: run.partners(con)),
        ("links", lambda: run.links(con)),
        ("clusters", lambda: cluster_accounts(con)),
        ("verdicts", lambda: score(con, cfg)),
    ]
    for name, step in steps:
        began = time.perf_counter()
        step()
        seconds[name] = round(time.perf_counter() - began, 3)
        if on_stage:
            on_stage(name)
    return seconds


def _verdict_sql(cfg: Config) -> str:
    t = cfg.thresholds
    return (
        f"CASE WHEN r.risk >= {t.block} THEN 'block' WHEN r.risk >= {t.challenge} THEN "
        f"'challenge' WHEN r.risk >= {t.watch} THEN 'watch' ELSE 'clear' END"
    )


def replay_flagged_at(
    con: duckdb.DuckDBPyConnection,
    cfg: Config,
    step: timedelta,
    until: datetime | None,
    on_step: Callable[[datetime], None] | None = None,
    engine: Engine | None = None,
) -> None:
    """Temp table ``flagged(account_id, flagged_at)``: the first replay step that flagged it.

    Exact at the step's resolution: the scan is re-run on events before each step boundary.
    """
    first, last = (engine or StoreEngine()).span(con)
    con.execute("CREATE OR REPLACE TEMP TABLE flagged (account_id VARCHAR, flagged_at TIMESTAMPTZ)")
    if first is None or last is None:
        return
    end = min(until, last + step) if until else last + step
    t = first + step
    while t <= end:
        if on_step:
            on_step(t)
        detect(con, cfg, t, engine=engine)
        con.execute(
            f"""INSERT INTO flagged SELECT account_id, ?::TIMESTAMPTZ FROM risk
                WHERE risk >= {cfg.thresholds.challenge}
                  AND account_id NOT IN (SELECT account_id FROM flagged)""",
            [t.isoformat()],
        )
        t += step


def scan(
    con: duckdb.DuckDBPyConnection,
    out: Path,
    cfg: Config,
    *,
    until: datetime | None = None,
    replay: timedelta | None = None,
    store_path: str = "",
    on_stage: Callable[[str], None] | None = None,
    on_replay: Callable[[datetime], None] | None = None,
    engine: Engine | None = None,
    decisions: list[tuple[Any, ...]] | None = None,
    model: Learned | None = None,
) -> ScanResult:
    """The whole scan; a learned ``model`` (``verdicts.learned``) and then ``decisions``
    (``verdicts.decisions.latest``) adjust the final risk, not the replay's flagged_at (when
    the rules alone flagged each account)."""
    run = engine or StoreEngine()
    out.mkdir(parents=True, exist_ok=True)
    if replay is not None:
        replay_flagged_at(con, cfg, replay, until, on_replay, run)
    seconds = detect(con, cfg, until, on_stage, run)
    features(con)  # the evidence as numbers: what `distillguard learn` trains on
    write_features(con, out)
    aside = learned.apply(con, cfg, model)
    decided.apply(con, cfg, decisions or [])
    began = time.perf_counter()
    campaign_members(con, cfg)
    run.evidence(con)
    campaigns = assemble_campaigns(con, cfg)
    seconds["campaigns"] = round(time.perf_counter() - began, 3)
    if on_stage:
        on_stage("campaigns")
    flagged_at = "strftime(fl.flagged_at, '%Y-%m-%dT%H:%M:%SZ')" if replay else "NULL"
    join = "LEFT JOIN flagged fl ON fl.account_id = r.account_id" if replay else ""
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE results AS
        SELECT r.account_id, round(r.risk, 4) AS risk, {_verdict_sql(cfg)} AS verdict,
               r.cluster_id, c.campaign_id,
               concat_ws('; ', nullif(r.decision, ''), nullif(r.learned, ''),
                         nullif({reasons_sql(cfg)}, '')) AS reasons,
               {flagged_at} AS flagged_at, round(r.evidence_risk, 4) AS evidence_risk
        FROM risk r LEFT JOIN fp f USING (account_id) LEFT JOIN members m USING (account_id)
        LEFT JOIN cl ON cl.cluster_id = r.cluster_id
        LEFT JOIN partner_fp pf ON pf.account_id = r.account_id
        LEFT JOIN campaign_of c ON c.account_id = r.account_id {join}
        ORDER BY r.risk DESC, r.account_id
    """)
    # Written aside, then renamed: a gateway re-reading it never sees half a file.
    partial = out / "accounts.csv.partial"
    path = partial.as_posix().replace("'", "''")
    con.execute(f"COPY results TO '{path}' (HEADER, DELIMITER ',')")
    os.replace(partial, out / "accounts.csv")
    (out / "campaigns.json").write_bytes(
        msgspec.json.format(msgspec.json.encode(campaigns), indent=1)
    )
    run.enforcement(con)
    partial = out / "enforcement.csv.partial"
    path = partial.as_posix().replace("'", "''")
    con.execute(f"""
        COPY (SELECT account_id, action, verdict, requests, tokens,
                     strftime(first_ts, '%Y-%m-%dT%H:%M:%SZ') AS first_ts,
                     strftime(last_ts, '%Y-%m-%dT%H:%M:%SZ') AS last_ts
              FROM enforced ORDER BY account_id, action, verdict)
        TO '{path}' (HEADER, DELIMITER ',')
    """)
    os.replace(partial, out / "enforcement.csv")
    enforced = dict(
        con.execute("SELECT action, sum(requests) FROM enforced GROUP BY 1 ORDER BY 1").fetchall()
    )
    verdicts = dict(con.execute("SELECT verdict, count(*) FROM results GROUP BY 1").fetchall())
    events = run.events(con)
    result = ScanResult(
        out=out,
        accounts=sum(verdicts.values()),
        events=events,
        verdicts={v: verdicts.get(v, 0) for v in ("clear", "watch", "challenge", "block")},
        campaigns=campaigns,
        seconds=seconds,
        model_set_aside=aside,
    )
    manifest = {
        "store": store_path,
        "engine": run.name,
        "until": until.isoformat() if until else None,
        "replay_step_hours": replay.total_seconds() / 3600 if replay else None,
        "events": events,
        "accounts": result.accounts,
        "verdicts": result.verdicts,
        "campaigns": len(campaigns),
        "enforced": {str(a): int(n) for a, n in enforced.items()},  # requests per gateway action
        "config": msgspec.to_builtins(cfg),
        "model": _model_summary(model, aside),
        "seconds": seconds,
    }
    began = time.perf_counter()
    from distillguard.scan.report import write_report  # matplotlib: seconds to import

    write_report(con, out / "report.html", campaigns, manifest)
    seconds["report"] = round(time.perf_counter() - began, 3)
    if on_stage:
        on_stage("report")
    (out / "manifest.json").write_bytes(msgspec.json.format(msgspec.json.encode(manifest)))
    return result


def _model_summary(model: Learned | None, aside: str) -> dict[str, Any] | None:
    """What the manifest says of a learned model: which, and whether it judged anyone."""
    if model is None:
        return None
    said: dict[str, Any] = {k: model.meta[k] for k in ("made", "source", "labels", "sha256")}
    return {**said, "applied": not aside, "set_aside": aside or None}
