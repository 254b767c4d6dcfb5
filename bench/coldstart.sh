#!/usr/bin/env bash
# Cold start (BENCHMARKS.md, "Cold start"): a FRESH gateway (new data dir, new JVM) in front of a local instant
# OpenAI-compatible server (bin/callguard sim-llm, no first-chunk wait), given CALLS calls at once the moment it
# prints its ready line, one turn a second each (the next question 1 s after the whole answer), for DURATION, with
# no warm-up of any kind on the drill's side (--warmup 0s): the first minute a new instance behind a load balancer
# would see.
#
# Per run: ready time (launch to the ready line), the gateway's CPU seconds until ready (its own warm-up) and during
# the drill, turns, first words over the gateway's 800 ms budget, silent turns (no first words within the drill's
# 1000 ms, or no complete), bridged turns (a filler was needed), first words p50/p99/max, whole answer p99, and the
# load average before and after. Then the median of each over RUNS runs.
#
# Usage: bench/coldstart.sh OUT_DIR [LABEL [gateway run flags...]]
#   e.g. bench/coldstart.sh /tmp/cold                       # the launcher's defaults
#        GATEWAY_JAVA_OPTS="-XX:+UseZGC -Xmx2g" CALLGUARD_CDS=off bench/coldstart.sh /tmp/cold nocds
#        bench/coldstart.sh /tmp/cold nowarm --set warmup.enabled=false
# Environment (defaults): RUNS (3), CALLS (300), DURATION (60s), RAMP_UP (1s), SIM_FLAGS (instant: no first-chunk
#   wait, 8 chunks, no gap), SIM_WARM_REQUESTS (3000: sim-llm is started once per invocation and warmed with that
#   many requests, so its own JIT is not measured as the gateway's), GATEWAY_JAVA_OPTS (the gateway's JVM options,
#   as CALLGUARD_JAVA_OPTS; default: the launcher's), JFR=1 (record the gateway with JFR's profile settings into
#   OUT_DIR/LABEL-N/gateway.jfr), DRILL_JAVA_OPTS (-XX:+UseZGC -Xmx4g), GATEWAY_ROOT (the gateway of another
#   checkout, built there first, measured by this checkout's drill: a paired before/after).
# Needs: curl, jq. Build first (mvn -B -q install -DskipTests): bin/callguard rebuilds a stale jar itself.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="$1"; shift
label="${1:-cold}"; [ $# -gt 0 ] && shift
runs="${RUNS:-3}"
calls="${CALLS:-300}"
duration="${DURATION:-60s}"
drill_jvm="${DRILL_JAVA_OPTS:--XX:+UseZGC -Xmx4g}"
sim_flags="${SIM_FLAGS:---first-chunk-median-ms 0 --first-chunk-p99-ms 0 --chunks 8 --chunk-gap-ms 0}"
for tool in curl jq; do command -v "$tool" >/dev/null || { echo "coldstart.sh needs $tool" >&2; exit 2; }; done
mkdir -p "$out"
clk_tck=$(getconf CLK_TCK)

# CPU seconds (user + system) a process has used so far, from /proc/PID/stat.
cpu_seconds() {
  awk -v t="$clk_tck" '{ sub(/^.*\) /, ""); printf "%.2f", ($12 + $13) / t }' "/proc/$1/stat"
}

# sim-llm once for every run: started, then warmed (its own fresh JVM is not what is measured).
# shellcheck disable=SC2086
"$root/bin/callguard" sim-llm --port 0 --seed 7 $sim_flags > "$out/sim-llm.log" 2>&1 &
sim_pid=$!
trap 'kill "$sim_pid" 2>/dev/null || true' EXIT
for _ in $(seq 300); do
  if line=$(grep -m1 '^sim-llm ready:' "$out/sim-llm.log" 2>/dev/null); then sim_url="${line#sim-llm ready: }"; break; fi
  kill -0 "$sim_pid" 2>/dev/null || { echo "sim-llm exited; see $out/sim-llm.log" >&2; exit 1; }
  sleep 0.2
done
[ -n "${sim_url:-}" ] || { echo "sim-llm not ready; see $out/sim-llm.log" >&2; exit 1; }
body='{"model":"m","stream":true,"messages":[{"role":"user","content":"warm up"}]}'
seq "${SIM_WARM_REQUESTS:-3000}" | xargs -P 8 -I{} curl -s -o /dev/null -H 'Content-Type: application/json' \
    -d "$body" "$sim_url" || true
sleep 3

results="$out/$label.results"
: > "$results"
for i in $(seq "$runs"); do
  dir="$out/$label-$i"
  jvm="${GATEWAY_JAVA_OPTS:-}"
  if [ "${JFR:-0}" = 1 ]; then
    jvm="${jvm:--XX:+UseZGC -Xmx2g} -XX:StartFlightRecording=filename=$dir/gateway.jfr,settings=profile,dumponexit=true"
  fi
  load_before=$(cut -d' ' -f1 /proc/loadavg)
  start=$(date +%s%N)
  # shellcheck disable=SC2086
  read -r url token pid admin < <(CALLGUARD_JAVA_OPTS="${jvm:-${CALLGUARD_JAVA_OPTS:-}}" \
      "$root/bench/gateway.sh" "$dir" --retell-api-key drillkey \
      --set capacity.max-active-calls=5000 --set capacity.queue-size=1000 --set agent.backend=openai \
      --set "agent.openai.url=$sim_url" --set cache.enabled=false "$@")
  ready_ms=$(( ($(date +%s%N) - start) / 1000000 ))
  cpu_ready=$(cpu_seconds "$pid")
  CALLGUARD_JAVA_OPTS="$drill_jvm" "$root/bin/callguard" drill --target "$url" --admin-url "$admin" --calls "$calls" --warmup 0s \
      --duration "$duration" --ramp-up "${RAMP_UP:-1s}" --turn-interval 1s --retell-api-key drillkey \
      --socket-token "$token" --json > "$dir/drill.json" 2> "$dir/drill-stderr.log" || true
  cpu_after=$(cpu_seconds "$pid")
  load_after=$(cut -d' ' -f1 /proc/loadavg)
  curl -s "${url}metrics" | grep -E '^callguard_(fallbacks_total|turn_over_budget_total|edge_fillers_total|responder_fillers_total|warmup_)' \
      > "$dir/metrics.txt" || true
  kill "$pid"; while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
  jq -r --arg run "$label-$i" --arg ready "$ready_ms" --arg cpur "$cpu_ready" --arg cpua "$cpu_after" \
      --arg lb "$load_before" --arg la "$load_after" '
    [$run, ($ready|tonumber/1000), ($cpur|tonumber), (($cpua|tonumber) - ($cpur|tonumber)),
     .heard.turns, .first_words_over_budget.turns, .heard.silent, .heard.bridged, .heard.closing_only,
     .first_words_latency_ms.p50, .first_words_latency_ms.p99, .first_words_latency_ms.max,
     .whole_answer_latency_ms.p99, (.gateway_process_cpu_cores // "nan"), (.drill_process_cpu_cores // "nan"),
     $lb, $la] | @tsv' "$dir/drill.json" >> "$results"
done

header="run	ready_s	cpu_to_ready_s	cpu_drill_s	turns	over_budget	silent	bridged	closing_only	fw_p50_ms	fw_p99_ms	fw_max_ms	whole_p99_ms	gw_cores	drill_cores	load_before	load_after"
{
  echo "$header"
  cat "$results"
  # The median of each numeric column over the runs.
  awk -F'\t' '{ for (c = 2; c <= NF; c++) v[c, NR] = $c } END {
    printf "median(%d)", NR
    for (c = 2; c <= 17; c++) {
      n = 0; for (r = 1; r <= NR; r++) a[++n] = v[c, r] + 0
      for (x = 1; x <= n; x++) for (y = x + 1; y <= n; y++) if (a[y] < a[x]) { t = a[x]; a[x] = a[y]; a[y] = t }
      printf "\t%s", (n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2)
    }
    printf "\n" }' "$results"
} | column -t -s$'\t' | tee "$out/$label.txt"
echo "gateway flags: [$*] JVM: [${GATEWAY_JAVA_OPTS:-launcher default}] sim-llm: [$sim_flags] calls=$calls duration=$duration"
