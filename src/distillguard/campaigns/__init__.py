"""Campaigns: risky clusters with their accounts, indicators, tactics and evidence."""

from distillguard.campaigns.assemble import assemble_campaigns

__all__ = ["assemble_campaigns"]
