#!/usr/bin/env bash
# The heap of a running gateway (bin/callguard run, ZGC -Xmx2g as shipped) under N trickling connections: used heap
# after a full GC before, and with every trickler open, then how long the deadlines take to cut them.
# Usage: bench/abuse.sh DIR N [body|headers] [run flags...]
#   e.g. bench/abuse.sh /tmp/abuse 4000 body --set webhook.body-rate-grace-ms=30000 --set http.header-timeout-ms=30000
#   (long deadlines hold every trickler at once, for the measurement; the defaults cut each ~2 s after its headers)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dir="$1"; n="$2"; mode="${3:-body}"; shift 3 || shift $#
read -r url _token pid < <("$root/bench/gateway.sh" "$dir" --retell-api-key bench-abuse-key "$@")
trap 'kill "$pid" 2>/dev/null || true' EXIT
jvm=$(pgrep -P "$pid" java || echo "$pid")
used() { jcmd "$jvm" GC.run >/dev/null; jcmd "$jvm" GC.heap_info | grep -oE 'used [0-9]+M' | head -1 | grep -oE '[0-9]+'; }
before=$(used)
java "$root/bench/Trickle.java" "$url" "$n" "$mode" > "$dir/trickle.log" &
tpid=$!
until grep -q '^OPEN' "$dir/trickle.log" 2>/dev/null; do sleep 0.2; done
held=$(used)
wait "$tpid"
echo "tricklers: $n $mode; $(grep '^OPEN' "$dir/trickle.log" | awk '{print "opened in " $3 " ms"}'); $(grep '^CUT' "$dir/trickle.log" | awk '{print $2 " cut by the server within " $3 " ms of the last opening"}')"
echo "used heap after GC: ${before} MB before, ${held} MB with them open: +$((held - before)) MB"
