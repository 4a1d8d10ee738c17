#!/usr/bin/env bash
# Every output of one build of xueji, on fixed inputs, so that a refactoring can show it changed
# no byte (issue #21). Usage:
#   benches/same_outputs.sh XUEJI OUT            # runs every job of XUEJI into OUT
#   benches/same_outputs.sh --compare OUT_A OUT_B  # lists the files that differ
# Jobs: generate (3,000 students of two provinces; 900 with photos; 1M students), check, dedupe and
# run on the bundled sample and on the 1M province, link of one province against the other, photos with
# --fix, and the national check on a local Spark cluster (PY: spark/setup.sh's python;
# NATIONAL: the national.py that goes with XUEJI, default this checkout's).
# What is compared leaves out what a clock writes: timings and seconds in JSON, the 用时 lines.
set -euo pipefail
here=$(dirname "$(realpath "$0")")/..

# A file people read, without what a clock wrote: 用时 lines, seconds in tables and lines.
untimed() { grep -v -e '用时' -e 's</td>' "$1" | sed -E 's/[0-9]+(\.[0-9]+)?s$/Ns/; s/"seconds": [0-9.]+/"seconds": N/g; s/: [0-9.]+(, |\})/: N\1/g'; }

if [ "$1" = --compare ]; then
    a=$2; b=$3; differ=0
    while IFS= read -r file; do
        if [ ! -f "$b/$file" ]; then echo "only in $a: $file"; differ=1; continue; fi
        case "$file" in
            *.json) same() { cmp -s <(jq -S 'walk(if type == "object" then del(.timings, .peak_memory, .seconds, .started, .finished, .elapsed) else . end)' "$1") \
                                     <(jq -S 'walk(if type == "object" then del(.timings, .peak_memory, .seconds, .started, .finished, .elapsed) else . end)' "$2"); } ;;
            *.html|*.log) same() { cmp -s <(untimed "$1") <(untimed "$2"); } ;;
            *) same() { cmp -s "$1" "$2"; } ;;
        esac
        if ! same "$a/$file" "$b/$file"; then echo "DIFFERS: $file"; differ=1; fi
    done < <(cd "$a" && find . -type f | sort)
    (cd "$b" && find . -type f | sort) | while IFS= read -r file; do
        [ -f "$a/$file" ] || echo "only in $b: $file"
    done
    [ $differ = 0 ] && echo "every file the same ($(cd "$a" && find . -type f | wc -l) files)"
    exit $differ
fi

xueji=$(realpath "$1"); out=$(realpath -m "$2")
py=${PY:-$(bash "$here/spark/setup.sh")}
opts=(--id-column 学籍辅号 --as-of 2026-11-29)
sample=$here/datasets/sample/xlsx/sheets
# Every build runs in one folder, so that paths written into the outputs (national.py's are
# absolute) are the same; the outputs are moved to OUT at the end.
work=${TMPDIR:-/tmp}/xueji-same-outputs
rm -rf "$work" "$out"; mkdir -p "$work"
cd "$work"
x() { "$xueji" "$@" > "$work/$(echo "$*" | tr -c 'A-Za-z0-9' _ | cut -c1-60).log"; }

x generate --students 3000 --seed 31 --province 21,32 --format csv --transfer-rate 0.5 --out g3k
x generate --students 900 --seed 11 --format csv --photos --photo-defect-rate 0.5 --out gph
x generate --students 1000000 --seed 83 --format parquet --out g1m
for job in check dedupe run; do
    x $job "$sample" --out sample_$job "${opts[@]}"
    x $job g1m/sheets --out g1m_$job "${opts[@]}"
done
x run g3k/sheets --out g3k_run "${opts[@]}"

# Province 32's sheets arrive later, as an intake against province 21's campaign.
x run g3k/sheets/21 --out g3k_run_21 "${opts[@]}"
x link g3k/sheets/32 --against g3k_run_21 --out g3k_link "${opts[@]}"

x photos gph/photos --records gph/sheets --out gph_photos --fix gph_fixed
"$py" "${NATIONAL:-$here/spark/national.py}" g3k/sheets --out g3k_national --master 'local-cluster[3,1,1024]' \
    --partitions 3 --xueji "$xueji" "${opts[@]}" > national.log 2> /dev/null
mkdir -p "$(dirname "$out")" && mv "$work" "$out"
echo "done: $out"
