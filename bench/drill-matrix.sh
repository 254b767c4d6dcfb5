#!/usr/bin/env bash
# The drill numbers of BENCHMARKS.md: for each row, a fresh gateway (bench/gateway.sh), one drill run,
# the gateway's /metrics fallbacks and breaker transitions afterwards (counted over warm-up and run).
# Each row runs a 30 s warm-up drill first and measures the second drill only. Output: one block per row.
# Usage: bench/drill-matrix.sh OUT_DIR "label|calls|gateway flags" ...
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="$1"; shift
mkdir -p "$out"
for row in "$@"; do
  IFS='|' read -r label calls flags <<<"$row"
  # shellcheck disable=SC2086
  read -r url token pid < <("$root/bench/gateway.sh" "$out/$label" --retell-api-key drillkey \
      --set capacity.max-active-calls=5000 --set capacity.queue-size=1000 $flags)
  # Warm-up: the same drill for 30 s first, so the figures are steady state, not the JIT compiling the path.
  java -jar "$root/app/target/callguard.jar" drill --target "$url" --calls "$calls" --duration 30s \
      --turn-interval 1s --retell-api-key drillkey --socket-token "$token" > "$out/$label.warmup.txt" 2>/dev/null || true
  load_before=$(cut -d' ' -f1 /proc/loadavg)
  java -jar "$root/app/target/callguard.jar" drill --target "$url" --calls "$calls" --duration 20s \
      --turn-interval 1s --retell-api-key drillkey --socket-token "$token" > "$out/$label.txt" 2>/dev/null || true
  load_after=$(cut -d' ' -f1 /proc/loadavg)
  curl -s "${url}metrics" | grep -E '^callguard_(fallbacks_total|breaker_transitions_total|turn_over_budget_total)' \
      > "$out/$label.metrics" || true
  kill "$pid"; while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
  echo "== $label: calls=$calls flags=[$flags] load $load_before -> $load_after"
  head -4 "$out/$label.txt"
  grep -E 'silent|stale|duplicate|misrouted|turns_sent|turns_answered' "$out/$label.txt" || true
  cat "$out/$label.metrics"
done
