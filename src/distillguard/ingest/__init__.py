"""Ingestion: log files → validated, normalised rows in the store; bad records → quarantine."""

from distillguard.ingest.run import IngestOptions, IngestReport, ingest
from distillguard.ingest.sources import SourceError
from distillguard.ingest.validate import Validator

__all__ = ["IngestOptions", "IngestReport", "SourceError", "Validator", "ingest"]
