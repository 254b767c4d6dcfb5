#!/usr/bin/env bash
# Cost per turn (BENCHMARKS.md, "Cost per turn"): CPU seconds the gateway process (all roles and the embedded
# broker in one JVM) spends per 1,000 turns at a steady CALLS turns a second. Per run: a fresh gateway
# (bench/gateway.sh, script backend at zero delay, the launcher's JVM options), one drill process that warms up
# for WARMUP unreported and then measures DURATION; the gateway's CPU over the measured part comes from its own
# /metrics (process_cpu_time, read by the drill at the start and the end of the measured part), divided by the
# turns answered in it. Also /proc's CPU of the whole run, for a cross-check. JFR=1 records the gateway with
# JFR's profile settings (OUT_DIR/LABEL-N/gateway.jfr; bench/jfr-top.py prints where the CPU went).
# Usage: bench/cost-per-turn.sh OUT_DIR LABEL [gateway run flags...]
# Environment (defaults): RUNS (3), CALLS (500), WARMUP (60s), DURATION (30s), GATEWAY_JAVA_OPTS (launcher's),
#   DRILL_JAVA_OPTS (-XX:+UseZGC -Xmx6g). Needs jq. The gateway's own JIT warm-up is off here (the drill's warm-up
#   does that job, as in the earlier rows of BENCHMARKS.md), unless the flags turn it on. GATEWAY_ROOT: the gateway
#   of another checkout (built there first), measured by this checkout's drill.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="$1"; label="$2"; shift 2
runs="${RUNS:-3}"
drill_jvm="${DRILL_JAVA_OPTS:--XX:+UseZGC -Xmx6g}"
command -v jq >/dev/null || { echo "cost-per-turn.sh needs jq" >&2; exit 2; }
mkdir -p "$out"
no_warmup=()
grep -q WARMUP_ENABLED_CONFIG "${GATEWAY_ROOT:-$root}/app/src/main/java/io/callguard/app/config/AppConfig.java" \
    && no_warmup=(--set warmup.enabled=false)
clk_tck=$(getconf CLK_TCK)
results="$out/$label.results"
: > "$results"
for i in $(seq "$runs"); do
  dir="$out/$label-$i"
  jvm="${GATEWAY_JAVA_OPTS:-}"
  if [ "${JFR:-0}" = 1 ]; then
    jvm="${jvm:--XX:+UseZGC -Xmx2g} -XX:StartFlightRecording=filename=$dir/gateway.jfr,settings=profile,dumponexit=true"
  fi
  # shellcheck disable=SC2086
  read -r url token pid admin < <(CALLGUARD_JAVA_OPTS="${jvm:-${CALLGUARD_JAVA_OPTS:-}}" "$root/bench/gateway.sh" "$dir" \
      --retell-api-key drillkey --set capacity.max-active-calls=5000 --set capacity.queue-size=1000 \
      ${no_warmup[@]+"${no_warmup[@]}"} "$@")
  load_before=$(cut -d' ' -f1 /proc/loadavg)
  CALLGUARD_JAVA_OPTS="$drill_jvm" "$root/bin/callguard" drill --target "$url" --admin-url "$admin" --calls "${CALLS:-500}" \
      --warmup "${WARMUP:-60s}" --duration "${DURATION:-30s}" --ramp-up 5s --turn-interval 1s \
      --retell-api-key drillkey --socket-token "$token" --json > "$dir/drill.json" 2> "$dir/drill-stderr.log" || true
  load_after=$(cut -d' ' -f1 /proc/loadavg)
  proc_cpu=$(awk -v t="$clk_tck" '{ sub(/^.*\) /, ""); printf "%.1f", ($12 + $13) / t }' "/proc/$pid/stat")
  kill "$pid"; while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
  jq -r --arg run "$label-$i" --arg lb "$load_before" --arg la "$load_after" --arg proc "$proc_cpu" '
    (.gateway_process_cpu_cores * .seconds) as $cpu |
    [$run, .heard.turns, .seconds, $cpu, ($cpu / .heard.turns * 1000), .gateway_process_cpu_cores,
     .drill_process_cpu_cores, .first_words_latency_ms.p50, .first_words_latency_ms.p99, .heard.silent,
     ($proc|tonumber), $lb, $la] | @tsv' "$dir/drill.json" >> "$results"
done
{
  echo "run	turns	seconds	gw_cpu_s	cpu_s_per_1000_turns	gw_cores	drill_cores	fw_p50_ms	fw_p99_ms	silent	gw_cpu_whole_run_s	load_before	load_after"
  cat "$results"
  awk -F'\t' '{ for (c = 2; c <= NF; c++) v[c, NR] = $c } END {
    printf "median(%d)", NR
    for (c = 2; c <= 13; c++) {
      n = 0; for (r = 1; r <= NR; r++) a[++n] = v[c, r] + 0
      for (x = 1; x <= n; x++) for (y = x + 1; y <= n; y++) if (a[y] < a[x]) { t = a[x]; a[x] = a[y]; a[y] = t }
      printf "\t%s", (n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2)
    }
    printf "\n" }' "$results"
} | column -t -s$'\t' | tee "$out/$label.txt"
echo "gateway flags: [$*] JVM: [${GATEWAY_JAVA_OPTS:-launcher default}] calls=${CALLS:-500} warmup=${WARMUP:-60s} duration=${DURATION:-30s}"
