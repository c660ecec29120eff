"""Who is asking: the account of a request, from a trusted header or the API key.

The provider's auth layer usually sits in front and names the account in a header. Without
one, a key map (``{"api key": "account id"}``) names it; a key not in the map is an account of
its own, named by a digest of the key, never by the key itself.

>>> who = Identity("x-distillguard-account", {"sk-1": "acct_1"})
>>> who.account({"authorization": "Bearer sk-1"}), who.account({"x-api-key": "sk-2"})[:4]
('acct_1', 'key:')
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from distillguard.contract.digest import digest64
from distillguard.verdicts.config import ConfigError


class Identity:
    def __init__(self, header: str | None, keys: Mapping[str, str] | None = None) -> None:
        self.header = header.lower() if header else None
        self.keys = dict(keys or {})

    @classmethod
    def from_config(cls, header: str | None, keys_file: str | None) -> Identity:
        if not keys_file:
            return cls(header)
        try:
            keys = json.loads(Path(keys_file).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"{keys_file}: cannot read the API key map ({exc})") from None
        if not isinstance(keys, dict):
            raise ConfigError(f"{keys_file}: the API key map must be a JSON object")
        return cls(header, {str(k): str(v) for k, v in keys.items()})

    def credential_headers(self) -> frozenset[str]:
        """Headers that say who is asking: each may be sent once."""
        names = {"authorization", "x-api-key"}
        return frozenset(names | {self.header} if self.header else names)

    def ambiguous(self, headers: Mapping[str, str], repeated: set[str]) -> str | None:
        """Why a request's credentials name no single account, or None. A model server that
        reads another header than this gateway would bill one key while a fresh one is judged.

        >>> who = Identity(None)
        >>> who.ambiguous({"x-api-key": "sk-1", "authorization": "Bearer sk-2"}, set())
        'x-api-key and authorization name different keys'
        >>> who.ambiguous({"authorization": "Bearer sk-1"}, {"authorization"})
        'authorization sent more than once'
        """
        if repeated:
            return f"{', '.join(sorted(repeated))} sent more than once"
        key, auth = headers.get("x-api-key"), headers.get("authorization", "")
        bearer = auth[7:].strip() if auth[:7].lower() == "bearer " else None
        if key and bearer and key != bearer:
            return "x-api-key and authorization name different keys"
        return None

    def api_key(self, headers: Mapping[str, str]) -> str | None:
        if key := headers.get("x-api-key"):
            return key
        auth = headers.get("authorization", "")
        return auth[7:].strip() if auth[:7].lower() == "bearer " else None

    def account(self, headers: Mapping[str, str]) -> str:
        if self.header and (named := headers.get(self.header)):
            return named
        key = self.api_key(headers)
        if key is None:
            return "anonymous"
        return self.keys.get(key) or f"key:{digest64(key):016x}"

    def key_id(self, headers: Mapping[str, str]) -> str | None:
        key = self.api_key(headers)
        return f"key:{digest64(key):016x}" if key else None
