"""A Spark session for a scan: local with every core unless told otherwise."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

from distillguard.store.database import physical_memory

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


class SparkUnavailable(RuntimeError):
    """pyspark or Java is missing; the message says how to install it."""


def check() -> None:
    """Raise ``SparkUnavailable`` with an install hint when the engine cannot start here."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        raise SparkUnavailable(
            "the Spark engine needs pyspark: pip install 'distillguard[spark]' "
            "(or, in a checkout, uv sync --extra spark)"
        ) from None
    if "PYSPARK_GATEWAY_PORT" in os.environ:  # spark-submit or a notebook: a JVM is running
        return
    home = os.environ.get("JAVA_HOME")
    java = os.path.join(home, "bin", "java") if home else shutil.which("java")
    hint = "Debian/Ubuntu: apt-get install openjdk-17-jre-headless"
    if not java or not os.path.exists(java):
        raise SparkUnavailable(
            f"the Spark engine needs Java 17 or later ({hint}), on PATH or in JAVA_HOME"
        )
    major = java_major(java)
    if major is not None and major < 17:
        raise SparkUnavailable(
            f"the Spark engine needs Java 17 or later; {java} is Java {major} ({hint})"
        )


def java_major(java: str) -> int | None:
    """The major version ``java -version`` reports (8 for ``1.8.0``); None when unreadable."""
    try:
        done = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    found = re.search(r'version "(\d+)(?:\.(\d+))?', done.stderr + done.stdout)
    if not found:
        return None
    first = int(found[1])
    return int(found[2] or 0) if first == 1 else first


def _local_memory_gb() -> int:
    return max(2, min(16, physical_memory() // 4 // 2**30))


def _defaults_master() -> bool:
    """Whether spark-defaults.conf (where Spark would read it) sets a master."""
    return _defaults_set("spark.master")


def _defaults_set(key: str) -> bool:
    """Whether spark-defaults.conf (where Spark would read it) sets ``key``."""
    conf = os.environ.get("SPARK_CONF_DIR") or os.path.join(
        os.environ.get("SPARK_HOME", ""), "conf"
    )
    try:
        with open(os.path.join(conf, "spark-defaults.conf"), encoding="utf-8") as f:
            return any(line.split()[:1] == [key] for line in f)
    except OSError:
        return False


def start(master: str | None = None, *, app: str = "distillguard scan") -> SparkSession:
    """The active session, or a new one.

    ``master``: a Spark master URL (``local[4]``, ``spark://host:7077``, ``yarn``...). Without
    it, a master set the usual way (``spark-submit --master``, ``spark-defaults.conf``) is
    used, else ``local[*]``: this machine, every core.
    """
    check()
    # pyspark 4.3 warns at each pandas import under pandas 3; the engine only hands Arrow batches.
    warnings.filterwarnings("ignore", "PySpark does not yet fully support pandas", FutureWarning)
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName(app)
    if master:
        builder = builder.master(master)
    # Without one, Spark takes spark-submit's --master or spark-defaults.conf, else local[*].
    launching = "PYSPARK_GATEWAY_PORT" not in os.environ  # not under spark-submit or a notebook
    local = master.startswith("local") if master else not _defaults_master()
    if launching and local:
        # Local tasks run this interpreter, so they import this same distillguard.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    if launching and local and not _defaults_set("spark.driver.memory"):
        # In local mode the driver is the executor too; Spark's 1 GB runs out at a million
        # events. A quarter of this machine's memory, 2 to 16 GB.
        builder = builder.config("spark.driver.memory", f"{_local_memory_gb()}g")
    if launching:  # Spark's start-up chatter off; a log4j2 file set the usual way still wins
        quiet = Path(__file__).with_name("log4j2.properties").as_uri()
        os.environ.setdefault("LOG4J_CONFIGURATION_FILE", quiet)
    spark = (
        builder.config("spark.sql.session.timeZone", "UTC")  # days and hours are UTC, as in DuckDB
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.ui.showConsoleProgress", "false")  # the scan draws its own progress
        .getOrCreate()
    )
    context = spark.sparkContext
    if (context.master or "").startswith("local") and not context.getConf().contains(
        "spark.sql.shuffle.partitions"
    ):
        # 200 shuffle partitions suit a cluster; on one machine each is a task for tables of a
        # few thousand accounts. A value set the usual way wins.
        spark.conf.set("spark.sql.shuffle.partitions", str(2 * context.defaultParallelism))
    spark.sparkContext.setLogLevel("ERROR")
    return spark
