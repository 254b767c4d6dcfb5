#!/usr/bin/env bash
# Records the class-data archive the image's JVM maps, as bin/callguard does for `run` on a developer machine
# (README, "Cold start"; Java 17: an AppCDS dynamic archive): a training run of `run` with -XX:ArchiveClassesAtExit,
# on a scratch data dir with an embedded broker, every role and the JIT warm-up (which plays synthetic calls through
# Jetty, Kafka, Kafka Streams, RocksDB, the responder and the egress, so their classes are loaded), stopped with
# SIGTERM as `docker stop` stops the container once it printed its ready line; the JVM writes the archive as it exits.
#
#   deploy/cds-archive.sh ARCHIVE JAVA [JVM OPTION...] -jar JAR
#
# The JVM options must be the ones of the runs that map the archive (-XX:SharedArchiveFile=ARCHIVE), and the jar and
# its lib/ the same files: otherwise the JVM ignores the archive (it starts, without it). CDS_TRAINING_TIMEOUT
# (seconds, default 600) bounds the wait for the ready line. Exits non-zero, saying why, when no archive was written.
set -euo pipefail

if [ "$#" -lt 4 ]; then
  echo "usage: $0 ARCHIVE JAVA [JVM OPTION...] -jar JAR" >&2
  exit 2
fi
archive="$1"
java="$2"
shift 2
timeout="${CDS_TRAINING_TIMEOUT:-600}"
scratch="$(mktemp -d)"
pid=""
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
  rm -rf "$scratch"
}
trap cleanup EXIT

# The JVM options, without -jar JAR.
options=()
for arg in "$@"; do
  [ "$arg" = -jar ] && break
  options+=("$arg")
done
# A dynamic archive sits on the JDK's own base archive of the same mode (ZGC: no compressed oops); a runtime image
# made without that one gets it dumped here (the JDK's default archive path, writable at image build).
if ! "$java" ${options[@]+"${options[@]}"} -Xshare:on -version > /dev/null 2>&1; then
  echo "cds-archive: the JDK has no base archive for these options; dumping it (-Xshare:dump)" >&2
  "$java" ${options[@]+"${options[@]}"} -Xshare:dump > /dev/null
fi

mkdir -p "$(dirname "$archive")"
rm -f "$archive"
# Loopback only, ports chosen by the kernel, no Retell key (unsigned webhooks are never sent: nothing but the warm-up
# talks to it), a node id of its own: nothing of it outlives the scratch dir.
"$java" -XX:ArchiveClassesAtExit="$archive" "$@" run --data-dir "$scratch/data" --insecure-skip-signature \
  --set http.host=127.0.0.1 --set http.port=0 --set admin.port=0 --set broker.port=0 --set node.id=cds-training \
  > "$scratch/stdout" 2> "$scratch/stderr" &
pid=$!

waited=0
until grep -q '^callguard ready:' "$scratch/stdout" 2>/dev/null; do
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "cds-archive: the training run exited before it was ready; its stderr:" >&2
    tail -n 40 "$scratch/stderr" >&2
    exit 1
  fi
  if [ "$waited" -ge "$timeout" ]; then
    echo "cds-archive: the training run was not ready within ${timeout}s; its stderr:" >&2
    tail -n 40 "$scratch/stderr" >&2
    exit 1
  fi
  sleep 1
  waited=$((waited + 1))
done

# SIGTERM: the drain (no calls), the stop, then the JVM's exit, which writes the archive.
kill -TERM "$pid"
status=0
wait "$pid" || status=$?
pid=""
if [ ! -s "$archive" ]; then
  echo "cds-archive: no archive written to $archive (the training run exited with $status); its stderr:" >&2
  tail -n 40 "$scratch/stderr" >&2
  exit 1
fi
echo "cds-archive: $archive written ($(wc -c < "$archive") bytes) after a training run ready in ${waited}s" >&2
