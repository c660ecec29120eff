"""The indicators of flagged campaigns, by kind and value, from a scan's ``campaigns.json``.

>>> import json, tempfile, pathlib
>>> with tempfile.TemporaryDirectory() as d:
...     _ = (pathlib.Path(d) / "campaigns.json").write_text(json.dumps([{
...         "campaign_id": "K1", "confidence": 0.9, "accounts": ["a", "b"],
...         "indicators": {"payment": [{"value": "pm-1", "campaign_accounts": 6,
...                                     "all_accounts": 6}]}}]))
...     index = CampaignIndex.load(pathlib.Path(d))
>>> index.find("payment", "pm-1")
[Hit(campaign='K1', confidence=0.9, kind='payment', value='pm-1', share=1.0, accounts=6)]
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from distillguard.verdicts.config import ConfigError

# What a sign-up record can be matched on: its field, and the indicator kind it meets.
KINDS = ("payment", "email", "ip", "prefix", "client", "tls")


@dataclass(frozen=True, slots=True)
class Hit:
    campaign: str
    confidence: float
    kind: str
    value: str
    share: float  # of the accounts holding the value, the campaign's
    accounts: int  # campaign accounts holding it


class CampaignIndex:
    """Indicator values to the campaigns that hold them; reloaded when the file changes."""

    def __init__(self, hits: dict[tuple[str, str], list[Hit]], stamp: object = None) -> None:
        self.hits, self.stamp = hits, stamp

    @classmethod
    def load(cls, results: Path | None) -> CampaignIndex:
        if results is None:
            return cls({})
        path = results / "campaigns.json"
        try:
            stamp = os.stat(path).st_mtime_ns
            campaigns = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return cls({})
        except (OSError, ValueError) as exc:
            raise ConfigError(f"{path}: cannot be read ({exc})") from None
        hits: dict[tuple[str, str], list[Hit]] = {}
        for c in campaigns if isinstance(campaigns, list) else []:
            for kind, values in (c.get("indicators") or {}).items():
                if kind not in KINDS:
                    continue
                for v in values:
                    share = v["campaign_accounts"] / max(1, v.get("all_accounts") or 1)
                    hit = Hit(
                        str(c["campaign_id"]),
                        float(c.get("confidence", 0.0)),
                        kind,
                        str(v["value"]),
                        round(min(1.0, share), 3),
                        int(v["campaign_accounts"]),
                    )
                    hits.setdefault((kind, hit.value.lower()), []).append(hit)
        return cls(hits, stamp)

    def find(self, kind: str, value: str | None) -> list[Hit]:
        return self.hits.get((kind, value.lower()), []) if value else []
