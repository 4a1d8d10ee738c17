"""`xueji link` on a held-back intake, scored against the truth (issue #21).

    PY benches/link_holdout.py PROVINCE WORK --xueji BIN [--seed N] [--pinyin-share S]

PROVINCE is a folder written by `xueji generate --format parquet` (sheets/students.parquet,
truth/records.parquet). The registry is the first registration of 95 % of its students (chosen
by a seeded hash of the person); the intake is everything else: every duplicate registration
and the first registration of the other 5 %. A share of the intake's names (default 10 %) is
retyped in pinyin as people type it: half `Wang Xinyi` (given name run together), half
`wang xin yi` (a space between syllables). The registry goes through `xueji run`, the intake
through `xueji link --against` it; prints the intake's size, the registry rows link kept, and
pairwise precision and recall over the true pairs that hold an intake record (also split by
whether the intake record's name was retyped). Work files go to WORK.

PY is spark/setup.sh's python (pyarrow); XUEJI any build of xueji, so that two builds compare.
"""

import argparse
import hashlib
import json
from collections import defaultdict
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from xueji_run import AS_OF, xueji


def draw(seed, key, salt):
    """A number in [0, 1) fixed by seed, key and salt: the same split for every build."""
    digest = hashlib.sha256(f"{seed}:{salt}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def typed_in_pinyin(pinyin, style):
    """`wang xin yi` as a person types it: `Wang Xinyi` or `wang xin yi`."""
    syllables = pinyin.split()
    if style == 0:
        return f"{syllables[0].capitalize()} {''.join(syllables[1:]).capitalize()}"
    return " ".join(syllables)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("province", type=Path)
    parser.add_argument("work", type=Path)
    parser.add_argument("--xueji", required=True)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--pinyin-share", type=float, default=0.1)
    args = parser.parse_args()
    work = args.work
    work.mkdir(parents=True, exist_ok=True)

    sheets = pq.read_table(args.province / "sheets/students.parquet")
    # Polars writes text as string_view, which pyarrow cannot filter yet.
    sheets = sheets.cast(pa.schema([pa.field(f.name, pa.string()) for f in sheets.schema]))
    truth = pq.read_table(args.province / "truth/records.parquet", columns=["record_id", "person_id", "role"])
    person = dict(zip(truth["record_id"].to_pylist(), truth["person_id"].to_pylist()))
    first = {r for r, role in zip(truth["record_id"].to_pylist(), truth["role"].to_pylist()) if role != "duplicate"}
    ids = sheets["学籍辅号"].to_pylist()
    in_registry = [r in first and draw(args.seed, person[r], "registry") < 0.95 for r in ids]
    mask = pa.array(in_registry)
    registry, intake = sheets.filter(mask), sheets.filter(pc.invert(mask))

    # Names retyped in pinyin: their reading comes from xueji itself (surname readings included).
    pq.write_table(intake, work / "intake_han.parquet")
    xueji(args.xueji, "check", str(work / "intake_han.parquet"), "--out", str(work / "intake_check"),
          "--id-column", "学籍辅号", "--as-of", AS_OF)
    read = pq.read_table(work / "intake_check/records.parquet", columns=["record_id", "name_pinyin"])
    reading = dict(zip(read["record_id"].to_pylist(), read["name_pinyin"].to_pylist()))
    names, retyped = intake["姓名"].to_pylist(), set()
    for i, record in enumerate(intake["学籍辅号"].to_pylist()):
        pinyin = reading.get(record) or ""
        plain = len(pinyin.split()) >= 2 and all(w.isascii() and w.isalpha() for w in pinyin.split())
        if plain and draw(args.seed, record, "pinyin") < args.pinyin_share:
            names[i] = typed_in_pinyin(pinyin, int(draw(args.seed, record, "style") * 2))
            retyped.add(record)
    intake = intake.set_column(intake.schema.get_field_index("姓名"), "姓名", pa.array(names, pa.string()))
    for name, table in [("registry", registry), ("intake", intake)]:
        (work / name).mkdir(exist_ok=True)
        pq.write_table(table, work / name / "students.parquet")

    xueji(args.xueji, "run", str(work / "registry"), "--out", str(work / "campaign"),
          "--id-column", "学籍辅号", "--as-of", AS_OF)
    said = xueji(args.xueji, "link", str(work / "intake"), "--against", str(work / "campaign"),
                 "--out", str(work / "linked"), "--id-column", "学籍辅号", "--as-of", AS_OF)

    new = set(intake["学籍辅号"].to_pylist())
    present = set(ids)
    by_person = defaultdict(list)
    for record, p in person.items():
        if record in present:
            by_person[p].append(record)
    true_pairs = set()
    for records in by_person.values():
        for i, a in enumerate(records):
            for b in records[i + 1:]:
                if a in new or b in new:
                    true_pairs.add((min(a, b), max(a, b)))
    pairs = pq.read_table(work / "linked/duplicate_pairs.parquet", columns=["record_id_l", "record_id_r"])
    found = {(min(a, b), max(a, b)) for a, b in zip(pairs["record_id_l"].to_pylist(), pairs["record_id_r"].to_pylist())}
    right = found & true_pairs

    def score(true, found, right):
        return {
            "true_pairs": len(true),
            "found": len(found),
            "precision": round(len(right) / len(found), 5) if found else None,
            "recall": round(len(right) / len(true), 5) if true else None,
        }

    touched = lambda pair: pair[0] in retyped or pair[1] in retyped
    result = {
        "registry_rows": registry.num_rows,
        "intake_rows": intake.num_rows,
        "retyped_in_pinyin": len(retyped),
        "link_said": [line for line in said.splitlines() if line.strip()],
        "all": score(true_pairs, found, right),
        "retyped": score({p for p in true_pairs if touched(p)}, {p for p in found if touched(p)},
                         {p for p in right if touched(p)}),
        "han": score({p for p in true_pairs if not touched(p)}, {p for p in found if not touched(p)},
                     {p for p in right if not touched(p)}),
    }
    (work / "holdout.json").write_text(json.dumps(result, ensure_ascii=False, indent=2))
    print(json.dumps(result, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
