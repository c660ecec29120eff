"""Log contract v1: what the provider knows about an account at sign-up and since."""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta

from distillguard.contract.event import Id, UtcTime

KNOWN_TIERS = ("free", "pro", "edu", "research", "startup", "enterprise")


class Account(msgspec.Struct, kw_only=True, omit_defaults=True):
    """One account. Only ``account_id`` is required; other fields sharpen detection.

    ``tier`` is free text (stored lower-cased); the known values are
    free, pro, edu, research, startup and enterprise.

    >>> import msgspec
    >>> msgspec.json.decode(b'{"account_id": "acct_1", "tier": "edu"}', type=Account).tier
    'edu'
    """

    account_id: Id
    created_at: UtcTime | None = None
    tier: Annotated[
        str | None, Meta(description="free, pro, edu, research, startup, enterprise, or others.")
    ] = None
    email_domain: str | None = None
    payment_fingerprint: Annotated[
        str | None, Meta(description="Opaque, stable identifier of the payment method.")
    ] = None
    country: Annotated[str | None, Meta(description="ISO 3166-1 alpha-2 country code.")] = None
    verified: bool | None = None
    org_id: str | None = None


ACCOUNT_FIELDS = frozenset(Account.__struct_fields__)
