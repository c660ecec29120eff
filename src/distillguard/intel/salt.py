"""The partnership's salt, and customer values as digests under it (docs/intel.md): what a
provider shares of a payment method, an e-mail domain or an account, and how a peer matches
it without seeing the value. Small on purpose: the gateway's sign-up check imports it."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path


def load_salt(path: Path) -> bytes:
    """The partnership's secret: the file's bytes, stripped; ValueError saying why not."""
    try:
        salt = path.read_bytes().strip()
    except OSError as exc:
        raise ValueError(f"{path}: cannot read the salt ({exc.strerror})") from None
    if len(salt) < 16:
        raise ValueError(f"{path}: a salt needs at least 16 bytes; it has {len(salt)}")
    return salt


def salted(salt: bytes, value: str) -> str:
    """HMAC-SHA256 of a customer value with the partnership's salt, as hex.

    >>> salted(b"k", "pm_1")[:16]
    'b4e5039d25c4b210'
    """
    return hmac.new(salt, value.encode(), hashlib.sha256).hexdigest()
