#!/usr/bin/env bash
# BENCHMARKS.md "Three brokers against the embedded one": the same gateway, the same machine, the same run, on the
# embedded broker and on `bin/callguard cluster --brokers 3` (every topic with three replicas, min.insync.replicas
# 2). The cluster runs for the whole script, rows alternate (embedded, cluster, embedded, cluster, ...) so both
# share the machine's state. Per row, a fresh gateway (bench/gateway.sh; on the cluster, topics and groups of its
# own, so no row reads another's state):
#   webhooks: bench-webhooks closed loop (64 in flight), WH_WARMUP (30000) unreported, then WH_COUNT (60000)
#   turns:    drill, CALLS (100) calls, one turn a second each, 30 s warm-up unreported, then 30 s measured
# Usage: bench/cluster.sh OUT_DIR [ROUNDS (default 2)]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="$1"; rounds="${2:-2}"
rm -rf "$out"; mkdir -p "$out"
"$root/bin/callguard" cluster --brokers 3 --data-dir "$out/cluster" > "$out/cluster.out" 2> "$out/cluster.err" &
cluster_pid=$!
trap 'kill "$cluster_pid" 2>/dev/null || true' EXIT
for _ in $(seq 900); do
  grep -q '^cluster ready:' "$out/cluster.out" 2>/dev/null && break
  kill -0 "$cluster_pid" 2>/dev/null || { echo "cluster exited; see $out/cluster.err" >&2; exit 1; }
  sleep 0.2
done
bootstrap=$(sed -nE 's/^cluster ready: bootstrap=([^ ]+) .*/\1/p' "$out/cluster.out")
[ -n "$bootstrap" ] || { echo "no cluster ready line" >&2; exit 1; }
echo "cluster: $bootstrap"
drill_jvm="${DRILL_JAVA_OPTS:--XX:+UseZGC -Xmx4g}"
for round in $(seq "$rounds"); do
  for target in embedded cluster; do
    label="$target-$round"
    flags=()
    if [ "$target" = cluster ]; then
      flags=(--bootstrap-servers "$bootstrap" --set topics.replication-factor=3 --set topics.min-insync-replicas=2
             --set "topics.prefix=bench-$round." --set "processor.application-id=bench-$round"
             --set "responder.group-id=bench-$round-responder")
    fi
    read -r url token pid admin < <("$root/bench/gateway.sh" "$out/$label" --retell-api-key benchkey \
        --set capacity.max-active-calls=5000 --set capacity.queue-size=1000 "${flags[@]}")
    "$root/bin/callguard" bench-webhooks --target "$url" --admin-url "$admin" --retell-api-key benchkey \
        --count "${WH_WARMUP:-30000}" --concurrency 32 --warmup 3000 > "$out/$label.webhooks-warmup.txt" 2>&1 || true
    sleep 5
    "$root/bin/callguard" bench-webhooks --target "$url" --admin-url "$admin" --retell-api-key benchkey \
        --count "${WH_COUNT:-60000}" --rate 0 --concurrency 64 --warmup 10000 > "$out/$label.webhooks.txt" 2>&1 || true
    sleep 5
    CALLGUARD_JAVA_OPTS="$drill_jvm" "$root/bin/callguard" drill --target "$url" --calls "${CALLS:-100}" \
        --warmup 30s --duration 30s --ramp-up 5s --turn-interval 1s --retell-api-key benchkey --socket-token "$token" \
        --admin-url "$admin" > "$out/$label.drill.txt" 2>/dev/null || true
    kill "$pid"; while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
    echo "== $label"
    grep -E 'webhooks/s|latency|p50' "$out/$label.webhooks.txt" | head -4 || true
    head -3 "$out/$label.drill.txt"
    grep -E 'silent|turns_sent|turns_answered|process cpu' "$out/$label.drill.txt" || true
  done
done
