#!/usr/bin/env bash
# The drill numbers of BENCHMARKS.md: for each row, a fresh gateway (bench/gateway.sh), one drill run,
# the gateway's /metrics (its admin listener) fallbacks and breaker transitions afterwards (counted over warm-up
# and run).
# Each row's drill warms up first in the same process (drill --warmup WARMUP, default 90s), pauses 5 s for the
# warm-up calls' endings to settle, and reports the measured 20 s only. Calls start spread over DRILL_RAMP_UP
# (default 5s). The gateway runs on the launcher's JVM options (ZGC, -Xmx2g).
# Output: one block per row, with the gateway's and the drill's CPU use during the measured drill.
# Usage: bench/drill-matrix.sh OUT_DIR "label|calls|gateway flags" ...
#   e.g. bench/drill-matrix.sh out "kafka-200|200|" "baseline-200|200|--bench-baseline"
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="$1"; shift
# The drill's JVM: ZGC like the gateway, with a larger heap (DRILL_JAVA_OPTS to change): it is the measuring
# instrument, sharing the two cores, and at 500 calls its own GC work otherwise shows up in the figures.
drill_jvm="${DRILL_JAVA_OPTS:--XX:+UseZGC -Xmx6g}"
mkdir -p "$out"
for row in "$@"; do
  IFS='|' read -r label calls flags <<<"$row"
  # shellcheck disable=SC2086
  read -r url token pid admin < <("$root/bench/gateway.sh" "$out/$label" --retell-api-key drillkey \
      --set capacity.max-active-calls=5000 --set capacity.queue-size=1000 $flags)
  # One drill process: a warm-up of WARMUP (not reported; the JIT is still compiling the path after 30 s, in the
  # gateway and in the drill's own fresh JVM), a 5 s pause, then the measured 20 s. The report says how much CPU
  # the drill's process and the gateway's used over the measured part.
  load_before=$(cut -d' ' -f1 /proc/loadavg)
  CALLGUARD_JAVA_OPTS="$drill_jvm" "$root/bin/callguard" drill --target "$url" --calls "$calls" --warmup "${WARMUP:-90s}" \
      --duration 20s --ramp-up "${DRILL_RAMP_UP:-5s}" --turn-interval 1s --retell-api-key drillkey --socket-token "$token" \
      --admin-url "$admin" > "$out/$label.txt" 2>/dev/null || true
  load_after=$(cut -d' ' -f1 /proc/loadavg)
  curl -s "${admin}metrics" | grep -E '^callguard_(fallbacks_total|breaker_transitions_total|turn_over_budget_total)' \
      > "$out/$label.metrics" || true
  kill "$pid"; while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
  echo "== $label: calls=$calls flags=[$flags] load $load_before -> $load_after"
  head -4 "$out/$label.txt"
  grep -E 'process cpu|silent|stale|duplicate|misrouted|turns_sent|turns_answered' "$out/$label.txt" || true
  cat "$out/$label.metrics"
done
