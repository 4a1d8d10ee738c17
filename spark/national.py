"""National duplicate check (全国学籍查重) on Spark: `xueji dedupe` of a population too large for one
machine. Every record-level step is xueji's own Rust code (`xueji worker STAGE`, run inside the
executors); Spark moves rows between the steps, and the driver fits the model and clusters
from sums, as one machine does.

    PY spark/national.py INPUT... --out DIR [--master URL] [--partitions N] [--xueji PATH]
        [--settings FILE.json] [--threshold P] [--id-column C] [--encoding E] [--sheet S]...
        [--map HEADER=FIELD]... [--as-of YYYY-MM-DD] [--max-driver-matches N]

INPUT: files or folders, as for `xueji dedupe` (each executor reads the files it is given: on a
real cluster they lie on storage every node sees). Writes into DIR what `xueji dedupe` writes
(duplicate_pairs.parquet/.csv, clusters.parquet/.csv, id_conflicts.csv, model.json,
dedupe_summary.json) and the problem records of `xueji check` (problems.parquet/.csv): the same
as one machine's on the same files.
"""

import argparse
import datetime
import json
import os
import re
import shutil
import sys
import time

import pyarrow as pa
import pyarrow.compute as pc
from pyspark import StorageLevel
from pyspark.sql import functions as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import xueji_spark  # noqa: E402
from xueji_spark import BIGINT, INT, TEXT, Shipped, schema  # noqa: E402

FILES = schema(("file", INT), ("path", TEXT))
# What the job keeps between its steps (records, blocks, levels, scores) lies on the executors'
# disks: in their heap it would take the memory the steps need (1 GB executors ran out at 10M).
STORED = StorageLevel.DISK_ONLY
PAIRS = schema(("a", BIGINT), ("b", BIGINT))


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("inputs", nargs="+", metavar="INPUT")
    parser.add_argument("--out", required=True)
    parser.add_argument("--master", default="local[*]")
    parser.add_argument("--partitions", type=int, default=8, help="partitions of each shuffle")
    parser.add_argument("--xueji", default=xueji_spark.default_xueji())
    parser.add_argument("--settings", help="xueji dedupe --settings: rules, max_block_size, threshold, ...")
    parser.add_argument("--threshold", type=float, help="as xueji dedupe --threshold (overrides the settings)")
    parser.add_argument("--id-column")
    parser.add_argument("--encoding")
    parser.add_argument("--sheet", action="append", default=[])
    parser.add_argument("--map", action="append", default=[], metavar="HEADER=FIELD")
    parser.add_argument("--as-of", default=datetime.date.today().isoformat(), help="default: today, fixed once")
    parser.add_argument(
        "--max-driver-matches",
        type=int,
        default=100_000_000,
        help="matches the driver clusters with union-find (4 bytes a record, about 24 a match)",
    )
    return parser.parse_args()


class Job:
    """One national check: the Spark session, the binary, and the files the driver writes."""

    def __init__(self, args):
        self.args = args
        self.xueji = os.path.abspath(args.xueji)
        self.work = os.path.join(os.path.abspath(args.out), ".national")
        shutil.rmtree(self.work, ignore_errors=True)
        os.makedirs(self.work)
        self.spark = xueji_spark.session(args.master, "xueji national check")
        self.spark.conf.set("spark.sql.shuffle.partitions", str(args.partitions))
        self.spark.sparkContext.addFile(self.xueji)
        self.settings = self.driver_file("settings.json", self.settings_text().encode())
        self.read_options = ["--as-of", args.as_of]
        for name in ("id_column", "encoding"):
            if getattr(args, name):
                self.read_options += ["--" + name.replace("_", "-"), getattr(args, name)]
        for sheet in args.sheet:
            self.read_options += ["--sheet", sheet]
        for mapping in args.map:
            self.read_options += ["--map", mapping]

    def settings_text(self):
        settings = xueji_spark.settings(self.xueji, self.args.settings)
        if self.args.threshold is not None:
            settings["threshold"] = self.args.threshold
        return json.dumps(settings)

    def driver_file(self, name, data):
        """A file the driver wrote (bytes, or an Arrow table), shipped to every executor."""
        path = os.path.join(self.work, name)
        if isinstance(data, pa.Table):
            xueji_spark.write_arrow(data, path)
        else:
            with open(path, "wb") as f:
                f.write(data)
        self.spark.sparkContext.addFile(path)
        return Shipped(path)

    def local(self, stage, *options, table=None):
        """`xueji worker STAGE` on the driver: its standard output."""
        args = [self.xueji, "worker", stage, "--settings", self.settings] + [str(o) for o in options]
        return xueji_spark.worker_output(args, table)

    def arrow_file(self, name, table):
        path = os.path.join(self.work, name)
        xueji_spark.write_arrow(table, path)
        return path

    def through(self, df, stage, *options):
        """Each partition of `df` through `xueji worker STAGE`, typed as it answers."""
        options = list(options) + ["--settings", self.settings]
        given = xueji_spark.schema_of(self.xueji, stage, df.schema, [str(o) for o in options])
        return df.mapInArrow(xueji_spark.worker(self.xueji, stage, given, options), given)


