"""The inline gateway: enforce verdicts in front of a model server, and log what it saw."""
