"""xueji's stages inside Spark: each partition's rows go to `xueji worker STAGE` as an Arrow
IPC file and come back as one, cast to the schema Spark was promised. Every record-level
decision is xueji's own Rust code; Spark only moves rows between the stages.
"""

import io
import json
import os
import subprocess
import sys

import pyarrow as pa
from pyspark import SparkFiles
from pyspark.sql import SparkSession
from pyspark.sql.pandas.types import from_arrow_schema, to_arrow_schema
from pyspark.sql.types import IntegerType, LongType, StringType, StructField, StructType


def schema(*fields):
    return StructType([StructField(name, kind) for name, kind in fields])


INT, BIGINT, TEXT = IntegerType(), LongType(), StringType()
# Rows of a batch handed back to Spark.
BATCH_ROWS = 65_536


def default_xueji():
    """The release binary of the checkout this file is in."""
    here = os.path.dirname(os.path.abspath(__file__))
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(here, "..", "target"))
    return os.path.join(target, "release", "xueji")


def settings(xueji, path=None):
    """xueji's dedupe settings, the defaults filled in (`xueji worker settings`)."""
    args = [xueji, "worker", "settings"] + (["--settings", path] if path else [])
    return json.loads(subprocess.run(args, capture_output=True, check=True).stdout)


def session(master, app):
    # On one host (local, local-cluster) executors bind to loopback and run this Python, which
    # has pyarrow; a real cluster sets both itself.
    if master.startswith("local"):
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    spark = (
        SparkSession.builder.master(master)
        .appName(app)
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "8")
        .getOrCreate()
    )
    # The stage functions below run in the executors' Python workers too.
    spark.sparkContext.addPyFile(os.path.abspath(__file__))
    return spark


def shipped(path):
    """A file the driver wrote, where the task runs: itself on one host, else the copy
    `SparkContext.addFile` shipped."""
    return path if os.path.exists(path) else SparkFiles.get(os.path.basename(path))


def read_arrow(data):
    """A table from an Arrow IPC file's bytes."""
    return pa.ipc.open_file(pa.BufferReader(data)).read_all()


def write_arrow(table, path):
    with pa.ipc.new_file(path, table.schema) as writer:
        writer.write_table(table)


class Shipped(str):
    """An option's value that is a file the driver wrote and shipped with `addFile`."""


def arguments(xueji, stage, options):
    """The command line of `xueji worker STAGE OPTIONS` where the task runs."""
    return [shipped(xueji), "worker", stage] + [shipped(o) if isinstance(o, Shipped) else o for o in options]


def worker_output(args, table=None):
    """The standard output of `xueji worker` (`args`), given `table` as an Arrow IPC file on
    its standard input (or nothing)."""
    data = b""
    if table is not None:
        sink = io.BytesIO()
        with pa.ipc.new_file(sink, table.schema) as writer:
            writer.write_table(table)
        data = sink.getvalue()
    done = subprocess.run(args, input=data, capture_output=True)
    if done.returncode != 0:
        raise RuntimeError(f"xueji worker {args[2]}: {done.stderr.decode(errors='replace')}")
    return done.stdout


def run_worker(args, table):
    """`xueji worker` with `table` as its Arrow input: its output table."""
    return read_arrow(worker_output(args, table))


def worker(xueji, stage, schema, options=()):
    """A `mapInArrow` function: each partition's batches through `xueji worker STAGE`."""
    target = to_arrow_schema(schema)

    def run(batches):
        batches = list(batches)
        if not batches:
            return
        out = run_worker(arguments(xueji, stage, options), pa.Table.from_batches(batches))
        # In batches the executor's off-heap memory takes (a sheet of 3M records is 1.5 GB).
        yield from out.select(target.names).cast(target).to_batches(max_chunksize=BATCH_ROWS)

    return run


def schema_of(xueji, stage, given, options=()):
    """The Spark schema of what `xueji worker STAGE` makes of rows of the Spark schema `given`:
    what it answers to none of them."""
    empty = to_arrow_schema(given).empty_table()
    return from_arrow_schema(run_worker([xueji, "worker", stage] + list(options), empty).schema)