def read_and_check(job):
    """The records of every file, numbered as xueji numbers them, normalized and checked; and
    the problems of check's report (exact duplicates included), in its order."""
    spark, args = job.spark, job.args
    listed = json.loads(job.local("files", *[os.path.abspath(i) for i in args.inputs]))
    if not listed["files"]:
        raise SystemExit("national: no sheets in " + " ".join(args.inputs))
    for again, first in listed["identical"]:
        print(f"national: {again} has the bytes of {first}: not read again", file=sys.stderr)
    for other in listed["skipped"]:
        print(f"national: not a sheet, not read: {other}", file=sys.stderr)
    files = spark.createDataFrame(list(enumerate(listed["files"])), FILES)
    files = files.repartition(min(len(listed["files"]), args.partitions), "file")
    # A file is one task's to read; its records are then spread over the partitions, so that
    # no later step's part is the size of the largest file.
    read = job.through(files, "read", *job.read_options).repartition(args.partitions)
    read = read.persist(STORED)

    # Records are numbered file after file, in the order xueji reads them.
    per_file = read.groupBy("file").agg(F.count("*").alias("n"), F.bit_or("columns").alias("columns"))
    per_file = {row["file"]: row for row in per_file.collect()}
    offsets, total, present = [], 0, 0
    for f in range(len(listed["files"])):
        row = per_file.get(f)
        offsets.append((f, total))
        total += row["n"] if row else 0
        present |= row["columns"] if row else 0
    fields = read.columns[read.columns.index("source_row") + 1 : read.columns.index("columns")]
    fields = [name for i, name in enumerate(fields) if present >> i & 1]
    if args.id_column:
        repeated = read.groupBy("record_id").count().where("count > 1").limit(1).collect()
        if repeated:
            raise SystemExit(f"national: record id {repeated[0]['record_id']!r} ({args.id_column}) is used more than once")

    offsets = spark.createDataFrame(offsets, schema(("file", INT), ("offset", BIGINT)))
    numbered = read.join(F.broadcast(offsets), "file").withColumn("record", F.col("offset") + F.col("row"))
    records = job.through(numbered, "prepare", "--fields", ",".join(fields), *job.read_options)
    records = records.persist(STORED)

    # Every record of one number (or, without a number, of one name, sex and birth date) meets
    # the others in one part: the key is xueji's (`duplicates_key`).
    # The guardian too: in one family a name that sounds apart is a sibling's.
    wanted = ["record", "record_id", "id_norm", "id_type_norm", "name_norm", "name_pinyin", "sex_norm"]
    wanted += ["guardian_phone_norm"] + [c for c in ("guardian_name",) if c in records.columns]
    grouped = records.select(*wanted, "birth_date_norm", "id_digits_lost", "duplicates_key")
    grouped = grouped.repartition(args.partitions, "duplicates_key")
    duplicates = job.through(grouped, "duplicates")

    shown = [c for c in ("name", "school_name", "grade", "class") if c in records.columns]
    problems = (
        records.select("record", "record_id", "source_file", "source_row", *shown, "problems")
        .join(duplicates, "record", "left")
        .where(F.col("problems").isNotNull() | F.col("duplicates").isNotNull())
    )
    # In any order: the writer puts them in check's.
    problems = job.through(problems, "problems")
    read.unpersist()
    return records, total, job.arrow_file("problems.arrow", problems.toArrow())


