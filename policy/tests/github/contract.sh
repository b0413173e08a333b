#!/usr/bin/env bash
# Contract test of the GitHub publisher: installs Prism and GitHub's OpenAPI
# description (policy/tests/github/contract/package.json), serves the description
# in validating mode, and runs the test that sends every kind of request the
# publisher makes to it (policy/src/github/contract.rs).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
npm ci --prefix "$here/contract" --no-audit --no-fund --ignore-scripts --loglevel=error

port="${PRISM_PORT:-4010}"
log="$(mktemp)"
"$here/contract/node_modules/.bin/prism" mock --errors -h 127.0.0.1 -p "$port" \
  "$here/contract/node_modules/@octokit/openapi/generated/api.github.com.json" >"$log" 2>&1 &
prism_pid=$!
trap 'kill "$prism_pid" 2>/dev/null || true; rm -f "$log"' EXIT

# Loading the 13 MB description takes about half a minute.
for _ in $(seq 240); do
  grep -q "Prism is listening" "$log" && break
  if ! kill -0 "$prism_pid" 2>/dev/null; then
    tail -20 "$log"
    echo "prism exited before listening" >&2
    exit 1
  fi
  sleep 1
done
grep -q "Prism is listening" "$log" || { tail -20 "$log"; echo "prism did not start in 240 s" >&2; exit 1; }

cd "$here/../../.."
out=$(RECEIPT_PRISM_URL="http://127.0.0.1:$port" \
  cargo test -p receipt-policy --lib github::contract -- --nocapture 2>&1) || { echo "$out"; exit 1; }
echo "$out"
# The test skips without the URL: make sure it ran here, against Prism.
if grep -q "SKIPPED" <<<"$out" || ! grep -Eq "test result: ok\. [1-9][0-9]* passed" <<<"$out"; then
  echo "the contract test did not run against Prism" >&2
  exit 1
fi
