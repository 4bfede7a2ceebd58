#!/usr/bin/env bash
# Runs the whole test suite from a clean clone: installs what the tests need, type-checks, then
# runs unit, integration and end-to-end tests. Extra arguments go to vitest.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$KILN_ROOT"
ensure_node_modules

log "type-checking"
npx tsc --noEmit -p .

results="$(mktemp -t kiln-vitest-XXXXXX.json)"
trap 'rm -f "$results"' EXIT
status=0
npx vitest run --reporter=default --reporter=json --outputFile.json="$results" "$@" || status=$?
# One plain closing line that any CI can read.
node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  console.log(`tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed`);
' "$results" || true
exit "$status"
