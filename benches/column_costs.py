"""What each column of a run's records.parquet costs in memory as Polars holds it: a text column
16 bytes a row for its view plus the text past 12 bytes, a categorical 4 bytes, other types their
width. Prints a Markdown table, largest first (reports/BENCHMARKS.md, issue #24).

    python3 benches/column_costs.py OUT/records.parquet     # needs pyarrow
"""
import sys

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

parquet = pq.ParquetFile(sys.argv[1])
rows = parquet.metadata.num_rows
costs = []
for name in parquet.schema_arrow.names:
    column = parquet.read(columns=[name]).column(0)
    kind = column.type
    if pa.types.is_dictionary(kind):
        cost, kind = 4 * rows, "categorical"
    elif pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_string_view(kind):
        lengths = pc.binary_length(column.cast(pa.large_string()))
        past_inline = pc.sum(pc.if_else(pc.greater(lengths, 12), lengths, 0)).as_py() or 0
        cost, kind = 16 * rows + past_inline, "text"
    else:
        cost = kind.bit_width * rows // 8
    costs.append((cost / rows, name, kind))
print("| column | kind | bytes a record | MiB |")
print("|---|---|---:|---:|")
for per_row, name, kind in sorted(costs, reverse=True):
    print(f"| `{name}` | {kind} | {per_row:.1f} | {per_row * rows / 2**20:.0f} |")
total = sum(c for c, _, _ in costs)
print(f"| **total** ({rows:,} records) | | **{total:.1f}** | **{total * rows / 2**20:,.0f}** |")