def blocking(job, records, columns):
    """The candidate pairs (a, b, rules: bit i for rule i) and a row per block."""
    args = job.args
    # The records are spread over the partitions already, and kept: no shuffle, no copy.
    features = records.select(*columns["keys"], "record")
    # The probes' keys first (the records a rule with probes must pair: a few percent), so that
    # the other records send only the keys a probe has, as one machine keeps them; every
    # executor gets them as a Bloom filter (1 % of the other keys pass, and make no pair).
    probe_keys = job.through(features, "probe-keys").distinct().toArrow()
    probe_filter = job.driver_file("probe_keys.filter", job.local("probe-filter", table=probe_keys))
    keys = job.through(features, "keys", "--probe-filter", probe_filter)
    blocks = job.through(keys.repartition(args.partitions, "rule", "pass", "key"), "pairs")
    blocks = blocks.persist(STORED)
    blocks.count()
    pairs = (
        blocks.where(F.col("a").isNotNull())
        .groupBy("a", "b")
        .agg(F.bit_or(F.expr("shiftleft(cast(1 as bigint), rule)")).alias("rules"))
    )
    return pairs, blocks


def blocking_figures(job, records, pairs, blocks, columns, rules):
    """dedupe_summary.json's figures of blocking: each rule's, and its largest blocks. Every
    figure is counted by xueji in each part (the pairs stage's figure rows, first-rules on the
    united pairs); Spark only sums the parts."""
    counted = ["pairs", "blocks", "skipped_blocks", "skipped_records"]
    figures = blocks.where(F.col("blocks").isNotNull()).groupBy("rule").agg(*[F.sum(c).alias(c) for c in counted])
    figures = {row["rule"]: row for row in figures.collect()}
    first = job.through(pairs.select("rules"), "first-rules").groupBy("rule").agg(F.sum("new_pairs").alias("n"))
    new_pairs = {row["rule"]: row["n"] for row in first.collect()}
    stats = []
    for r, rule in enumerate(rules):
        row = figures.get(r)
        summed = {c: (row[c] if row else 0) for c in counted}
        stats.append({"rule": rule["name"], **summed, "new_pairs": new_pairs.get(r, 0)})
    # Each part's largest blocks, with their first record: xueji keeps the largest of all.
    largest = (
        blocks.where(F.col("size").isNotNull())
        .join(records.select(F.col("record").alias("first"), *columns["keys"]), "first")
        .toArrow()
    )
    return stats, xueji_spark.read_arrow(job.local("describe", table=largest)).to_pylist()


def compared(job, pairs, records, columns):
    """Pairs (a, b, any more columns) with both records' compared columns → their levels."""
    left = records.select(F.col("record").alias("a"), *[F.col(c).alias("l_" + c) for c in columns["compare"]])
    right = records.select(F.col("record").alias("b"), *[F.col(c).alias("r_" + c) for c in columns["compare"]])
    return job.through(pairs.join(left, "a").join(right, "b"), "compare")


def fit(job, records, levels, n, columns):
    """model.json, fitted at the driver from sums over the parts, as one machine fits it."""
    level_columns = [c for c in levels.columns if c.endswith("_level")]
    patterns = levels.groupBy(*level_columns).agg(
        F.count("*").alias("pairs"), F.sum(F.col("numbered").cast("long")).alias("numbered")
    )
    patterns = patterns.orderBy(*level_columns).toArrow()
    sent = records.select(*columns["compare"], "record")
    counts = job.through(sent, "value-counts").toArrow()
    sample = json.loads(job.local("u-sample", "--records", n))
    if sample is None:
        sampled = sent.orderBy("record")
    else:
        chosen = job.spark.createDataFrame(list(enumerate(sample)), schema(("at", INT), ("record", BIGINT)))
        sampled = sent.join(F.broadcast(chosen), "record").orderBy("at")
    u = xueji_spark.read_arrow(job.local("u", "--records", n, table=sampled.toArrow()))
    # Numbers differing only in the region: all of one birth date and sequence in one part.
    keys = job.through(sent, "number-keys")
    keys = keys.repartition(job.args.partitions, "date_sequence")
    region_only = job.through(keys, "region-only-pairs").agg(F.sum("pairs")).first()[0] or 0
    model = job.local(
        "fit",
        "--records",
        n,
        "--u",
        job.arrow_file("u.arrow", u),
        "--value-counts",
        job.arrow_file("value_counts.arrow", counts),
        "--region-only-pairs",
        region_only,
        table=patterns,
    )
    return job.driver_file("model.json", model)


