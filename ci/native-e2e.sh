#!/usr/bin/env bash
# native/action.yml run the way the runner runs a composite action (through
# ci/native-runner.py: inputs substituted, each step in `bash -eo pipefail`, step
# outputs), with the container runs' inputs: measure synthetic:tiny, then verify
# its receipt; then the "Find or install cargo" step with no cargo and no network,
# which must fail with its own error. Called by ci/container-e2e.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$PWD"
cache="${RECEIPT_E2E_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/receipt-action-e2e}"
work="$(mktemp -d "${TMPDIR:-/tmp}/receipt-native.XXXXXX")"
trap 'rm -rf "$work"' EXIT
fail() { echo "native-e2e: FAIL: $*" >&2; exit 1; }
python3 -c 'import yaml' 2>/dev/null || fail "python3 cannot import yaml (pip install pyyaml)"
# The interpreter itself, not a shim: the offline check runs with a bare PATH.
py="$(python3 -c 'import sys; print(sys.executable)')"

ws="$work/work/repo/repo"
mkdir -p "$ws" "$work/_temp"
# shellcheck source=ci/e2e-fixture.sh
. "$repo/ci/e2e-fixture.sh"
printf '{"ref":"refs/heads/main","before":"%s","after":"%s","repository":{"full_name":"octo/repo"}}' \
  "$base_sha" "$head_sha" >"$work/_temp/event.json"

# The runner's environment for a step on a host runner. The tool cache persists
# under the e2e cache, as on a self-hosted runner: the release build is reused.
export GITHUB_ACTIONS=true CI=true GITHUB_WORKSPACE="$ws" GITHUB_ACTION_PATH="$repo/native"
export GITHUB_EVENT_NAME=push GITHUB_EVENT_PATH="$work/_temp/event.json"
export GITHUB_REPOSITORY=octo/repo GITHUB_SHA="$head_sha" GITHUB_REF=refs/heads/main
export GITHUB_RUN_ID=4243 GITHUB_RUN_ATTEMPT=1 GITHUB_JOB=receipts-native
export GITHUB_SERVER_URL=https://github.com GITHUB_API_URL=http://127.0.0.1:9
export RUNNER_OS=Linux RUNNER_ARCH=X64 RUNNER_TEMP="$work/_temp" RUNNER_TOOL_CACHE="$cache/toolcache"
export E2E_GITHUB_TOKEN=ghs_e2eNativeToken
# synthetic:tiny fails cpu-i2s's roofline floor on any machine (see container-e2e.sh):
# exit 1 is its verdict, and the check below ties it to the outputs and report.
measure_exit=1

native() {
  local name="$1" expected="$2"
  shift 2
  export GITHUB_STEP_SUMMARY="$work/_temp/summary-$name"
  : >"$GITHUB_STEP_SUMMARY"
  local code=0 t0
  t0=$(date +%s)
  (cd "$ws" && python3 "$repo/ci/native-runner.py" "$repo/native/action.yml" \
    "$work/$name.json" "$@") >"$work/$name.log" 2>&1 || code=$?
  echo "native $name: exit $code (expected $expected), $(($(date +%s) - t0)) s"
  [ "$code" = "$expected" ] || { tail -40 "$work/$name.log"; fail "native $name: exit $code"; }
  python3 - "$work/$name.json" "$work/$name.out" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
with open(sys.argv[2], "w") as f:
    for k, v in d["outputs"].items():
        f.write(f"{k}<<EOF_E2E\n{v}\nEOF_E2E\n")
print("  cache paths:", ", ".join(d["cache_paths"]))
PY
  python3 "$repo/ci/e2e-check.py" "$name" "$code" "$ws" "$work/$name.out" \
    "$GITHUB_STEP_SUMMARY" "$work/$name.log" || { tail -40 "$work/$name.log"; fail "native $name"; }
}

native measure-tiny "$measure_exit" mode=measure model=synthetic:tiny output-dir=out/tiny
native verify "$measure_exit" mode=verify receipts=out/tiny/receipt.json output-dir=out/verify

# The rustup fallback with no cargo and no network: its own error, exit 2.
[ "$(id -u)" = 0 ] || fail "the offline check needs root (unshare -n)"
mkdir -p "$work/empty-home"
code=0
unshare -n env PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME="$work/empty-home" \
  "$py" "$repo/ci/native-runner.py" "$repo/native/action.yml" "$work/offline.json" \
  --only-first-step mode=verify >"$work/offline.log" 2>&1 || code=$?
echo "native offline rustup fallback: exit $code (expected 2)"
sed 's/^/  /' "$work/offline.log" | grep -v '^  ::' || true
[ "$code" = 2 ] || fail "offline: exit $code"
grep -q "cargo not found: installing Rust with rustup" "$work/offline.log" || fail "offline: no fallback"
grep -q "::error title=receipt-action::cargo is not on PATH and rustup could not install it" \
  "$work/offline.log" || fail "offline: not the action's error"
