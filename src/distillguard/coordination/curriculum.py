"""Curriculum links: accounts that move through the same subjects on the same days.

A farm building a training set covers a task distribution subject by subject, and a hydra
spreads each subject over all its accounts at once: on a given day its accounts ask about one
subject (the per-request ``topic``, ``signals/topic.py``), the next day another, however each
request is worded and whatever addresses and cards they use. Three tests keep ordinary
traffic out:

- *focus*: the subject is at least ``FOCUS_SHARE`` of the account's requests that day (and
  ``FOCUS_MIN`` of them), so one question about it is not a focus;
- *burst*: its share of the day's focus is ``LIFT`` times its usual share (the median over the
  window's days), so a subject that is always popular (the thousands of users of one coding
  agent, every day) is no curriculum, and a farm's own days do not raise the bar;
- *sequence*: the account shows bursts on at least ``MIN_DAYS`` days; one coincidence (a user
  who asked about probability the day a farm did) is not a curriculum.

Each (day, subject) that passes is an indicator, named ``DAY:TOPIC (words)`` with the topic's
characteristic words so an analyst sees what was asked about, and weighted by how many
accounts share it like every other link (``links.py``). A class walking its syllabus passes
too: that is why links are group evidence, and an account is acted on for its own traffic
first (``verdicts/score.py``).
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

from distillguard.signals.topic import Topics
from distillguard.store.sql import Stage, Table

FOCUS_SHARE = 0.25
FOCUS_MIN = 3
LIFT = 1.5
MIN_DAYS = 2
MIN_ACCOUNTS = 3  # a subject that bursts on fewer accounts than a cluster holds is no curriculum


def build_curriculum(con: duckdb.DuckDBPyConnection) -> None:
    """Create temp table ``curriculum(account_id, kind, value)`` from ``ev`` (its ``topic``)."""
    curriculum_stage().run(con)


def curriculum_stage() -> Stage:
    """The stage that builds ``curriculum``, with each topic's words as its input."""
    words = Topics.default().words
    topic_words = pa.table({"topic": pa.array(range(len(words)), pa.int16()), "words": words})
    return Stage((Table("curriculum", _SQL),), {"topic_words": topic_words})


_SQL = f"""
        WITH ad AS (
            SELECT account_id, date_trunc('day', ts) AS d, topic, count(*) AS n FROM ev
            WHERE topic IS NOT NULL GROUP BY ALL
        ),
        focus AS (
            SELECT account_id, d, topic FROM (
                SELECT *, sum(n) OVER (PARTITION BY account_id, d) AS total FROM ad
            ) WHERE n >= {FOCUS_MIN} AND n >= {FOCUS_SHARE} * total
        ),
        per_day AS (SELECT d, count(*) AS f FROM focus GROUP BY d),
        daily AS (
            SELECT d, topic, count(*) AS k, count(*) / any_value(f) AS s
            FROM focus JOIN per_day USING (d) GROUP BY d, topic
        ),
        -- A subject's usual share of the day's focus: its median over the window's days
        -- (days without it count as 0), so the farm's own days do not set the bar.
        usual AS (
            SELECT t.topic, median(coalesce(daily.s, 0)) AS s
            FROM (SELECT DISTINCT topic FROM focus) t CROSS JOIN per_day p
            LEFT JOIN daily ON daily.topic = t.topic AND daily.d = p.d GROUP BY t.topic
        ),
        burst AS (
            SELECT d, topic FROM daily JOIN usual u USING (topic)
            WHERE k >= {MIN_ACCOUNTS} AND daily.s >= {LIFT} * u.s
        ),
        hit AS (SELECT account_id, d, topic FROM focus JOIN burst USING (d, topic))
        SELECT account_id, 'curriculum' AS kind,
               strftime(d, '%Y-%m-%d') || ':' || topic::VARCHAR
               || coalesce(' (' || nullif(w.words, '') || ')', '') AS value
        FROM hit LEFT JOIN topic_words w USING (topic)
        WHERE account_id IN (
            SELECT account_id FROM hit GROUP BY account_id
            HAVING count(DISTINCT d) >= {MIN_DAYS}
        )
"""
