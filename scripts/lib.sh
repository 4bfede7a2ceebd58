# Shared by scripts/start.sh and scripts/test.sh. Source it; do not run it.
set -euo pipefail

KILN_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

log() { printf '[kiln] %s\n' "$*" >&2; }
die() { printf '[kiln] error: %s\n' "$*" >&2; exit 1; }

require_node() {
  command -v node >/dev/null || die "Node.js 20.19 or newer is needed (none found on PATH)"
  node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)' \
    || die "Node.js 20.19 or newer is needed (found $(node --version))"
}

# Installs the exact locked dependencies when node_modules is missing or older than package-lock.json.
ensure_node_modules() {
  require_node
  local stamp="$KILN_ROOT/node_modules/.kiln-lock-sha256"
  local want
  want="$(sha256sum "$KILN_ROOT/package-lock.json" | cut -d' ' -f1)"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then return 0; fi
  log "installing npm dependencies (npm ci)"
  (cd "$KILN_ROOT" && npm ci --no-audit --no-fund --loglevel=error)
  echo "$want" > "$stamp"
}

# Installs Debian packages that are missing (root only; idempotent).
ensure_debian_packages() {
  local missing=()
  # "deinstall ok config-files" (removed, config kept) is not installed: ask for the exact status.
  for pkg in "$@"; do
    [ "$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null)" = "install ok installed" ] || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  [ "$(id -u)" -eq 0 ] || die "missing Debian packages: ${missing[*]} (run as root, or install them)"
  log "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
}

# Starts the Docker engine (Debian docker.io) when none answers; logs under $1.
ensure_dockerd() {
  local logdir="$1"
  ensure_debian_packages docker.io
  if docker_answers; then return 0; fi
  [ "$(id -u)" -eq 0 ] || die "the Docker engine is not running and only root can start it"
  mkdir -p "$logdir"
  log "starting dockerd (log: $logdir/dockerd.log)"
  nohup /usr/sbin/dockerd >"$logdir/dockerd.log" 2>&1 &
  for _ in $(seq 1 60); do
    docker_answers && return 0
    sleep 0.5
  done
  tail -20 "$logdir/dockerd.log" >&2
  die "dockerd did not come up"
}

docker_answers() { /usr/bin/docker info >/dev/null 2>&1; }
