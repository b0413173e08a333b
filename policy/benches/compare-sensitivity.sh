#!/usr/bin/env bash
# Sensitivity of the paired comparison (docs/comparing.md): how often
# `policy-check run --compare` calls a real slowdown a regression, and how often
# it calls an unchanged engine one (A/A). A benchmark, not a test: it takes about
# three minutes per trial on a 2-core machine and needs that machine quiet.
#
#   policy/benches/compare-sensitivity.sh [--trials N] [--slowdown P]... [--out FILE]
#
# Each --slowdown P (percent; 0 is A/A) makes a head commit on top of this
# checkout's HEAD whose decode loop spins for P% of each token's own decode time
# after it (work per token, so the slowdown is P% on any machine), then runs N
# trials of `policy-check run --compare base` on it with the policy's default
# [compare] settings. One line per trial goes to FILE (TSV) and the terminal,
# then a summary per slowdown. Everything happens in a temporary clone; the
# builds go to target/compare-sensitivity (reused between invocations).
set -euo pipefail

trials=10
slowdowns=()
out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --trials) trials="$2"; shift 2 ;;
    --slowdown) slowdowns+=("$2"); shift 2 ;;
    --out) out="$2"; shift 2 ;;
    *) echo "unknown argument $1 (see the header of $0)" >&2; exit 2 ;;
  esac
done
[ ${#slowdowns[@]} -gt 0 ] || slowdowns=(5 0)

repo="$(git -C "$(dirname "$0")" rev-parse --show-toplevel)"
target="$repo/target/compare-sensitivity"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
out="${out:-$repo/target/compare-sensitivity.tsv}"

git clone -q "$repo" "$work/clone"
cd "$work/clone"
git -c advice.detachedHead=false checkout -q -b base
export CARGO_TARGET_DIR="$target"
echo "building policy-check (release) into $target" >&2
cargo build -q --release -p receipt-policy --bin policy-check
bin="$target/release/policy-check"

# The slowdown: after each decoded token, spin for P% of the time it took.
make_head() {
  local p="$1"
  git checkout -q base
  git branch -q -f "head-$p" base
  git checkout -q "head-$p"
  [ "$p" = 0 ] && return
  python3 - "$p" <<'PY'
import sys
p = float(sys.argv[1]) / 100.0
path = "engine/src/bench.rs"
src = open(path).read()
anchor = "        lat.push(t0.elapsed().as_secs_f64() * 1e3);\n"
assert src.count(anchor) == 1, "the decode loop changed: update compare-sensitivity.sh"
spin = (
    "        let spent = t0.elapsed();\n"
    f"        while t0.elapsed() < spent.mul_f64(1.0 + {p}) {{\n"
    "            std::hint::spin_loop();\n"
    "        }\n"
)
open(path, "w").write(src.replace(anchor, spin + anchor))
PY
  git -c user.name=bench -c user.email=bench@localhost commit -q -am "decode ${p}% slower"
}

printf 'slowdown_pct\ttrial\toutcome\tchange_pct\tlow_pct\thigh_pct\tpairs\tstopped\tmeasure_s\tbuild_s\n' >"$out"
for p in "${slowdowns[@]}"; do
  make_head "$p"
  for t in $(seq "$trials"); do
    # The head receipt of `run` itself is kept small: the comparison is what is measured.
    set +e
    "$bin" run --compare base --no-claims --tokens 8 --runs 1 \
      --output-dir "$work/out" >"$work/stdout" 2>"$work/stderr"
    code=$?
    set -e
    if [ ! -f "$work/out/report.json" ]; then
      echo "trial $t: no report (exit $code)" >&2
      tail -20 "$work/stderr" >&2
      exit 1
    fi
    python3 - "$work/out/report.json" "$p" "$t" >>"$out" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))["comparison"]
pct = lambda x: "" if x is None else f"{x * 100:.2f}"
lo, hi = (c.get("interval") or [None, None])
print("\t".join([sys.argv[2], sys.argv[3], c.get("outcome", c["status"]), pct(c.get("change")),
                 pct(lo), pct(hi), str(len(c["pairs"])), c.get("stopped", ""),
                 f"{c['seconds']:.0f}", f"{c['build_seconds']:.0f}"]))
PY
    tail -1 "$out"
    rm -rf "$work/out"
  done
done

python3 - "$out" <<'PY'
import csv, sys, collections
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
by = collections.defaultdict(list)
for r in rows:
    by[r["slowdown_pct"]].append(r)
for p, rs in by.items():
    n = len(rs)
    count = collections.Counter(r["outcome"] for r in rs)
    secs = sorted(float(r["measure_s"]) for r in rs)
    print(f"slowdown {p}%: {n} trials: " + ", ".join(f"{k} {v}" for k, v in count.most_common())
          + f"; measuring median {secs[n // 2]:.0f} s, max {secs[-1]:.0f} s")
PY
echo "trials: $out" >&2
