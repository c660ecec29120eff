"""Campaigns: risky clusters with their accounts, indicators, tactics and evidence."""

from distillguard.campaigns.assemble import assemble_campaigns, campaign_members
from distillguard.campaigns.evidence import evidence_stage

__all__ = ["assemble_campaigns", "campaign_members", "evidence_stage"]
