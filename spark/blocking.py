"""Blocking of a population too large for one machine, on Spark: the candidate pairs of
`xueji dedupe` on the same records, found by xueji's own stages with a shuffle between them.

    PY spark/blocking.py RECORDS.parquet --out DIR [--master URL] [--partitions N]
                         [--xueji PATH] [--settings FILE.json]

RECORDS.parquet is `records.parquet` of `xueji check` or `xueji run`. Writes
DIR/candidate_pairs.parquet (record_id_l, record_id_r, rules: bit i for rule i, and a, b: the
records' positions in RECORDS.parquet) and DIR/blocking.json (per rule: pairs, new_pairs,
blocks, skipped_blocks, skipped_records, as in `xueji dedupe`'s dedupe_summary.json).
"""

import argparse
import json
import os
import sys
import time

from pyspark.sql import functions as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import xueji_spark  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("records")
    parser.add_argument("--out", required=True)
    parser.add_argument("--master", default="local[*]")
    parser.add_argument("--partitions", type=int, default=8, help="partitions of each shuffle")
    parser.add_argument("--xueji", default=xueji_spark.default_xueji())
    parser.add_argument("--settings", help="xueji dedupe --settings: blocking rules, max_block_size")
    args = parser.parse_args()

    started = time.time()
    spark = xueji_spark.session(args.master, "xueji blocking")
    spark.conf.set("spark.sql.shuffle.partitions", str(args.partitions))
    records = xueji_spark.with_record_index(spark.read.parquet(args.records))
    # A province's records.parquet is a split or two: spread it over the executors first.
    sent = xueji_spark.columns(args.xueji)["keys"]
    features = records.select(*sent, "record").repartition(args.partitions)

    features = features.cache()

    # The probes' keys first (the records a rule with probes must pair: a few percent), so that
    # the other records send only the keys a probe has, as one machine keeps them.
    probe_keys = features.mapInArrow(
        xueji_spark.worker(args.xueji, "probe-keys", xueji_spark.PROBE_KEYS, args.settings), xueji_spark.PROBE_KEYS
    )
    probe_file = os.path.join(args.out, "probe_keys.arrow")
    os.makedirs(args.out, exist_ok=True)
    xueji_spark.write_arrow(probe_keys.distinct().toArrow(), probe_file)
    spark.sparkContext.addFile(probe_file)
    keys = features.mapInArrow(
        xueji_spark.worker(args.xueji, "keys", xueji_spark.KEYS, args.settings, probe_keys=probe_file),
        xueji_spark.KEYS,
    )
    blocks = keys.repartition(args.partitions, "rule", "pass", "key").mapInArrow(
        xueji_spark.worker(args.xueji, "pairs", xueji_spark.PAIRS, args.settings), xueji_spark.PAIRS
    )
    blocks = blocks.cache()

    pairs = (
        blocks.where(F.col("a").isNotNull())
        .groupBy("a", "b")
        .agg(F.bit_or(F.expr("shiftleft(cast(1 as bigint), rule)")).alias("rules"))
    )
    ids = records.select(F.col("record"), F.col("record_id"))
    named = (
        pairs.join(ids.withColumnRenamed("record", "a").withColumnRenamed("record_id", "record_id_l"), "a")
        .join(ids.withColumnRenamed("record", "b").withColumnRenamed("record_id", "record_id_r"), "b")
        .select("record_id_l", "record_id_r", "a", "b", "rules")
        .orderBy("a", "b")
    )
    named.write.mode("overwrite").parquet(os.path.join(args.out, "candidate_pairs.parquet"))

    # A pair is new to the first rule that made it, as dedupe_summary.json counts.
    first_rule = F.expr("cast(log2(rules & -rules) as int)")
    new_pairs = dict(pairs.groupBy(first_rule.alias("rule")).count().collect())
    per_rule = (
        blocks.groupBy("rule")
        .agg(
            F.count("a").alias("pairs"),
            F.count("size").alias("blocks"),
            F.sum(F.when(F.col("skipped"), 1).otherwise(0)).alias("skipped_blocks"),
            F.sum(F.when(F.col("skipped"), F.col("size")).otherwise(0)).alias("skipped_records"),
        )
        .collect()
    )
    per_rule = {row["rule"]: row for row in per_rule}
    stats = []
    for r, rule in enumerate(xueji_spark.settings(args.xueji, args.settings)["blocking"]["rules"]):
        row = per_rule.get(r)
        figure = lambda name: (row[name] or 0) if row else 0  # noqa: E731
        stats.append(
            {
                "rule": rule["name"],
                "pairs": figure("pairs"),
                "new_pairs": new_pairs.get(r, 0),
                "blocks": figure("blocks"),
                "skipped_blocks": figure("skipped_blocks"),
                "skipped_records": figure("skipped_records"),
            }
        )
    summary = {
        "records": records.count(),
        "candidate_pairs": pairs.count(),
        "blocking": stats,
        "seconds": round(time.time() - started, 2),
    }
    with open(os.path.join(args.out, "blocking.json"), "w") as f:
        json.dump(summary, f, indent=2)
        f.write("\n")
    os.remove(probe_file)
    print(json.dumps({k: v for k, v in summary.items() if k != "blocking"}))
    spark.stop()


if __name__ == "__main__":
    main()
