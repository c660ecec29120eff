"""The batch scan: store → fingerprints → coordination → verdicts → campaigns → results."""

from distillguard.scan.run import ScanResult, scan

__all__ = ["ScanResult", "scan"]
