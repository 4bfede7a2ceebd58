#!/usr/bin/env bash
# Starts Kiln with everything it needs on this machine: npm dependencies, Redis (the build queue)
# unless REDIS_URL already answers, the Docker engine when none answers (the build worker needs it;
# as root, from Debian's docker.io), one distribution registry (Debian docker-registry) per region
# of KILN_REGIONS with token auth and notifications pointing at Kiln, then Kiln itself (API and a
# build worker, KILN_ROLE=all). For the worker it also sets up QEMU emulation (Debian
# qemu-user-static, binfmt-support) so that builds can target other platforms (linux/arm64).
# Data (SQLite, keys, git mirrors, registry storage, Redis) lives in $KILN_DATA_DIR. With
# KILN_DATABASE_URL=postgres://user@host:port/db the control plane uses that PostgreSQL database
# instead of SQLite; the server must already run (it is checked here, not started).
# Ctrl-C stops all but dockerd.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$KILN_ROOT"
ensure_node_modules
ensure_debian_packages docker-registry redis-server
export KILN_DATA_DIR="${KILN_DATA_DIR:-$KILN_ROOT/data}"
if [ "${KILN_ROLE:-all}" != "api" ]; then
  ensure_emulation
  ensure_dockerd "$KILN_DATA_DIR"
fi
export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379}"
mkdir -p "$KILN_DATA_DIR"

if [ -n "${KILN_DATABASE_URL:-}" ]; then
  log "control-plane database: PostgreSQL (KILN_DATABASE_URL)"
  node -e '
    const pg = require("pg");
    const client = new pg.Client({ connectionString: process.argv[1], connectionTimeoutMillis: 10000 });
    client.connect().then(() => client.end(), (err) => {
      const u = new URL(process.argv[1]); u.password = "";
      console.error(`[kiln] error: PostgreSQL at ${u} does not answer: ${err.message}`);
      process.exit(1);
    });
  ' "$KILN_DATABASE_URL"
fi

children=()
stop_all() { for pid in "${children[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap stop_all EXIT INT TERM

redis_port="$(node -e 'const u=new URL(process.argv[1]); process.stdout.write(u.port||"6379")' "$REDIS_URL")"
if ! redis-cli -u "$REDIS_URL" ping >/dev/null 2>&1; then
  mkdir -p "$KILN_DATA_DIR/redis"
  log "starting redis-server on 127.0.0.1:$redis_port (data in $KILN_DATA_DIR/redis)"
  redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$KILN_DATA_DIR/redis" --appendonly yes >>"$KILN_DATA_DIR/redis.log" 2>&1 &
  children+=($!)
fi

while read -r region file address; do
  log "registry for region $region on $address (config $file)"
  docker-registry serve "$file" >>"$KILN_DATA_DIR/registry-$region.log" 2>&1 &
  children+=($!)
done < <(node --import tsx src/cli.ts registry write-configs)

log "data in $KILN_DATA_DIR; admin token in $KILN_DATA_DIR/admin-token (unless KILN_ADMIN_TOKEN is set)"
npm run --silent build
bin/kiln-server &
children+=($!)
wait -n "${children[@]}"
