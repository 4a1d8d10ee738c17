"""What the Arrow pipe costs the compare stage (issue #12: a PyO3 module only if the pipe costs
more than ~20 % of compare time). One process, as an executor's Python worker runs it:

    PY benches/worker_pipe.py CHECK_DIR CANDIDATES.parquet XUEJI

CHECK_DIR/records.parquet is `xueji check`'s; CANDIDATES.parquet `xueji dedupe
--explain-blocking`'s candidate_pairs.parquet of the same sheets. Prints the median of 5 runs
of: `xueji worker compare` on the pairs joined with both records (Arrow IPC in on stdin, out on
stdout), and the pipe's parts done without xueji: writing the input as IPC, passing its bytes
through `cat`, reading the output back.
"""

import json
import statistics
import subprocess
import sys
import time

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq


def median_seconds(run, n=5):
    times = []
    for _ in range(n):
        started = time.perf_counter()
        out = run()
        times.append(time.perf_counter() - started)
    return statistics.median(times), out


def ipc(table):
    sink = pa.BufferOutputStream()
    with pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def main():
    check, candidates, xueji = sys.argv[1:4]
    compared = json.loads(subprocess.run([xueji, "worker", "columns"], capture_output=True, check=True).stdout)["compare"]
    records = pq.read_table(f"{check}/records.parquet", columns=["record_id"] + compared)
    # As Spark hands them over: plain strings (Polars writes views and dictionaries).
    plain = lambda t: pa.types.is_dictionary(t) or pa.types.is_string_view(t)  # noqa: E731
    records = pa.table({n: records[n].cast(pa.string()) if plain(records[n].type) else records[n] for n in records.column_names})
    records = records.append_column("record", pa.array(range(records.num_rows), pa.int64()))
    pairs = pq.read_table(candidates)
    index = dict(zip(records["record_id"].to_pylist(), range(records.num_rows)))
    a = pa.array([index[r] for r in pairs["record_id_l"].to_pylist()], pa.int64())
    b = pa.array([index[r] for r in pairs["record_id_r"].to_pylist()], pa.int64())
    columns = {"a": a, "b": b}
    for side, rows in (("l_", a), ("r_", b)):
        for name in compared:
            columns[side + name] = pc.take(records[name], rows)
    table = pa.table(columns)

    data = ipc(table)
    worker, out = median_seconds(lambda: subprocess.run([xueji, "worker", "compare"], input=data, capture_output=True, check=True).stdout)
    write, _ = median_seconds(lambda: ipc(table))
    through_cat, _ = median_seconds(lambda: subprocess.run(["cat"], input=data, capture_output=True, check=True).stdout)
    read, _ = median_seconds(lambda: pa.ipc.open_file(pa.BufferReader(out)).read_all())
    pipe = write + through_cat + read
    print(json.dumps({
        "pairs": table.num_rows,
        "input_mb": round(len(data) / 1e6, 1),
        "output_mb": round(len(out) / 1e6, 1),
        "worker_compare_s": round(worker, 3),
        "pipe_write_s": round(write, 3),
        "pipe_cat_s": round(through_cat, 3),
        "pipe_read_s": round(read, 3),
        "pipe_share_of_compare": round(pipe / worker, 3),
    }, indent=2))


if __name__ == "__main__":
    main()
