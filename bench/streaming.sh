#!/usr/bin/env bash
# The streaming rows of BENCHMARKS.md: the gateway in front of a simulated hosted LLM (bin/callguard sim-llm, an
# OpenAI-compatible SSE server) and, optionally, a second one as its fallback backend; the drill plays Retell,
# paced as Retell paces, and reports time to first words and what the caller heard per turn.
# For each row: fresh sim-llm(s), a fresh gateway (bench/gateway.sh), one drill run (warm-up WARMUP, default 30s,
# unreported, then DURATION, default 30s), then the gateway's fallbacks, fillers, hedges and breaker transitions.
# Usage: bench/streaming.sh OUT_DIR "label|calls|primary sim-llm flags|fallback sim-llm flags (or empty)|gateway flags"
#   e.g. bench/streaming.sh out "hosted-200|200|--first-chunk-median-ms 300 --first-chunk-p99-ms 2000 --chunks 8 --chunk-gap-ms 40||"
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="$1"; shift
drill_jvm="${DRILL_JAVA_OPTS:--XX:+UseZGC -Xmx4g}"
mkdir -p "$out"

# Starts sim-llm with the given flags on a free port; prints "URL PID".
sim_llm() {
  local log="$1"; shift
  # shellcheck disable=SC2068
  "$root/bin/callguard" sim-llm --port 0 --seed 7 $@ > "$log" 2>&1 &
  local pid=$!
  for _ in $(seq 300); do
    if line=$(grep -m1 '^sim-llm ready:' "$log" 2>/dev/null); then
      echo "${line#sim-llm ready: } $pid"; return 0
    fi
    kill -0 "$pid" 2>/dev/null || { echo "sim-llm exited; see $log" >&2; return 1; }
    sleep 0.2
  done
  echo "sim-llm not ready; see $log" >&2; kill "$pid"; return 1
}

for row in "$@"; do
  IFS='|' read -r label calls primary fallback flags <<<"$row"
  mkdir -p "$out/$label"
  read -r primary_url primary_pid < <(sim_llm "$out/$label/sim-llm.log" "$primary")
  pids=("$primary_pid")
  fallback_flags=()
  if [ -n "$fallback" ]; then
    read -r fallback_url fallback_pid < <(sim_llm "$out/$label/sim-llm-fallback.log" "$fallback")
    pids+=("$fallback_pid")
    fallback_flags=(--set agent.fallback.backend=openai --set "agent.fallback.openai.url=$fallback_url")
  fi
  # shellcheck disable=SC2086
  read -r url token pid admin < <("$root/bench/gateway.sh" "$out/$label/gateway" --retell-api-key drillkey \
      --set capacity.max-active-calls=5000 --set capacity.queue-size=1000 --set agent.backend=openai \
      --set "agent.openai.url=$primary_url" --set cache.enabled=false "${fallback_flags[@]}" $flags)
  pids+=("$pid")
  load_before=$(cut -d' ' -f1 /proc/loadavg)
  CALLGUARD_JAVA_OPTS="$drill_jvm" "$root/bin/callguard" drill --target "$url" --calls "$calls" \
      --warmup "${WARMUP:-30s}" --duration "${DURATION:-30s}" --ramp-up "${DRILL_RAMP_UP:-5s}" --turn-interval 1s \
      --retell-api-key drillkey --socket-token "$token" --admin-url "$admin" > "$out/$label.txt" 2>"$out/$label/drill-stderr.log" \
      && status=passed || status="failed (exit $?)"
  load_after=$(cut -d' ' -f1 /proc/loadavg)
  curl -s "${admin}metrics" | grep -E '^callguard_(fallbacks_total|breaker_transitions_total|responder_fillers_total|edge_fillers_total|responder_hedges_(started|won)_total)' \
      > "$out/$label.metrics" || true
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do while kill -0 "$p" 2>/dev/null; do sleep 0.2; done; done
  echo "== $label: calls=$calls primary=[$primary] fallback=[$fallback] flags=[$flags] drill $status; load $load_before -> $load_after"
  cat "$out/$label.txt"
  cat "$out/$label.metrics"
done
