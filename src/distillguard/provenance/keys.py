"""Watermark keys and their green lists.

A key file holds one secret and the key ids derived from it (one per cluster or campaign the
watermark was served to); a key's green list after a context is a pseudo-random ``gamma`` share
of the vocabulary, from a keyed 64-bit mix of the context's last ``context`` tokens.

>>> key = derive(b"secret", "c7")
>>> mask = green_mask(key, [17], vocab=100_000)
>>> round(float(mask.mean()), 2), bool(mask[3] == greens(key, [[17]], [3])[0])
(0.25, True)
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike, NDArray

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1, _M2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)


@dataclass(frozen=True, slots=True)
class WatermarkKey:
    key_id: str
    seed: int  # 64 bits from the secret and the key id
    gamma: float = 0.25  # share of the vocabulary that is green
    delta: float = 2.0  # logit bias added to green tokens
    context: int = 1  # tokens before the one sampled that pick its green list


def derive(
    secret: bytes, key_id: str, gamma: float = 0.25, delta: float = 2.0, context: int = 1
) -> WatermarkKey:
    digest = hmac.new(secret, key_id.encode(), hashlib.sha256).digest()
    return WatermarkKey(key_id, int.from_bytes(digest[:8], "little"), gamma, delta, context)


def _mix(x: NDArray[np.uint64]) -> NDArray[np.uint64]:
    """splitmix64's finaliser: every input bit moves every output bit."""
    with np.errstate(over="ignore"):
        x = (x ^ (x >> np.uint64(30))) * _M1
        x = (x ^ (x >> np.uint64(27))) * _M2
    return x ^ (x >> np.uint64(31))


def _seeds(key: WatermarkKey, contexts: NDArray[np.uint64]) -> NDArray[np.uint64]:
    h = np.full(len(contexts), key.seed, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j in range(contexts.shape[1]):
            h = _mix(h ^ ((contexts[:, j] + np.uint64(1)) * _GOLDEN))
    return h


def _threshold(key: WatermarkKey) -> np.uint64:
    return np.uint64(min(int(key.gamma * 2.0**64), 2**64 - 1))


def greens(key: WatermarkKey, contexts: ArrayLike, tokens: ArrayLike) -> NDArray[np.bool_]:
    """Whether each token is green after its context (rows of ``key.context`` token ids)."""
    ctx = np.asarray(contexts, dtype=np.uint64).reshape(-1, key.context)
    tok = np.asarray(tokens, dtype=np.uint64)
    with np.errstate(over="ignore"):
        mixed = _mix(_seeds(key, ctx) ^ (tok * _GOLDEN))
    return mixed < _threshold(key)


def green_mask(key: WatermarkKey, context: Sequence[int], vocab: int) -> NDArray[np.bool_]:
    """The green list after ``context`` (its last ``key.context`` tokens) over the vocabulary."""
    ctx = np.asarray(list(context)[-key.context :], dtype=np.uint64).reshape(1, key.context)
    seed = _seeds(key, ctx)[0]
    with np.errstate(over="ignore"):
        mixed = _mix(seed ^ (np.arange(vocab, dtype=np.uint64) * _GOLDEN))
    return mixed < _threshold(key)


def new_key_file(
    path: Path, key_ids: Sequence[str], gamma: float = 0.25, delta: float = 2.0, context: int = 1
) -> None:
    """Write a key file with a fresh secret; keep it as secret as an API signing key."""
    data = {
        "version": 1,
        "secret": secrets.token_hex(32),
        "gamma": gamma,
        "delta": delta,
        "context": context,
        "keys": list(key_ids),
    }
    path.write_text(json.dumps(data, indent=1), encoding="utf-8")
    path.chmod(0o600)


def load_keys(path: Path, key_ids: Sequence[str] = ()) -> list[WatermarkKey]:
    """The keys of a key file (or those of ``key_ids`` under its secret: any key id the
    gateway logged, e.g. a cluster's); ConfigError naming the file and field when it is not
    one."""
    # Here, not at the top: a model server imports this module with numpy and nothing else.
    from distillguard.verdicts.config import ConfigError

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        secret = bytes.fromhex(data["secret"])
        gamma, delta, context = float(data["gamma"]), float(data["delta"]), int(data["context"])
        ids = [str(k) for k in data["keys"]]
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the key file ({exc.strerror})") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigError(
            f"{path}: not a watermark key file ({type(exc).__name__}: {exc})"
        ) from None
    if not 0 < gamma < 1 or context < 1 or not ids:
        raise ConfigError(f"{path}: gamma must be in (0, 1), context >= 1, and keys not empty")
    return [derive(secret, k, gamma, delta, context) for k in (key_ids or ids)]
