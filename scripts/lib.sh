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

# QEMU user-mode emulation, so that the engine's BuildKit can build images for another platform
# (linux/arm64 on an amd64 machine): Debian's qemu-user-static registers its interpreters with
# binfmt_misc through binfmt-support, with flag F (the kernel opens the interpreter once, so it also
# runs inside build containers). Idempotent. Best effort: when it cannot be set up (not root, no
# binfmt_misc in this kernel or container) it warns and goes on; single-platform builds work as
# before and a build for a platform this machine cannot run fails naming the platform.
ensure_emulation() {
  local dir=/proc/sys/fs/binfmt_misc
  if [ "$(id -u)" -ne 0 ]; then
    emulation_ready || log "warning: QEMU emulation is not set up and only root can set it up (Debian qemu-user-static binfmt-support); multi-platform builds will fail"
    return 0
  fi
  if ! (ensure_debian_packages qemu-user-static binfmt-support); then
    log "warning: could not install qemu-user-static and binfmt-support; multi-platform builds will fail"
    return 0
  fi
  if ! grep -qs " $dir binfmt_misc " /proc/mounts; then
    mount -t binfmt_misc binfmt_misc "$dir" 2>/dev/null \
      || { log "warning: could not mount binfmt_misc at $dir; multi-platform builds will fail"; return 0; }
  fi
  update-binfmts --enable >/dev/null 2>&1 || true
  emulation_ready || log "warning: QEMU's binfmt_misc handlers are not enabled (update-binfmts --enable failed); multi-platform builds will fail"
}

# True when the kernel runs binaries of the other common platform (arm64 on amd64, amd64 on arm64).
emulation_ready() {
  local handler=qemu-aarch64
  [ "$(uname -m)" = aarch64 ] && handler=qemu-x86_64
  [ "$(head -1 "/proc/sys/fs/binfmt_misc/$handler" 2>/dev/null)" = enabled ]
}

# The tests' arm64 base image is made offline from Debian's arm64 busybox-static package: adds the
# arm64 architecture to dpkg, refreshes the package lists only when they lack it, and downloads the
# .deb (not installed) into $1. Warns and goes on when it cannot: the tests that need the image then
# fail naming this step.
ensure_arm64_busybox_deb() {
  local dir="$1"
  if compgen -G "$dir/busybox-static_*_arm64.deb" >/dev/null; then return 0; fi
  mkdir -p "$dir"
  if ! apt-cache show busybox-static:arm64 >/dev/null 2>&1; then
    if [ "$(id -u)" -ne 0 ]; then
      log "warning: only root can add dpkg's arm64 architecture; the arm64 base image of the tests will be missing"
      return 0
    fi
    if [ "$(dpkg --print-architecture)" != arm64 ] && ! dpkg --print-foreign-architectures | grep -qx arm64; then
      log "adding the arm64 architecture to dpkg (for busybox-static:arm64)"
      dpkg --add-architecture arm64
    fi
    log "refreshing the package lists for arm64 (apt-get update)"
    apt-get update -qq || true
  fi
  local out
  # apt warns that root downloads unsandboxed (its _apt user may not write $dir): harmless.
  if ! out="$(cd "$dir" && apt-get download -qq busybox-static:arm64 2>&1)" \
    || ! compgen -G "$dir/busybox-static_*_arm64.deb" >/dev/null; then
    log "warning: apt-get download busybox-static:arm64 failed; the arm64 base image of the tests will be missing: $out"
  fi
}

# PostgreSQL for the tests (KILN_TEST_DB=postgres): Debian's server binaries, installed with apt-get
# when missing. The newest /usr/lib/postgresql/<version>/bin, or $KILN_PG_BINDIR.
postgres_bindir() {
  if [ -n "${KILN_PG_BINDIR:-}" ]; then printf '%s\n' "$KILN_PG_BINDIR"; return 0; fi
  local dir
  dir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
  [ -n "$dir" ] && [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ] || return 1
  printf '%s\n' "$dir"
}

# The server refuses to run as root: as root it runs as the `postgres` system user (made when
# missing), otherwise as the user running the script.
postgres_user() {
  if [ "$(id -u)" -eq 0 ]; then echo postgres; else id -un; fi
}

# Runs "$@" as postgres_user, from directory $1 (the postgres user may not enter the caller's).
postgres_as() {
  local cwd="$1"; shift
  if [ "$(id -u)" -eq 0 ]; then
    (cd "$cwd" && runuser -u postgres -- "$@")
  else
    (cd "$cwd" && "$@")
  fi
}

