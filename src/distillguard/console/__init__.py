"""The analyst console (`distillguard console`): see a campaign, understand why, act on it."""
