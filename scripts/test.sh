#!/usr/bin/env bash
# Runs the whole test suite from a clean clone: installs what the tests need (npm packages; Debian's
# docker.io, docker-registry, redis-server, busybox-static, iproute2 (a second engine's bridge), and chromium for the console's browser
# tests), sets up QEMU emulation for multi-platform builds (qemu-user-static, binfmt-support),
# downloads Debian's arm64 busybox-static .deb into .kiln-test/debs (the offline arm64 base image;
# adds dpkg's arm64 architecture first), starts the Docker engine when it is not running (tests
# start their own registries and Redis servers on free ports), then runs unit, integration,
# end-to-end and browser tests. First it runs `npm run lint` (formatting, tsc, the architecture
# check) and stops there when that fails.
# Extra arguments go to vitest. Browser screenshots land in test/artifacts/console/.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$KILN_ROOT"
ensure_node_modules

log "linting (npm run lint: prettier --check, tsc, dependency-cruiser)"
npm run -s lint

ensure_debian_packages docker.io docker-registry redis-server busybox-static chromium iproute2
ensure_emulation
ensure_arm64_busybox_deb "$KILN_ROOT/.kiln-test/debs"
ensure_dockerd "$KILN_ROOT/.kiln-test"

results="$(mktemp -t kiln-vitest-XXXXXX.json)"
trap 'rm -f "$results"' EXIT
status=0
npx vitest run --reporter=default --reporter=json --outputFile.json="$results" "$@" || status=$?
# One plain closing line that any CI can read.
node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  // A suite whose set-up fails reports its tests as skipped, not failed: say so.
  console.log(`tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests} skipped; suites: ${r.numFailedTestSuites} failed`);
' "$results" || true
exit "$status"
