#!/usr/bin/env bash
# Where a warm gateway's CPU goes per turn (BENCHMARKS.md, "Cost per turn: where it goes, and the cut"): one gateway
# (bench/gateway.sh, script backend at zero delay), three drill passes of CALLS calls (a turn a second each, 20 s
# warm-up + 40 s measured each), so the JIT has mostly settled by the later ones; in passes 2 and 3, 35 s in, 15 s of
# its threads' CPU (bench/thread-cpu.py, user and kernel apart) and of the broker's requests and records
# (bench/BrokerRequests.java over JMX). Each pass's drill JSON (first words, whole answers, the gateway's cores) is in
# OUT_DIR/drillN.json.
# Usage: bench/warm-profile.sh OUT_DIR JMX_PORT [gateway run flags...]    Environment: CALLS (500), GATEWAY_ROOT.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="$1"; port="$2"; shift 2
read -r url token pid admin < <("$root/bench/gateway.sh" "$out" --retell-api-key drillkey \
    --set capacity.max-active-calls=5000 --set capacity.queue-size=1000 --set warmup.enabled=false "$@")
jcmd "$pid" ManagementAgent.start jmxremote.port="$port" jmxremote.authenticate=false jmxremote.ssl=false >/dev/null
for pass in 1 2 3; do
  CALLGUARD_JAVA_OPTS="-XX:+UseZGC -Xmx6g" "$root/bin/callguard" drill --target "$url" --admin-url "$admin" \
      --calls "${CALLS:-500}" --warmup 20s --duration 40s --ramp-up 5s --turn-interval 1s --retell-api-key drillkey \
      --socket-token "$token" --json > "$out/drill$pass.json" 2> "$out/drill$pass.err" &
  drill=$!
  sleep 35
  if [ "$pass" -ge 2 ]; then
    echo "== pass $pass"
    java "$root/bench/BrokerRequests.java" "$port" 15 > "$out/broker$pass.txt" &
    "$root/bench/thread-cpu.py" "$pid" 15
    wait $!
    sort -rn "$out/broker$pass.txt" | head -16
  fi
  wait "$drill" || true
  jq -c '{turns: .heard.turns, first_words_p50: .first_words_latency_ms.p50, first_words_p99: .first_words_latency_ms.p99,
          gateway_cores: .gateway_process_cpu_cores, silent: .heard.silent}' "$out/drill$pass.json"
done
kill "$pid"
