#!/usr/bin/env bash
# The GPU part of the cuda backend, in one unattended run on a GPU machine (H100/H200,
# CUDA 13 driver + NVRTC, no Rust, no network). It needs a bitnet-engine built
# beforehand on an x86-64 machine with `cargo build --release -p bitnet-engine
# --features gpu`, and optionally policy-check to verify the receipt.
#
#   bash engine/cuda/device-check.sh BITNET_ENGINE [OUT_DIR] [POLICY_CHECK]
#
# OUT_DIR defaults to $OUT. It ends up holding device-check.log, nvidia-smi.txt, one
# crosscheck-*.json per logits check, the bench receipt receipt-2b-4t-cuda.json, and
# policy-verify.txt / policy-check.txt. Exit status 0 only if every check passed.
set -uo pipefail

ENGINE=${1:?usage: device-check.sh BITNET_ENGINE [OUT_DIR] [POLICY_CHECK]}
OUT_DIR=${2:-${OUT:?set OUT or pass OUT_DIR}}
POLICY=${3:-}
mkdir -p "$OUT_DIR"
LOG="$OUT_DIR/device-check.log"
: >"$LOG"
FAILED=()

say() { echo "== $*" | tee -a "$LOG"; }
# Runs a named step with a time limit, logging its output; records a failure.
step() {
    local name=$1 limit=$2
    shift 2
    say "$name: $*"
    local t0=$SECONDS out
    out=$(mktemp)
    timeout "$limit" "$@" >"$out" 2>&1
    local rc=$?
    cat "$out" >>"$LOG"
    say "$name: exit $rc after $((SECONDS - t0)) s"
    if [ $rc -ne 0 ]; then
        FAILED+=("$name (exit $rc)")
        tail -n 8 "$out"
    fi
    rm -f "$out"
    return $rc
}

say "device-check $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(hostname)"
[ -x "$ENGINE" ] || chmod +x "$ENGINE" 2>/dev/null
if ! [ -x "$ENGINE" ]; then
    say "FAIL: $ENGINE is not an executable"
    exit 1
fi
if command -v sha256sum >/dev/null; then say "binary sha256 $(sha256sum "$ENGINE" | cut -d' ' -f1)"; fi

# 1. The device as the driver sees it.
if command -v nvidia-smi >/dev/null; then
    nvidia-smi 2>&1 | tee "$OUT_DIR/nvidia-smi.txt" | tee -a "$LOG"
    nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.memory --format=csv 2>&1 | tee -a "$LOG"
else
    say "nvidia-smi not found"
fi

# 2. NVRTC on the loader path: cudarc opens libnvrtc.so, .so.13 or .so.12 by name, so
#    when ldconfig does not know it, add the toolkit's (or a pip wheel's) lib dir.
if ! ldconfig -p 2>/dev/null | grep -q 'libnvrtc\.so'; then
    for d in /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib \
        /usr/local/cuda-13*/lib64 /usr/local/cuda-12*/lib64 /usr/lib/x86_64-linux-gnu \
        $(python3 -c 'import nvidia.cuda_nvrtc as m; print(list(m.__path__)[0] + "/lib")' 2>/dev/null); do
        if ls "$d"/libnvrtc.so* >/dev/null 2>&1; then
            export LD_LIBRARY_PATH="$d${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
            break
        fi
    done
fi
say "LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}"
ls -l $(echo "${LD_LIBRARY_PATH:-}" | tr ':' ' ') 2>/dev/null | grep -E 'libnvrtc|libcuda' | tee -a "$LOG"

