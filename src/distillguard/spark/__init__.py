"""The Spark engine: the event-level stages on Spark, from the same code and the same SQL.

For logs that outgrow one machine: ``distillguard scan LOGS --engine spark`` reads and
validates the logs and computes every request's signals in Spark tasks (the ingest code itself,
run by ``mapInArrow``: read.py), then runs the fingerprint, link and evidence stages as Spark
SQL transpiled from the embedded engine's DuckDB SQL (sql.py). What those stages leave is
account-sized; it comes back to the driver, where clusters, verdicts, campaigns and the results
files are the embedded engine's own code (engine.py). docs/spark.md says how to run it on a
cluster. pyspark is an extra (``distillguard[spark]``); nothing here is imported otherwise.
"""
