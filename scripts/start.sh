#!/usr/bin/env bash
# Starts Kiln with everything it needs on this machine: npm dependencies, one distribution registry
# (Debian docker-registry) per region of KILN_REGIONS with token auth and notifications pointing at
# Kiln, then the API. Data (SQLite, keys, registry storage) lives in $KILN_DATA_DIR. Ctrl-C stops all.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$KILN_ROOT"
ensure_node_modules
ensure_debian_packages docker-registry
export KILN_DATA_DIR="${KILN_DATA_DIR:-$KILN_ROOT/data}"
mkdir -p "$KILN_DATA_DIR"

children=()
stop_all() { for pid in "${children[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap stop_all EXIT INT TERM

while read -r region file address; do
  log "registry for region $region on $address (config $file)"
  docker-registry serve "$file" >>"$KILN_DATA_DIR/registry-$region.log" 2>&1 &
  children+=($!)
done < <(node --import tsx src/cli.ts registry write-configs)

log "data in $KILN_DATA_DIR; admin token in $KILN_DATA_DIR/admin-token (unless KILN_ADMIN_TOKEN is set)"
node --import tsx src/main.ts &
children+=($!)
wait -n "${children[@]}"