# 3. GPU logits against the CPU engine: cosine >= 0.999 at every step and the same
#    greedy token, teacher-forced on the CPU's tokens.
cross() {
    local tag=$1
    shift
    step "crosscheck-$tag" 300 "$ENGINE" crosscheck --backend cuda --min-cosine 0.999 \
        --report "$OUT_DIR/crosscheck-$tag.json" "$@"
}
cross tiny-i2s --model synthetic:tiny --steps 32
cross tiny-tq2_0 --model synthetic:tiny --format tq2_0 --steps 32
cross tiny-f32-silu --model synthetic:tiny --embedding f32 --activation silu --steps 32
# Real shapes, 30 layers: a token may differ only at a near-tie (the CPU's top two
# logits closer than twice the largest logit difference); the report marks each.
cross 2b-4t-i2s --model synthetic:2b-4t --steps 16 --near-ties allow
cross 2b-4t-tq2_0 --model synthetic:2b-4t --format tq2_0 --steps 8 --near-ties allow

# 4. The benchmark: the receipt and the engine's own log.
RECEIPT="$OUT_DIR/receipt-2b-4t-cuda.json"
step bench 400 "$ENGINE" bench --backend cuda --model synthetic:2b-4t --tokens 128 --runs 5 \
    --receipt "$RECEIPT"

# 5. The receipt: backend cuda, GPU kernel ids only, host.gpu present.
if [ -s "$RECEIPT" ]; then
    if command -v python3 >/dev/null; then
        step receipt-fields 30 python3 - "$RECEIPT" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
gpu = lambda k: k.startswith(("gemm_", "wmma_", "cublas_", "cutlass_", "cuda_", "i2s_gpu_", "tl1_gpu_", "tl2_gpu_")) or k.endswith("_cuda")
problems = []
if r.get("backend") != "cuda": problems.append("backend is %r" % r.get("backend"))
if not r.get("kernels"): problems.append("no kernels")
cpu = [k for k in r.get("kernels", []) if not gpu(k)]
if cpu: problems.append("non-GPU kernel ids: %s" % cpu)
for want in ("i2s_gpu_gemv", "attention_cuda", "gemm_f16_lm_head"):
    if want not in r.get("kernels", []): problems.append("missing " + want)
if not r.get("host", {}).get("gpu"): problems.append("no host.gpu")
for k in r.get("kernel_stats", []):
    if k["calls"] <= 0 or k["total_ns"] <= 0: problems.append("empty stats %s" % k)
print("tokens_per_second", r.get("tokens_per_second"), "samples", r["measurement"]["samples_tokens_per_second"])
print("host.gpu", r.get("host", {}).get("gpu"))
print("calibration", r["calibration"]["mem_bw_gbps"], "GB/s, roofline", r["calibration"]["roofline_tokens_per_second"], "fraction", r["calibration"]["roofline_fraction"])
for k in r["kernel_stats"]: print("  %-24s %8d calls %12.3f ms" % (k["id"], k["calls"], k["total_ns"] / 1e6))
print("\n".join("PROBLEM: " + p for p in problems) or "receipt fields OK")
sys.exit(1 if problems else 0)
EOF
    else
        step receipt-fields 30 grep -q '"i2s_gpu_gemv"' "$RECEIPT"
    fi
else
    FAILED+=("no receipt")
fi

# 6. policy-check, if it was brought along: verify gates the result; check (the default
#    policy's envelopes) is recorded, and its verdict reported.
if [ -n "$POLICY" ] && [ -s "$RECEIPT" ]; then
    [ -x "$POLICY" ] || chmod +x "$POLICY" 2>/dev/null
    step policy-verify 60 bash -c 'set -o pipefail; "$0" verify "$1" 2>&1 | tee "$2"' \
        "$POLICY" "$RECEIPT" "$OUT_DIR/policy-verify.txt"
    say "policy-check check (default policy): informational"
    timeout 60 "$POLICY" check "$RECEIPT" >"$OUT_DIR/policy-check.txt" 2>&1
    say "policy-check check: exit $?"
    cat "$OUT_DIR/policy-check.txt" >>"$LOG"
fi

if [ ${#FAILED[@]} -eq 0 ]; then
    say "ALL CHECKS PASSED"
    exit 0
fi
say "FAILED: ${FAILED[*]}"
exit 1
