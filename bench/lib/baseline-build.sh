#!/usr/bin/env bash
# The baseline of bench/build.bench.ts: the script a skilled engineer writes for the job Kiln does
# on a push webhook. A shallow clone of the pushed branch, then every variant built with BuildKit
# and pushed, all variants at once (one background job per variant), then wait for all of them.
#
#   baseline-build.sh <clone-url> <branch> <image> <variant>...
#
# Builds Dockerfile.<variant> of the clone and pushes <image>:<variant>. The registry login is
# the docker client's ($DOCKER_CONFIG). When $TIMINGS names a file, the script appends to it
# "clone <end> <commit>", per variant "<variant> <start> <built> <pushed>" ($EPOCHREALTIME), and
# last "cpu <user> <sys>" of its processes: the bench reads where the time went, and checks that
# the fresh commit was built.
set -euo pipefail
url=$1 branch=$2 image=$3
shift 3
docker=${DOCKER:-/usr/bin/docker}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

git clone --quiet --depth 1 --branch "$branch" "$url" "$work/src"
cd "$work/src"
if [[ -n ${TIMINGS:-} ]]; then echo "clone $EPOCHREALTIME $(git rev-parse HEAD)" >>"$TIMINGS"; fi

pids=()
for v in "$@"; do
  (
    start=$EPOCHREALTIME
    DOCKER_BUILDKIT=1 "$docker" build --quiet -f "Dockerfile.$v" -t "$image:$v" . >/dev/null
    built=$EPOCHREALTIME
    "$docker" push --quiet "$image:$v" >/dev/null
    if [[ -n ${TIMINGS:-} ]]; then echo "$v $start $built $EPOCHREALTIME" >>"$TIMINGS"; fi
  ) &
  pids+=($!)
done
status=0
for p in "${pids[@]}"; do wait "$p" || status=1; done
# The CPU this script's own processes used (git, the docker clients), from bash's `times`.
# (`times` runs in this shell, not in a pipeline's subshell, which would count nothing.)
if [[ -n ${TIMINGS:-} ]]; then
  times >"$work/times"
  echo "cpu $(tail -n 1 "$work/times")" >>"$TIMINGS"
fi
exit "$status"
