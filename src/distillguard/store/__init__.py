"""The embedded store (DuckDB): tables of events and accounts that every stage queries."""

from distillguard.store.database import DEFAULT_STORE, Retention, Store, StoreError, StoreSummary

__all__ = ["DEFAULT_STORE", "Retention", "Store", "StoreError", "StoreSummary"]
