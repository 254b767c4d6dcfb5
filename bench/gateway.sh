#!/usr/bin/env bash
# Starts `bin/callguard run` in the background on a fresh data dir, both listeners on free ports, and waits for
# its ready line.
# Usage: bench/gateway.sh DIR [run flags...]   -> prints "URL TOKEN PID ADMIN_URL"; stop it with: kill PID
# URL is the public listener (webhook, sockets); ADMIN_URL the admin one (metrics, dashboard), with no admin token.
# GATEWAY_ROOT runs the launcher of another checkout (an older commit, for a paired before/after).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dir="$1"; shift
rm -rf "$dir"; mkdir -p "$dir"
launcher="${GATEWAY_ROOT:-$root}/bin/callguard"
# A gateway older than the admin listener (issue 15) serves /metrics on its public one: no --admin-port for it.
admin_flags=(--admin-port 0)
grep -q 'ADMIN_PORT' "${GATEWAY_ROOT:-$root}/ingress/src/main/java/io/callguard/ingress/IngressConfig.java" 2>/dev/null \
    || admin_flags=()
"$launcher" run --data-dir "$dir/data" --http-port 0 ${admin_flags[@]+"${admin_flags[@]}"} --set broker.port=0 "$@" \
  > "$dir/stdout.log" 2> "$dir/stderr.log" &
pid=$!
for _ in $(seq 600); do
  if line=$(grep -m1 '^callguard ready:' "$dir/stdout.log" 2>/dev/null); then
    url=$(sed -E 's/^callguard ready: (http:[^ ]+) .*/\1/' <<<"$line")
    token=$(sed -E 's/.*\?token=([^ ]+).*/\1/' <<<"$line")
    admin=$(sed -nE 's/.* admin=([^ ]+).*/\1/p' <<<"$line")
    admin="${admin:-$url}"
    echo "$url $token $pid $admin"
    exit 0
  fi
  kill -0 "$pid" 2>/dev/null || { echo "gateway exited; see $dir/stderr.log" >&2; exit 1; }
  sleep 0.2
done
echo "no ready line within 120 s; see $dir/stderr.log" >&2
kill "$pid"; exit 1
