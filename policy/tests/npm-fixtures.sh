#!/usr/bin/env bash
# Install the npm packages the tests read fixtures from (policy/tests/npm):
# the official SARIF 2.1.0 schema and GitHub's example webhook payloads.
# Exact versions from the lock file.
set -euo pipefail
cd "$(dirname "$0")/npm"
npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
