#!/usr/bin/env bash
# Time from `bin/callguard run` to its ready line, N runs on a warm build (fresh data dir each run unless
# REUSE=1). Prints each run in ms, then the median. Flags after N go to `run`, e.g.
#   bench/ready-time.sh 3 --set warmup.enabled=false          # the gateway's own start, without the JIT warm-up
#   CALLGUARD_CDS=off bench/ready-time.sh 3 --set warmup.enabled=false   # ... and without the class-data cache
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
runs="${1:-5}"; [ $# -gt 0 ] && shift
dir="$(mktemp -d)"
times=()
for i in $(seq "$runs"); do
  [ "${REUSE:-0}" = 1 ] || rm -rf "$dir/data"
  start=$(date +%s%N)
  coproc CG { exec "$root/bin/callguard" run --data-dir "$dir/data" --http-port 0 --admin-port 0 --set broker.port=0 \
      --retell-api-key bench "$@" 2>"$dir/stderr.log"; }
  pid=$CG_PID
  while read -r line <&"${CG[0]}"; do
    case "$line" in "callguard ready:"*) break ;; esac
  done
  end=$(date +%s%N)
  times+=($(( (end - start) / 1000000 )))
  kill -TERM "$pid"
  while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  echo "run $i: ${times[-1]} ms"
done
sorted=($(printf '%s\n' "${times[@]}" | sort -n))
echo "median: ${sorted[$(( runs / 2 ))]} ms over $runs runs (min ${sorted[0]}, max ${sorted[-1]})"
rm -rf "$dir"
