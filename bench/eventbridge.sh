#!/usr/bin/env bash
# The eventbridge target and the bus's EventBridge API, in one run: ROWS rows (10-row
# transactions) are drained from PostgreSQL by two paths one after the other:
#   in process        cdc-pipeline run -> rule -> file target (the events matched in process)
#   through PutEvents cdc-pipeline run -> eventbridge target -> PutEvents -> a second
#                     cdc-pipeline run serving its bus API (api.listen) -> rule -> file target
# Prints events/s (from the sender's start to the last write of the file) and the CPU
# seconds per 1,000 events of each process: the sender's extra CPU is what the target costs,
# the receiver's is what the API costs to take events in (parse, durable stream, matching,
# delivery), against the in-process path's whole pipeline.
# Usage: bench/eventbridge.sh [ROWS] [ROUNDS]   (defaults 200000 and 3)
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${1:-200000}
rounds=${2:-3}
bin="${CDC_BIN:-$(pwd)/build/bin/cdc-pipeline}"
[ -x "$bin" ] || { echo "build first: scripts/build" >&2; exit 1; }
command -v /usr/bin/time >/dev/null || { echo "needs GNU time (scripts/bootstrap installs it)" >&2; exit 1; }

work=$(mktemp -d /tmp/cdc-bench-XXXXXX)
chmod 755 "$work"
. scripts/lib/pg.sh
. bench/lib.sh
trap 'pkill -f "$work/" 2>/dev/null || true; pg_stop; rm -rf "$work"' EXIT
PG_EXTRA_OPTS="-c max_wal_size=4GB -c max_replication_slots=$((3 * rounds + 4)) -c max_wal_senders=$((3 * rounds + 4))" \
  pg_start "$work/postgres"
bench_schema bench
bench_schema sink
for r in $(seq 1 "$rounds"); do
  pg_psql -d bench -Atc "SELECT 'slot' FROM pg_create_logical_replication_slot('inproc_$r', 'pgoutput');
    SELECT 'slot' FROM pg_create_logical_replication_slot('sender_$r', 'pgoutput');" >/dev/null
done
bench_load bench "$rows"

config() {  # name dbname slot target-yaml extra-yaml
  cat <<YAML
pipeline: {name: $1, data_dir: "$work/$1", log_level: warn, shutdown_timeout_ms: 3600000}
admin: {listen: "127.0.0.1:0"}
source:
  type: postgres
  dsn: "host=127.0.0.1 port=$PG_PORT dbname=$2 user=postgres"
  slot: $3
  publication: bench_pub
  snapshot: never
tables:
  bench: {event_types: [INSERT, UPDATE, DELETE]}
rules:
  all: {event_pattern: {source: [cdc.coredb]}, targets: [out]}
targets:
  out: $4
$5
YAML
}

now() { date +%s.%N; }
cpu() { awk -F': ' '/User time/ {u=$2} /System time/ {s=$2} END {printf "%.2f", u+s}' "$1"; }
# Waits until `file` has `rows` lines (checked once a second: counting costs CPU), then prints
# the time of its last write.
wait_lines() {
  while [ "$(wc -l 2>/dev/null < "$1" || echo 0)" -lt "$rows" ]; do sleep 1; done
  date -r "$1" +%s.%N
}
stop() { kill -TERM "$(pgrep -P "$1" cdc-pipeline || echo "$1")" 2>/dev/null || true; wait "$1" || true; }

echo "| round | path | events/s | sender CPU s / 1k events | receiver CPU s / 1k events |"
echo "|---|---|---|---|---|"
for r in $(seq 1 "$rounds"); do
  echo "round $r of $rounds" >&2
  # In process.
  name=inproc-$r
  config "$name" bench "inproc_$r" "{type: file, path: \"$work/$name/out.jsonl\", fsync: batch}" "" \
    > "$work/$name.yaml"
  mkdir -p "$work/$name"
  start=$(now)
  /usr/bin/time -v -o "$work/$name.time" "$bin" run --config "$work/$name.yaml" --adopt-slot \
    2> "$work/$name.log" &
  pid=$!
  inproc_s=$(echo "$(wait_lines "$work/$name/out.jsonl") - $start" | bc -l)
  stop "$pid"
  printf '| %d | in process (file target) | %.0f | %.3f | |\n' "$r" "$(echo "$rows / $inproc_s" | bc -l)" \
    "$(echo "$(cpu "$work/$name.time") * 1000 / $rows" | bc -l)"

  # Through PutEvents: the receiver on the empty database, then the sender.
  recv=receiver-$r
  config "$recv" sink "receiver_$r" "{type: file, path: \"$work/$recv/out.jsonl\", fsync: batch}" \
    "api: {listen: \"127.0.0.1:0\", access_key_id: bench, secret_access_key: bench-secret}" \
    > "$work/$recv.yaml"
  mkdir -p "$work/$recv"
  /usr/bin/time -v -o "$work/$recv.time" "$bin" run --config "$work/$recv.yaml" 2> "$work/$recv.log" &
  rpid=$!
  while [ ! -s "$work/$recv/api.addr" ]; do sleep 0.1; done
  sleep 1  # the stream opens right after the API listens
  send=sender-$r
  config "$send" bench "sender_$r" \
    "{type: eventbridge, endpoint: \"http://$(cat "$work/$recv/api.addr")\", region: local, retry: {max_attempts: 1000}}" \
    "" > "$work/$send.yaml"
  mkdir -p "$work/$send"
  start=$(now)
  AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench-secret AWS_EC2_METADATA_DISABLED=true \
    /usr/bin/time -v -o "$work/$send.time" "$bin" run --config "$work/$send.yaml" --adopt-slot \
    2> "$work/$send.log" &
  spid=$!
  put_s=$(echo "$(wait_lines "$work/$recv/out.jsonl") - $start" | bc -l)
  stop "$spid"
  stop "$rpid"
  printf '| %d | through PutEvents (eventbridge target -> bus API) | %.0f | %.3f | %.3f |\n' "$r" \
    "$(echo "$rows / $put_s" | bc -l)" "$(echo "$(cpu "$work/$send.time") * 1000 / $rows" | bc -l)" \
    "$(echo "$(cpu "$work/$recv.time") * 1000 / $rows" | bc -l)"
  rm -rf "$work/$name" "$work/$recv" "$work/$send"
done
