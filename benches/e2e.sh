#!/usr/bin/env bash
# End-to-end benchmark: generates 100k, 1M, 5M and 10M-student provinces once (cached in bench-data/,
# ignored by git), runs each stage on them, and appends wall time, peak RSS, throughput and
# quality to reports/BENCHMARKS.md with the exact commands.
#
#   benches/e2e.sh                 # 100k 1M 5M 10M
#   benches/e2e.sh 1000000         # chosen sizes
#   REGENERATE=1 benches/e2e.sh    # regenerate cached populations (times the generator too)
#   STAGES="run link" benches/e2e.sh 1000000 10000000   # chosen stages (default: all)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v /usr/bin/time >/dev/null || { echo "needs GNU time: apt-get install time" >&2; exit 1; }
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/xueji-target}"
cargo build --release --quiet
XUEJI="$CARGO_TARGET_DIR/release/xueji"
SIZES=("${@:-100000 1000000 5000000 10000000}")
read -r -a SIZES <<<"${SIZES[*]}"
AS_OF=2026-11-29
STAGES="${STAGES:-check dedupe run link}"
stage() { [[ " $STAGES " == *" $1 "* ]]; }
REPORT=reports/BENCHMARKS.md
MACHINE="$(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(free -g | awk '/Mem:/{print $2}') GiB"
COMMIT="$(git rev-parse --short HEAD)$(git diff --quiet || echo '+dirty')"

# Runs a command under GNU time; sets WALL (s) and RSS (MiB).
measure() {
  local log
  log=$(mktemp)
  /usr/bin/time -f '%e %M' -o "$log" "$@" >/dev/null
  read -r WALL RSS_KB <"$log"
  RSS=$((RSS_KB / 1024))
  rm -f "$log"
}

row() { printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$@" >>"$REPORT"; }

{
  echo
  echo "### $(date -u +%Y-%m-%d) commit $COMMIT — $MACHINE"
  echo
  echo "| stage | students | records | wall (s) | peak RSS (MiB) | records/s | command |"
  echo "|---|---:|---:|---:|---:|---:|---|"
} >>"$REPORT"

for n in "${SIZES[@]}"; do
  data="bench-data/g$n"
  if [[ ! -f "$data/sheets/students.parquet" || -n "${REGENERATE:-}" ]]; then
    rm -rf "$data"
    cmd=("$XUEJI" generate --students "$n" --seed 1 --as-of "$AS_OF" --out "$data")
    measure "${cmd[@]}"
    records=$(python3 -c "import json;print(json.load(open('$data/generate.json'))['summary']['records'])")
    row generate "$n" "$records" "$WALL" "$RSS" "$(python3 -c "print(round($records/$WALL))")" "\`xueji generate --students $n --seed 1 --as-of $AS_OF --out $data\`"
  fi
  records=$(python3 -c "import json;print(json.load(open('$data/generate.json'))['summary']['records'])")
  if stage check; then
  out="bench-data/check$n"
  rm -rf "$out"
  cmd=("$XUEJI" check "$data/sheets" --out "$out" --id-column 学籍辅号 --as-of "$AS_OF")
  measure "${cmd[@]}"
  row check "$n" "$records" "$WALL" "$RSS" "$(python3 -c "print(round($records/$WALL))")" "\`xueji check $data/sheets --out $out --id-column 学籍辅号 --as-of $AS_OF\`"
  "$XUEJI" eval --truth "$data" --problems "$out/problems.parquet" --out "$out/eval.json" >/dev/null
  python3 - "$out/eval.json" "$n" >>"$REPORT" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))["problems"]
expected = sum(v["expected"] for v in report.values())
reported = sum(v["reported"] for v in report.values())
found = sum(v["true_positives"] for v in report.values())
worst = min(report.items(), key=lambda kv: min(kv[1]["precision"], kv[1]["recall"]))
print(f"| check quality | {sys.argv[2]} | | | | | problems expected {expected}, reported {reported}, found {found}: "
      f"recall {found/expected:.4f}, precision {found/reported:.4f}; weakest code {worst[0]} "
      f"(P {worst[1]['precision']:.4f}, R {worst[1]['recall']:.4f}) — `xueji eval --truth {'bench-data/g'+sys.argv[2]} --problems .../problems.parquet` |")
PY
  fi
  if stage dedupe; then  out="bench-data/dedupe$n"
  rm -rf "$out"
  cmd=("$XUEJI" dedupe "$data/sheets" --out "$out" --id-column 学籍辅号 --as-of "$AS_OF")
  measure "${cmd[@]}"
  row dedupe "$n" "$records" "$WALL" "$RSS" "$(python3 -c "print(round($records/$WALL))")" "\`xueji dedupe $data/sheets --out $out --id-column 学籍辅号 --as-of $AS_OF\`"
  "$XUEJI" eval --truth "$data" --clusters "$out/clusters.parquet" --out "$out/eval.json" >/dev/null
  python3 - "$out" "$n" >>"$REPORT" <<'PY'
import json, sys
out, n = sys.argv[1], sys.argv[2]
report = json.load(open(f"{out}/eval.json"))
summary = json.load(open(f"{out}/dedupe_summary.json"))
pairs = report["pairs"]
p, b = pairs["pairwise"], report["bcubed"]
fp = pairs["false_positives"]
recalls = {k: v for k, v in pairs["recall_by_perturbation"].items() if v["pairs"] >= 20}
worst = min(recalls.items(), key=lambda kv: kv[1]["recall"])
stages = ", ".join(f"{s} {t:.1f}s" for s, t in summary["timings"])
print(f"| dedupe quality | {n} | | | | | pairwise P {p['precision']:.4f} R {p['recall']:.4f} F1 {p['f1']:.4f}; "
      f"B-cubed F1 {b['f1']:.4f}; false positive pairs {sum(fp.values())} (twin {fp.get('twin', 0)}, namesake {fp.get('namesake', 0)}, "
      f"misuse {fp.get('misuse', 0)}, other {fp.get('other', 0)}); lowest recall {worst[0]} {worst[1]['recall']:.4f}; "
      f"{summary['candidate_pairs']} candidate pairs; stages: {stages} |")
PY
  fi
  if stage run || stage link; then
    out="bench-data/run$n"
    if stage run || [[ ! -f "$out/model.json" ]]; then
      rm -rf "$out"
      measure "$XUEJI" run "$data/sheets" --out "$out" --id-column 学籍辅号 --as-of "$AS_OF"
      stages=$(python3 -c "import json;print(', '.join(f'{s} {t:.1f}s' for s,t in json.load(open('$out/manifest.json'))['timings']))")
      row run "$n" "$records" "$WALL" "$RSS" "$(python3 -c "print(round($records/$WALL))")" "\`xueji run $data/sheets --out $out --id-column 学籍辅号 --as-of $AS_OF\`; stages: $stages"
    fi
  fi
  if stage link; then
    intake="bench-data/intake10000"
    [[ -f "$intake/sheets/students.parquet" ]] || "$XUEJI" generate --students 10000 --seed 2 --as-of "$AS_OF" --out "$intake" >/dev/null
    measure "$XUEJI" link "$intake/sheets" --against "bench-data/run$n" --out "bench-data/link$n" --id-column 学籍辅号 --as-of "$AS_OF"
    row link "$n" "10000 new" "$WALL" "$RSS" "" "\`xueji link $intake/sheets --against bench-data/run$n --out bench-data/link$n --id-column 学籍辅号 --as-of $AS_OF\`"
  fi
done
echo "appended to $REPORT"
