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
