#!/usr/bin/env bash
# Starts Kiln with everything it needs on this machine. Today that is the API (KILN_ROLE=api or
# all) over SQLite in $KILN_DATA_DIR; nothing else needs installing yet.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$KILN_ROOT"
ensure_node_modules
export KILN_DATA_DIR="${KILN_DATA_DIR:-$KILN_ROOT/data}"
mkdir -p "$KILN_DATA_DIR"
log "data in $KILN_DATA_DIR; admin token in $KILN_DATA_DIR/admin-token (unless KILN_ADMIN_TOKEN is set)"
exec node --import tsx src/main.ts
