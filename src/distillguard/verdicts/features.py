"""The account and cluster evidence a learned model reads: one row per account, as numbers.

Every column is what the scan already computed (``fp``, ``members``, ``cl``, ``risk`` temp
tables): an account's own traffic, the facts it carries of its group, its group's evidence, and
the rules' risk. Unknown is NULL (an account in no cluster, no sign-up record), never 0: the
model tells "not known" from "no". The scan writes these rows to ``OUT/features.parquet``, so
that ``distillguard learn`` trains on the evidence the analysts saw when they decided.

>>> len(FEATURES), FEATURES[0], words("template_share")
(46, 'risk', 'template share')
"""

from __future__ import annotations

from pathlib import Path

import duckdb

# (table alias, column): r = risk, f = fp (own traffic), m = members (facts about it in its
# group), c = cl (its group's evidence). Booleans become 0/1.
_COLUMNS = {
    alias: tuple(cols.split())
    for alias, cols in {
        "r": "risk cluster_risk member_risk solo_risk own_gate fit",
        "f": "requests active_days ips elicit_rate meaning_rate single_turn_share mean_turns "
        "capability_share ip_switch_rate hour_entropy out_in_ratio template_share "
        "near_dup_rate age_hours release_share has_org has_record",
        "m": "own_content own_repetition own_flat own_use in_burst is_young pays_shared "
        "rotates pooled walks partner",
        "c": "accounts coordination harvest content repetition flat release_pivot "
        "shared_payment undeclared unverified appeared curriculum",
    }.items()
}
# Group columns are prefixed: the group's repetition is not the account's own.
FEATURES = tuple(
    f"cluster_{col}" if alias == "c" else col for alias, cols in _COLUMNS.items() for col in cols
)
_SQL = ",\n       ".join(
    f"{alias}.{col}::DOUBLE AS {'cluster_' + col if alias == 'c' else col}"
    for alias, cols in _COLUMNS.items()
    for col in cols
)


def words(feature: str) -> str:
    """A feature's name as a reason says it."""
    return feature.replace("cluster_", "the group's ").replace("_", " ")


def features(con: duckdb.DuckDBPyConnection) -> None:
    """Temp table ``features``: account_id, then FEATURES, for every account the scan scored."""
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE features AS
        SELECT r.account_id,
       {_SQL}
        FROM risk r JOIN fp f USING (account_id)
        LEFT JOIN members m USING (account_id)
        LEFT JOIN cl c ON c.cluster_id = r.cluster_id
    """)


def write(con: duckdb.DuckDBPyConnection, out: Path) -> Path:
    """``OUT/features.parquet`` from the ``features`` table (written aside, then renamed)."""
    path = out / "features.parquet"
    partial = out / "features.parquet.partial"
    quoted = partial.as_posix().replace("'", "''")
    con.execute(f"COPY (SELECT * FROM features ORDER BY account_id) TO '{quoted}' (FORMAT PARQUET)")
    partial.replace(path)
    return path
