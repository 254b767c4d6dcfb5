#!/usr/bin/env bash
# The webhook figures of BENCHMARKS.md: for each row, a fresh gateway (bench/gateway.sh), a warm-up of WARMUP
# (default 100000) webhooks as fast as 32 in flight allow (the JIT compiles the path; not reported), a 5 s pause,
# then the measured run: bench-webhooks at a fixed offered rate (open loop; latency from when each webhook was
# due) for COUNT webhooks after GEN_WARMUP (default 20000) unmeasured ones in the same process. bench-webhooks
# reports the gateway's and its own CPU use over the measured part and the processor's backlog, both read from
# the gateway's /metrics on its admin listener.
# Usage: bench/webhooks.sh OUT_DIR "label|gateway flags|rate|count" ...   (rate 0: closed loop, 32 in flight)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="$1"; shift
mkdir -p "$out"
for row in "$@"; do
  IFS='|' read -r label flags rate count <<<"$row"
  # shellcheck disable=SC2086
  read -r url _ pid admin < <("$root/bench/gateway.sh" "$out/$label" --retell-api-key benchkey $flags)
  "$root/bin/callguard" bench-webhooks --target "$url" --admin-url "$admin" --retell-api-key benchkey \
      --count "${WARMUP:-100000}" --concurrency 32 --warmup 3000 > "$out/$label.warmup.txt" 2>&1 || true
  sleep 5
  "$root/bin/callguard" bench-webhooks --target "$url" --admin-url "$admin" --retell-api-key benchkey \
      --count "$count" --rate "$rate" \
      --concurrency "${CONCURRENCY:-64}" --warmup "${GEN_WARMUP:-20000}" > "$out/$label.txt" 2>&1 || true
  kill "$pid"; while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
  echo "== $label: flags=[$flags] rate=$rate count=$count"
  cat "$out/$label.txt"
done
