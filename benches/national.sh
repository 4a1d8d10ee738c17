#!/usr/bin/env bash
# The national check on Spark against one machine, on the same sheets: times, peak memory and
# whether every output is the same bytes. Usage:
#   benches/national.sh SHEETS OUT [PARTITIONS] [MASTER]
# XUEJI: the binary (default target/release/xueji); PY: spark/setup.sh's python.
set -euo pipefail
sheets=$(realpath "$1"); out=$(realpath -m "$2"); partitions=${3:-8}; master=${4:-local-cluster[3,1,1024]}
here=$(dirname "$(realpath "$0")")/..
xueji=${XUEJI:-$here/target/release/xueji}
py=${PY:-$(bash "$here/spark/setup.sh")}
opts=(--id-column 学籍辅号 --as-of 2026-11-29)
mkdir -p "$out"
timed() { /usr/bin/time -f "%e s wall, %M KB peak (the largest process)" "$@"; }
# The machine's memory in use, sampled each second: a cluster is many processes.
peak_used() {
    local peak=0 used
    while kill -0 "$1" 2>/dev/null; do
        used=$(free -m | awk '/^Mem:/ {print $3}')
        [ "$used" -gt "$peak" ] && peak=$used
        sleep 1
    done
    echo "machine memory in use: $peak MiB at peak (before: $2 MiB)"
}

echo "one machine: dedupe, then check"
timed "$xueji" dedupe "$sheets" --out "$out/one" "${opts[@]}" > /dev/null
timed "$xueji" check "$sheets" --out "$out/one" "${opts[@]}" > /dev/null
echo "spark: national.py on $master, $partitions partitions"
before=$(free -m | awk '/^Mem:/ {print $3}')
timed "$py" "$here/spark/national.py" "$sheets" --out "$out/spark" --master "$master" \
    --partitions "$partitions" --xueji "$xueji" "${opts[@]}" 2> "$out/spark.log" &
job=$!
peak_used $job "$before" &
wait $job
wait
grep -ao '[0-9.]* s wall.*' "$out/spark.log"
for f in model.json dedupe_summary.json duplicate_pairs.parquet duplicate_pairs.csv clusters.parquet \
    clusters.csv id_conflicts.csv problems.parquet problems.csv; do
    if cmp -s "$out/one/$f" "$out/spark/$f"; then echo "same: $f"; else echo "DIFFERS: $f"; fi
done