# A throw-away PostgreSQL cluster for the tests in $1/postgres (data/, server.log and the unix
# socket): made once with initdb (superuser `postgres`, trust on the socket and on 127.0.0.1/::1,
# durability off for speed), started on 127.0.0.1 port $KILN_TEST_PG_PORT, else 55432, else (when
# that is taken and KILN_TEST_PG_PORT is unset) a free port; a server already running from the same
# directory is reused. Exports KILN_TEST_PG_URL=postgres://postgres@127.0.0.1:<port>/postgres.
ensure_postgres() {
  local state="$1"
  local bindir
  if ! bindir="$(postgres_bindir)"; then
    ensure_debian_packages postgresql
    bindir="$(postgres_bindir)" || die "no PostgreSQL server binaries in /usr/lib/postgresql/*/bin after installing postgresql"
  fi
  local user dir data
  user="$(postgres_user)"
  dir="$state/postgres"
  data="$dir/data"
  if [ "$(id -u)" -eq 0 ] && ! id -u postgres >/dev/null 2>&1; then
    log "creating the system user postgres (PostgreSQL refuses to run as root)"
    useradd --system --user-group --home-dir /var/lib/postgresql --no-create-home --shell /usr/sbin/nologin postgres
  fi
  mkdir -p "$dir"
  if [ "$(id -u)" -eq 0 ]; then
    chown postgres: "$dir"
    # mktemp -d makes 0700 directories: let the postgres user through the state directory.
    runuser -u postgres -- test -w "$dir" || chmod o+x "$state"
    runuser -u postgres -- test -w "$dir" \
      || die "the postgres user cannot write $dir: let it through $(dirname "$state") and its parents (chmod o+x)"
  fi

  if [ -f "$data/PG_VERSION" ]; then
    local version
    version="$(cat "$data/PG_VERSION")"
    if [ -z "${KILN_PG_BINDIR:-}" ] && [ -x "/usr/lib/postgresql/$version/bin/pg_ctl" ]; then
      bindir="/usr/lib/postgresql/$version/bin"
    fi
    if postgres_as "$dir" "$bindir/pg_ctl" status -D "$data" >/dev/null 2>&1; then
      local running
      running="$(sed -n 4p "$data/postmaster.pid")"
      if postgres_ready "$bindir" "$running"; then
        export KILN_TEST_PG_URL="postgres://postgres@127.0.0.1:$running/postgres"
        log "PostgreSQL already running from $data on 127.0.0.1:$running"
        return 0
      fi
    fi
  else
    log "initdb: PostgreSQL cluster in $data (runs as $user)"
    postgres_as "$dir" "$bindir/initdb" -D "$data" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 \
      >"$dir/initdb.log" 2>&1 || { tail -20 "$dir/initdb.log" >&2; die "initdb failed (log: $dir/initdb.log)"; }
    cat >"$data/pg_hba.conf" <<HBA
# Written by scripts/lib.sh ensure_postgres: a throw-away test cluster, no passwords.
local all all                trust
host  all all 127.0.0.1/32   trust
host  all all ::1/128        trust
HBA
    cat >>"$data/postgresql.conf" <<CONF

# Written by scripts/lib.sh ensure_postgres: fast, not durable (a throw-away test cluster).
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir'
max_connections = 300
fsync = off
synchronous_commit = off
full_page_writes = off
CONF
    if [ "$(id -u)" -eq 0 ]; then chown postgres: "$data/pg_hba.conf" "$data/postgresql.conf"; fi
  fi

  local port="${KILN_TEST_PG_PORT:-55432}"
  if port_in_use "$port"; then
    [ -z "${KILN_TEST_PG_PORT:-}" ] || die "KILN_TEST_PG_PORT=$port is in use by another program"
    port="$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
    log "port 55432 is taken; PostgreSQL for the tests uses the free port $port"
  fi
  log "starting PostgreSQL on 127.0.0.1:$port (data in $data, log $dir/server.log)"
  postgres_as "$dir" "$bindir/pg_ctl" start -D "$data" -l "$dir/server.log" -w -t 60 -o "-c port=$port" >/dev/null \
    || { tail -20 "$dir/server.log" >&2; die "PostgreSQL did not start (log: $dir/server.log)"; }
  for _ in $(seq 1 60); do
    if postgres_ready "$bindir" "$port"; then
      export KILN_TEST_PG_URL="postgres://postgres@127.0.0.1:$port/postgres"
      return 0
    fi
    sleep 0.5
  done
  tail -20 "$dir/server.log" >&2
  die "PostgreSQL on 127.0.0.1:$port does not accept connections (log: $dir/server.log)"
}

postgres_ready() { "$1/pg_isready" -q -h 127.0.0.1 -p "$2" -U postgres -d postgres >/dev/null 2>&1; }

# True when something accepts TCP connections on 127.0.0.1:$1.
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Stops the cluster of ensure_postgres in $1/postgres, if it runs (fast shutdown); keeps the files.
stop_postgres() {
  local dir="$1/postgres"
  [ -f "$dir/data/postmaster.pid" ] || return 0
  local bindir version
  version="$(cat "$dir/data/PG_VERSION" 2>/dev/null || true)"
  if [ -z "${KILN_PG_BINDIR:-}" ] && [ -x "/usr/lib/postgresql/$version/bin/pg_ctl" ]; then
    bindir="/usr/lib/postgresql/$version/bin"
  else
    bindir="$(postgres_bindir)" || return 0
  fi
  postgres_as "$dir" "$bindir/pg_ctl" status -D "$dir/data" >/dev/null 2>&1 || return 0
  postgres_as "$dir" "$bindir/pg_ctl" stop -D "$dir/data" -m fast -w -t 60 >/dev/null 2>&1 \
    || log "warning: could not stop PostgreSQL in $dir/data"
}
