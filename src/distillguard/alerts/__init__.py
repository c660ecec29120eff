"""Alerts: campaigns that are new, or have grown, since the previous scan, sent to webhooks."""
