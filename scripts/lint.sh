#!/usr/bin/env bash
# `npm run lint`: formatting (Prettier, .prettierrc.json), types (tsc) and the architecture check
# (dependency-cruiser, rules in .dependency-cruiser.mjs: every import points down, no cycles).
# Runs all three and fails if any of them fails. `npm run format` fixes the formatting.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
status=0
step() {
  printf '[lint] %s\n' "$1" >&2
  shift
  "$@" || status=1
}
step "formatting: prettier --check" npx prettier --check --log-level=warn .
step "types: tsc --noEmit" npx tsc --noEmit -p .
step "architecture: depcruise src workers" npx depcruise --config .dependency-cruiser.mjs src workers
exit "$status"
