"""Account fingerprints: per-account features over the store, computed in SQL."""

from distillguard.fingerprints.account import FEATURES, build_fingerprints

__all__ = ["FEATURES", "build_fingerprints"]
