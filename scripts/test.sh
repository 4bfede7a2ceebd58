#!/usr/bin/env bash
# Runs the whole test suite from a clean clone: installs what the tests need (npm packages; Debian's
# docker.io, docker-registry, redis-server, busybox-static, iproute2 (a second engine's bridge), and chromium for the console's browser
# tests), sets up QEMU emulation for multi-platform builds (qemu-user-static, binfmt-support),
# downloads Debian's arm64 busybox-static .deb into .kiln-test/debs (the offline arm64 base image;
# adds dpkg's arm64 architecture first), starts the Docker engine when it is not running (tests
# start their own registries and Redis servers on free ports), then runs unit, integration,
# end-to-end and browser tests. First it runs `npm run lint` (formatting, tsc, the architecture
# check) and stops there when that fails.
# Two passes over the control-plane database: first every test on SQLite, then the integration and
# end-to-end tests (not the unit tests, which use no database) on PostgreSQL: it installs Debian's
# postgresql when missing and starts a throw-away cluster (ensure_postgres: 127.0.0.1 port
# $KILN_TEST_PG_PORT, else 55432 or a free one) in a temporary directory that it deletes at the end;
# vitest gets KILN_TEST_DB=postgres and KILN_TEST_PG_URL (test/helpers/database.ts makes one
# database per Kiln instance there). KILN_TEST_DB=sqlite or KILN_TEST_DB=postgres runs one pass only.
# Each pass ends with its own "tests: ..." line; the exit status is non-zero when either fails.
# Extra arguments go to vitest (both passes). Browser screenshots land in test/artifacts/console/.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$KILN_ROOT"
ensure_node_modules
case "${KILN_TEST_DB:-both}" in
  both) passes=(sqlite postgres) ;;
  sqlite | postgres) passes=("$KILN_TEST_DB") ;;
  *) die "KILN_TEST_DB must be sqlite, postgres or unset (both passes), not '$KILN_TEST_DB'" ;;
esac

log "linting (npm run lint: prettier --check, tsc, dependency-cruiser)"
npm run -s lint

ensure_debian_packages docker.io docker-registry redis-server busybox-static chromium iproute2
# PostgreSQL's binaries now rather than after the SQLite pass (ensure_postgres would install them too).
if [[ " ${passes[*]} " == *" postgres "* ]] && ! postgres_bindir >/dev/null; then ensure_debian_packages postgresql; fi
ensure_emulation
ensure_arm64_busybox_deb "$KILN_ROOT/.kiln-test/debs"
ensure_dockerd "$KILN_ROOT/.kiln-test"

# The tests choose the database of each Kiln instance themselves.
unset KILN_DATABASE_URL

tmp="$(mktemp -d -t kiln-testrun-XXXXXX)"
cleanup() {
  stop_postgres "$tmp"
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Runs vitest once: $1 names the pass (sqlite, postgres), the rest goes to vitest. Prints one plain
# closing line that any CI can read and answers vitest's exit status.
run_pass() {
  local db="$1"; shift
  local results="$tmp/vitest-$db.json" status=0
  KILN_TEST_DB="$db" npx vitest run --reporter=default --reporter=json --outputFile.json="$results" "$@" || status=$?
  node -e '
    const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    // A suite whose set-up fails reports its tests as skipped, not failed: say so.
    console.log(`tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests} skipped; suites: ${r.numFailedTestSuites} failed; database: ${process.argv[2]}`);
  ' "$results" "$db" || echo "tests: no results (vitest exited with $status); database: $db"
  return "$status"
}

status=0
summary=()
for db in "${passes[@]}"; do
  pass_status=0
  if [ "$db" = sqlite ]; then
    log "==== pass: all tests on SQLite ===="
    # These need PostgreSQL, so they run in the PostgreSQL pass only: migrate-data.test.ts copies
    # SQLite into it; replicas.test.ts runs several API processes on one database.
    (unset KILN_TEST_PG_URL; run_pass sqlite --exclude test/integration/migrate-data.test.ts \
      --exclude test/e2e/replicas.test.ts "$@") || pass_status=$?
  else
    log "==== pass: integration and end-to-end tests on PostgreSQL (KILN_TEST_DB=postgres) ===="
    ensure_postgres "$tmp"
    log "KILN_TEST_PG_URL=$KILN_TEST_PG_URL"
    # Unit tests use no database; --passWithNoTests: a filter naming only unit tests leaves nothing here.
    # backup.test.ts tests `kiln backup`, a copy of the SQLite file (PostgreSQL is backed up with
    # pg_dump; that `kiln backup` refuses there is tested in the SQLite pass's cli test).
    run_pass postgres --exclude 'test/unit/**' --exclude test/integration/backup.test.ts --passWithNoTests "$@" ||
      pass_status=$?
    stop_postgres "$tmp"
  fi
  [ "$pass_status" -eq 0 ] && summary+=("$db: passed") || summary+=("$db: FAILED (exit $pass_status)")
  [ "$pass_status" -eq 0 ] || status="$pass_status"
done
if [ ${#passes[@]} -gt 1 ]; then log "passes: ${summary[*]}"; fi
exit "$status"
