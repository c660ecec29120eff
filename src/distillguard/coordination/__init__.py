"""Coordination: accounts linked by what they share, weighed by rarity, clustered."""

from distillguard.coordination.cluster import cluster_accounts
from distillguard.coordination.links import LINK_WEIGHTS, build_links

__all__ = ["LINK_WEIGHTS", "build_links", "cluster_accounts"]