class Phases:
    """Wall time of each phase, for the summary line: a phase ends where its results are
    materialized (Spark runs nothing before an action)."""

    def __init__(self):
        self.times, self.last = {}, time.time()

    def done(self, name):
        now = time.time()
        self.times[name] = round(now - self.last, 2)
        self.last = now


def main():
    args = parse_args()
    started, phases = time.time(), Phases()
    job = Job(args)
    try:
        run(job, phases, started)
    except Exception as failed:
        # A stage's refusal (a file without an ID column, a damaged sheet) reaches the driver
        # inside Spark's stack traces: say xueji's own message, once.
        said = re.search(r"xueji worker ([\w-]+): (?:xueji: )?([^\n]+)", str(failed))
        if said is None:
            raise
        raise SystemExit(f"national: {said.group(1)}: {said.group(2)}") from None
    finally:
        # The driver's files (model, filters, gathered tables) go, whether the job ended or not.
        job.spark.stop()
        shutil.rmtree(job.work, ignore_errors=True)


def run(job, phases, started):
    """The job's steps, timed by `phases` from `started`."""
    args = job.args
    columns = json.loads(job.local("columns"))
    rules = json.loads(job.settings_text())["blocking"]["rules"]
    phases.done("start")

    records, n, problems = read_and_check(job)
    phases.done("read, check, exact duplicates")
    pairs, blocks = blocking(job, records, columns)
    phases.done("blocking")
    levels = compared(job, pairs, records, columns).persist(STORED)
    model = fit(job, records, levels, n, columns)
    phases.done("compare, fit")

    scored = job.through(levels, "score", "--model", model).persist(STORED)
    bins = dict(scored.groupBy("bin").count().collect())
    reported = scored.where(F.col("kind").isNotNull()).drop("cohesion", "bin").orderBy("a", "b").toArrow()

    # Clusters at the driver: the matches, and the cohesion of the member pairs it may weigh.
    matches = reported.filter(pc.equal(reported["kind"], "match")).select(["a", "b", "probability"])
    if matches.num_rows > args.max_driver_matches:
        raise SystemExit(
            f"national: {matches.num_rows:,} matches, more than --max-driver-matches {args.max_driver_matches:,}: "
            "clustering them needs components found across the cluster (iterative joins), which this job "
            "does not have; a nation's ≈10M matches are far below the limit"
        )
    member_pairs = xueji_spark.read_arrow(job.local("member-pairs", "--records", n, table=matches))
    members = job.spark.createDataFrame(member_pairs.to_pandas(), PAIRS)
    members = job.through(compared(job, members, records, columns), "score", "--model", model)
    members_file = job.arrow_file("members.arrow", members.select("a", "b", "cohesion").toArrow())
    clustering = job.local("cluster", "--records", n, "--members", members_file, table=matches)
    phases.done("score, cluster")

    in_outputs = set(reported["a"].to_pylist()) | set(reported["b"].to_pylist())
    for cluster in json.loads(clustering)["clusters"]:
        in_outputs.update(cluster)
    wanted = job.spark.createDataFrame([(r,) for r in sorted(in_outputs)], schema(("record", BIGINT)))
    show = [c for c in ("record_id", "source_file", "name", "id_number", "birth_date", "school_name") if c in records.columns]
    shown = records.select("record", *show).join(F.broadcast(wanted), "record").toArrow()

    stats, largest = blocking_figures(job, records, pairs, blocks, columns, rules)
    found = {
        "candidate_pairs": pairs.count(),
        "blocking": stats,
        "largest_blocks": largest,
        "histogram": [bins.get(b, 0) for b in range(columns["histogram_bins"])],
    }
    job.local(
        "outputs",
        "--out",
        os.path.abspath(args.out),
        "--records",
        n,
        "--model",
        model,
        "--reported",
        job.arrow_file("reported.arrow", reported),
        "--shown",
        job.arrow_file("shown.arrow", shown),
        "--clustering",
        job.driver_file("clustering.json", clustering),
        "--blocking",
        job.driver_file("blocking.json", json.dumps(found).encode()),
        "--problems",
        problems,
    )
    phases.done("outputs")
    summary = {"records": n, "candidate_pairs": found["candidate_pairs"], "seconds": round(time.time() - started, 2)}
    print(json.dumps({**summary, "phases": phases.times}, ensure_ascii=False))


if __name__ == "__main__":
    main()
