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
from pyspark.sql.pandas.types import to_arrow_schema
from pyspark.sql.types import BooleanType, IntegerType, LongType, StringType, StructField, StructType


def schema(*fields):
    return StructType([StructField(name, kind) for name, kind in fields])


INT, BIGINT, BOOL, TEXT = IntegerType(), LongType(), BooleanType(), StringType()
KEYS = schema(("rule", INT), ("pass", INT), ("key", BIGINT), ("record", BIGINT), ("probe", BOOL), ("number", TEXT))
PROBE_KEYS = schema(("rule", INT), ("pass", INT), ("key", BIGINT))
PAIRS = schema(("rule", INT), ("a", BIGINT), ("b", BIGINT), ("size", INT), ("skipped", BOOL))


def default_xueji():
    """The release binary of the checkout this file is in."""
    here = os.path.dirname(os.path.abspath(__file__))
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(here, "..", "target"))
    return os.path.join(target, "release", "xueji")


def columns(xueji):
    """The record columns each stage reads, by stage (`xueji worker columns`)."""
    return json.loads(subprocess.run([xueji, "worker", "columns"], capture_output=True, check=True).stdout)


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


def write_arrow(table, path):
    with pa.ipc.new_file(path, table.schema) as writer:
        writer.write_table(table)


def worker(xueji, stage, schema, settings=None, probe_keys=None):
    """A `mapInArrow` function: each partition's batches through `xueji worker STAGE`."""
    target = to_arrow_schema(schema)

    def run(batches):
        batches = list(batches)
        if not batches:
            return
        table = pa.Table.from_batches(batches)
        sink = io.BytesIO()
        with pa.ipc.new_file(sink, table.schema) as writer:
            writer.write_table(table)
        args = [shipped(xueji), "worker", stage]
        if settings:
            args += ["--settings", shipped(settings)]
        if probe_keys:
            args += ["--probe-keys", shipped(probe_keys)]
        done = subprocess.run(args, input=sink.getvalue(), capture_output=True)
        if done.returncode != 0:
            raise RuntimeError(f"xueji worker {stage}: {done.stderr.decode(errors='replace')}")
        out = pa.ipc.open_file(pa.BufferReader(done.stdout)).read_all()
        yield from out.select(target.names).cast(target).to_batches()

    return run


def with_record_index(df):
    """Each row's position in the input, as xueji numbers records: per-partition counts first,
    then each partition numbers its rows from the rows before it."""
    spark = df.sparkSession
    counted = schema(("partition", INT), ("rows", BIGINT))

    def count(batches):
        from pyspark import TaskContext

        rows = sum(b.num_rows for b in batches)
        yield pa.RecordBatch.from_pydict(
            {"partition": [TaskContext.get().partitionId()], "rows": [rows]},
            schema=to_arrow_schema(counted),
        )

    counts = dict(df.mapInArrow(count, counted).collect())
    offsets, total = {}, 0
    for p in sorted(counts):
        offsets[p] = total
        total += counts[p]
    offsets = spark.sparkContext.broadcast(offsets)
    indexed = StructType(df.schema.fields + [StructField("record", BIGINT)])
    target = to_arrow_schema(indexed)

    def number(batches):
        from pyspark import TaskContext

        start = offsets.value[TaskContext.get().partitionId()]
        for batch in batches:
            index = pa.array(range(start, start + batch.num_rows), pa.int64())
            start += batch.num_rows
            yield pa.RecordBatch.from_arrays(batch.columns + [index], schema=target)

    return df.mapInArrow(number, indexed)
