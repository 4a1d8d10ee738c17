"""Splink 5 (DuckDB) on the same school sheet as `xueji dedupe`, for reports/BENCHMARKS.md.

Reads the CSV, adds a toneless pinyin column (pypinyin) as xueji does, trains u by random
sampling and m by EM on two blocking rules, predicts over three xueji-like blocking rules,
clusters at 0.9 and writes record_id/cluster_id for `xueji eval --clusters`.

    python3 -m venv ~/.cache/splink-venv && ~/.cache/splink-venv/bin/pip install splink==5.0.0 pypinyin numpy
    ~/.cache/splink-venv/bin/python benches/splink_dedupe.py SHEET.csv OUT.parquet
"""
import sys

import duckdb
from pypinyin import lazy_pinyin
from splink import Linker, SettingsCreator, block_on
import splink.comparison_library as cl
from splink.backends.duckdb import DuckDBAPI

sheet, out = sys.argv[1], sys.argv[2]
con = duckdb.connect()
def pinyin(s: str) -> str:
    return " ".join(lazy_pinyin(s)) if s else None


con.create_function("pinyin", pinyin, ["VARCHAR"], "VARCHAR", null_handling="special")
con.execute(f"""
create table students as
select "学籍辅号" as unique_id, "姓名" as name, pinyin(replace("姓名", ' ', '')) as name_pinyin,
       "性别" as sex, "出生日期" as birth, upper(replace(replace("身份证件号", ' ', ''), '-', '')) as id,
       "学校标识码" as school, "监护人姓名" as guardian, "监护人联系电话" as phone,
       "户口所在地" as household
from read_csv('{sheet}', all_varchar = true)
""")
settings = SettingsCreator(
    link_type="dedupe_only",
    comparisons=[
        cl.ExactMatch("name").configure(term_frequency_adjustments=True),
        cl.JaroWinklerAtThresholds("name_pinyin", [0.95, 0.88]),
        cl.LevenshteinAtThresholds("id", [1, 2]),
        cl.LevenshteinAtThresholds("birth", [1, 2]),
        cl.ExactMatch("sex"),
        cl.ExactMatch("school"),
        cl.ExactMatch("guardian"),
        cl.ExactMatch("phone"),
        cl.ExactMatch("household"),
    ],
    blocking_rules_to_generate_predictions=[
        block_on("id"),
        block_on("name_pinyin", "substr(birth, 1, 6)"),
        block_on("phone"),
    ],
    retain_intermediate_calculation_columns=False,
)
db_api = DuckDBAPI(connection=con)
linker = Linker(db_api.register("students"), settings)
linker.training.estimate_probability_two_random_records_match([block_on("id")], recall=0.7)
linker.training.estimate_u_using_random_sampling(max_pairs=1e6, seed=1)
linker.training.estimate_parameters_using_expectation_maximisation(block_on("id"))
linker.training.estimate_parameters_using_expectation_maximisation(block_on("name_pinyin", "birth"))
pairs = linker.inference.predict(threshold_match_probability=0.5)
clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(pairs, 0.9)
con.execute(f"copy (select unique_id as record_id, cluster_id from {clusters.physical_name}) to '{out}' (format parquet)")
print(con.execute(f"select count(*) from {pairs.physical_name}").fetchone()[0], "pairs")
