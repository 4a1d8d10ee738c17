"""`--labels` checked against the truth of a generated province (issue #23).

    PY benches/labels_truth.py PROVINCE WORK --xueji BIN [--sample 200] [--seed N]

PROVINCE is a folder written by `xueji generate` (sheets/, truth/records.parquet). Two checks:

1. Precision per band. `xueji dedupe --threshold 0.1` scores every candidate pair down to 0.1;
   SAMPLE of them are drawn evenly over the probability bands 0.2–1.0 (what a small band cannot
   take from the largest) and labelled from the truth
   (同一人 when both records are one person, else 不同人), then `xueji dedupe --labels` runs with
   the default threshold. Per band it prints what the labels estimate (precision and its 95 %
   Wilson interval, from dedupe_summary.json) beside the truth's precision over every pair of
   that band, and whether the truth lies inside the interval.
2. Twins. Every pair of records of two twins (truth `twin_of`) is labelled 不同人; printed: how
   many clusters join two twins without labels, and with them (it must be none).

PY is spark/setup.sh's python (pyarrow). Work files go to WORK.
"""

import argparse
import csv
import json
import random
from collections import defaultdict
from pathlib import Path

import pyarrow.parquet as pq

from xueji_run import AS_OF, xueji


def dedupe(binary, province, out, *extra):
    return xueji(binary, "dedupe", str(province / "sheets"), "--id-column", "学籍辅号", "--as-of", AS_OF,
                 "--out", str(out), *extra)


def write_labels(path, pairs):
    with open(path, "w", newline="", encoding="utf-8-sig") as f:
        w = csv.writer(f)
        w.writerow(["记录号1", "记录号2", "判定"])
        w.writerows(pairs)


def twin_merges(clusters, person, twin):
    """Clusters holding records of two people who are twins."""
    members = defaultdict(set)
    for record, cluster in clusters:
        members[cluster].add(person[record])
    return sum(1 for people in members.values() if any(twin.get(p) in people for p in people))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("province", type=Path)
    parser.add_argument("work", type=Path)
    parser.add_argument("--xueji", required=True)
    parser.add_argument("--sample", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)

    truth = pq.read_table(args.province / "truth" / "records.parquet").to_pylist()
    person = {r["record_id"]: str(r["person_id"]) for r in truth}
    twin = {}
    for r in truth:
        if r["twin_of"] not in (None, ""):
            twin[str(r["person_id"])] = str(r["twin_of"])

    # 1. Precision per band.
    low = args.work / "low"
    dedupe(args.xueji, args.province, low, "--threshold", "0.1")
    pairs = pq.read_table(low / "duplicate_pairs.parquet", columns=["record_id_l", "record_id_r", "probability"])
    bands = defaultdict(list)
    for l, r, p in zip(*(pairs.column(c).to_pylist() for c in ["record_id_l", "record_id_r", "probability"])):
        if p >= 0.2:
            bands[min(int(p * 10), 9)].append((l, r))
    # Evenly over the bands; what a small band cannot take goes to the largest.
    rng = random.Random(args.seed)
    per_band = args.sample // len(bands)
    largest = max(bands, key=lambda k: len(bands[k]))
    sample = []
    for k in sorted(bands, key=lambda k: k == largest):
        take = args.sample - len(sample) if k == largest else per_band
        sample += rng.sample(bands[k], min(take, len(bands[k])))
    labels = [(l, r, "同一人" if person[l] == person[r] else "不同人") for l, r in sample]
    write_labels(args.work / "sample_labels.csv", labels)
    labelled = args.work / "labelled"
    dedupe(args.xueji, args.province, labelled, "--labels", str(args.work / "sample_labels.csv"))
    review = json.loads((labelled / "dedupe_summary.json").read_text())["review"]
    print(f"{len(labels)} labelled pairs (up to {per_band} a band, the rest from the largest); model threshold 0.6; "
          f"labels suggest {review['suggested_threshold']}")
    print("band      reviewed  estimate  95 % interval   truth (all pairs of the band)  inside")
    inside = 0
    for b in review["bands"]:
        k = int(round(b["low"] * 10))
        everyone = bands.get(k, [])
        true = sum(1 for l, r in everyone if person[l] == person[r]) / max(len(everyone), 1)
        ok = b["interval"][0] <= true <= b["interval"][1]
        inside += ok
        print(f"{b['low']:.1f}–{b['high']:.1f}  {b['same'] + b['different']:8}  {b['precision']:8.3f}  "
              f"{b['interval'][0]:.3f}–{b['interval'][1]:.3f}   {true:.3f} of {len(everyone):7}        {'yes' if ok else 'NO'}")
    print(f"truth inside the interval in {inside} of {len(review['bands'])} bands")

    # 2. Twins.
    plain = args.work / "plain"
    dedupe(args.xueji, args.province, plain)
    records_of = defaultdict(list)
    for r in truth:
        records_of[str(r["person_id"])].append(r["record_id"])
    twin_pairs = [(a, b, "不同人") for p, q in twin.items() if p < q
                  for a in records_of[p] for b in records_of[q]]
    write_labels(args.work / "twin_labels.csv", twin_pairs)
    apart = args.work / "twins"
    dedupe(args.xueji, args.province, apart, "--labels", str(args.work / "twin_labels.csv"))

    def clusters(out):
        t = pq.read_table(out / "clusters.parquet", columns=["record_id", "cluster_id"])
        return list(zip(t.column("record_id").to_pylist(), t.column("cluster_id").to_pylist()))

    print(f"twins: {len([p for p in twin if p < twin[p]])} twin pairs, {len(twin_pairs)} record pairs labelled 不同人; "
          f"clusters joining two twins: {twin_merges(clusters(plain), person, twin)} without labels, "
          f"{twin_merges(clusters(apart), person, twin)} with them")


if __name__ == "__main__":
    main()
