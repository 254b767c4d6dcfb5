#!/usr/bin/env bash
# The upstream rows of BENCHMARKS.md: a team's custom-LLM WebSocket server (the Node `ws` server of the tests,
# processor/src/test/node/upstream-server.js, written against Retell's protocol) reached directly by the drill,
# and the same server behind callguard (agent.backend=retell-socket), same load, same run; then the upstream
# killed mid-call and started again.
# Usage: bench/upstream.sh OUT_DIR CALLS
#   env: WARMUP (default 20s) and DURATION (default 30s) of the two drills of each proxy row; KILL_AT (default
#   20) and DOWN_FOR (default 5) seconds into the 60 s outage drill; GATEWAY_FLAGS: more `run` flags for the gateway,
#   e.g. GATEWAY_FLAGS="--set agent.fallback.backend=script" for the outage with a fallback backend.
# Each proxy row: a fresh upstream (and gateway), a warm-up drill (unreported), then the measured drill, with the
# CPU seconds (utime+stime from /proc) of the upstream and the gateway over the measured drill.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="$1"; calls="${2:-100}"
server="$root/processor/src/test/node/upstream-server.js"
[ -d "$root/processor/src/test/node/node_modules" ] || (cd "$root/processor/src/test/node" && npm ci --no-audit --no-fund)
drill_jvm="${DRILL_JAVA_OPTS:--XX:+UseZGC -Xmx4g}"
mkdir -p "$out"

cpu_seconds() {  # utime+stime of a process and its threads, in seconds
  awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' "/proc/$1/stat"
}

# Starts the upstream on port $1 (0: any); prints "PORT PID".
upstream() {
  local log="$out/upstream-$RANDOM.log"
  node "$server" "$1" --no-hang > "$log" 2>&1 &
  local pid=$!
  for _ in $(seq 100); do
    if line=$(grep -m1 '"listening"' "$log" 2>/dev/null); then
      echo "$(sed -E 's/.*"port":([0-9]+).*/\1/' <<<"$line") $pid"; return 0
    fi
    sleep 0.1
  done
  echo "upstream not ready; see $log" >&2; return 1
}

drill() {  # label socket-url [drill flags...]
  local label="$1" url="$2"; shift 2
  CALLGUARD_JAVA_OPTS="$drill_jvm" "$root/bin/callguard" drill --webhooks false --socket-url "$url" \
      --calls "$calls" --turn-interval 1s --ramp-up 5s "$@" > "$out/$label.txt" 2> "$out/$label.stderr.log" \
      && echo passed || echo "failed (exit $?)"
}

row() {  # label socket-url pids-to-measure...
  local label="$1" url="$2"; shift 2
  drill "$label-warmup" "$url" --duration "${WARMUP:-20s}" > /dev/null
  local before=() i=0
  for p in "$@"; do before+=("$(cpu_seconds "$p")"); done
  status=$(drill "$label" "$url" --duration "${DURATION:-30s}")
  local cpu=""
  for p in "$@"; do cpu+=" $(awk -v a="${before[$i]}" -v b="$(cpu_seconds "$p")" 'BEGIN{printf "%.1f", b-a}')"; i=$((i+1)); done
  echo "== $label: calls=$calls drill $status; cpu seconds over the measured drill (per process):$cpu"
  cat "$out/$label.txt"
}

# 1. Direct: the drill plays Retell against the upstream itself.
read -r port upid < <(upstream 0)
row direct "ws://127.0.0.1:$port/llm-websocket/{call_id}" "$upid"
kill "$upid"; wait "$upid" 2>/dev/null || true

# 2. Through callguard: the same upstream behind the gateway (all roles, embedded broker).
read -r port upid < <(upstream 0)
read -r url token gpid admin < <("$root/bench/gateway.sh" "$out/gateway" --retell-api-key drillkey \
    --set capacity.max-active-calls=5000 --set capacity.queue-size=1000 --set agent.backend=retell-socket \
    --set "agent.upstream.url-template=ws://127.0.0.1:$port/llm-websocket/{call_id}" --set cache.enabled=false \
    ${GATEWAY_FLAGS:-})
ws="${url/http/ws}llm-websocket/{call_id}?token=$token"
row through-callguard "$ws" "$upid" "$gpid"

# 3. The upstream killed mid-call (kill -9) and started again on the same port, under the same gateway.
(sleep "${KILL_AT:-20}"; kill -9 "$upid"; echo "upstream killed at $(date +%T)" >> "$out/outage.events"
 sleep "${DOWN_FOR:-5}"; node "$server" "$port" --no-hang > "$out/upstream-restarted.log" 2>&1 &
 echo "upstream restarted at $(date +%T) pid $!" >> "$out/outage.events") &
status=$(drill outage "$ws" --duration 60s --min-whole-answers 0)
echo "== outage: calls=$calls, upstream kill -9 at ${KILL_AT:-20}s, down ${DOWN_FOR:-5}s; drill $status"
cat "$out/outage.events"; cat "$out/outage.txt"
curl -s "${admin}metrics" | grep -E '^callguard_(fallbacks_total|breaker_transitions_total|responder_fillers_total|edge_fillers_total|responder_turns_total)' \
    > "$out/outage.metrics" || true
cat "$out/outage.metrics"
kill "$gpid" 2>/dev/null || true
pkill -f "upstream-server.js $port" 2>/dev/null || true
