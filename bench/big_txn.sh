#!/usr/bin/env bash
# One big transaction (ROWS rows in a single INSERT, default 5,000,000) drained from logical
# replication slots, one path after another, each on its own slot created before the load:
#   cdc-pipeline run, protocol 2  pgoutput streaming the transaction while it is decoded, spilled
#                                 to unnamed files in the data dir, replayed at its commit ->
#                                 durable stream -> bus -> file target (the default)
#   cdc-pipeline run, protocol 1  source.stream_in_progress: false (the server spills the
#                                 transaction to pg_replslot/ and sends it at its commit)
#   pg_recvlogical wal2json       format-version 2 (one JSON object per change) -> file
# Prints per path the wall time, rows/s, the client's CPU seconds and peak RSS, the walsender's
# CPU seconds, and what the server spilled or streamed for the slot (pg_stat_replication_slots).
# Then the live case, for each protocol: `run` streams (caught up) while the same transaction
# is written; printed are the time the INSERT took and the time from its COMMIT until `run` has
# delivered and acknowledged all of it (the slot's confirmed_flush_lsn passes the commit).
# The server keeps the default logical_decoding_work_mem (64 MB).
# Usage: bench/big_txn.sh [ROWS]
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${1:-5000000}
bin="${CDC_BIN:-$(pwd)/build/bin/cdc-pipeline}"
[ -x "$bin" ] || { echo "build first: scripts/build" >&2; exit 1; }
command -v /usr/bin/time >/dev/null || { echo "needs GNU time (scripts/bootstrap installs it)" >&2; exit 1; }

work=$(mktemp -d /tmp/cdc-bench-XXXXXX)
chmod 755 "$work"
. scripts/lib/pg.sh
. bench/lib.sh
trap 'pg_stop; rm -rf "$work"' EXIT
PG_EXTRA_OPTS="-c max_wal_size=8GB -c shared_buffers=256MB" pg_start "$work/postgres"
bench_schema bench
pg_psql -d bench -v ON_ERROR_STOP=1 -Atc "
  SELECT 'slot' FROM pg_create_logical_replication_slot('cdc_v2', 'pgoutput');
  SELECT 'slot' FROM pg_create_logical_replication_slot('cdc_v1', 'pgoutput');
  SELECT 'slot' FROM pg_create_logical_replication_slot('bench_wal2json', 'wal2json');" >/dev/null
echo "inserting $rows rows in one transaction" >&2
pg_psql -d bench -v ON_ERROR_STOP=1 -c "
  INSERT INTO bench SELECT g, g % 1000, 'item-' || g, (g % 10000) / 100.0, now(), g % 2 = 0,
                           jsonb_build_object('k', g % 7, 'tag', 'x'), g * 0.5
    FROM generate_series(1, $rows) g" >/dev/null
endpos=$(pg_psql -d bench -Atc "SELECT pg_current_wal_insert_lsn()")
dsn="host=127.0.0.1 port=$PG_PORT dbname=bench user=postgres"
bench_nap_init

config() {  # slot data_dir stream_in_progress
  cat <<YAML
pipeline: {name: bench, data_dir: "$2", log_level: warn, shutdown_timeout_ms: 3600000}
admin: {listen: "127.0.0.1:0"}
source:
  type: postgres
  dsn: "$dsn"
  slot: $1
  publication: bench_pub
  snapshot: never
  stream_in_progress: $3
tables:
  bench: {event_types: [INSERT, UPDATE, DELETE]}
rules:
  all: {event_pattern: {source: [cdc.coredb]}, targets: [out]}
targets:
  out: {type: file, path: "$2/out.jsonl", fsync: batch}
YAML
}

slot_stats() {  # slot -> "spilled MiB / streamed MiB"
  pg_psql -d bench -Atc "SELECT round(spill_bytes / 1048576.0) || ' / ' || round(stream_bytes / 1048576.0)
                          FROM pg_stat_replication_slots WHERE slot_name = '$1'"
}

row() {  # name seconds timefile slot
  local cpu rss
  cpu=$(awk -F': ' '/User time/ {u=$2} /System time/ {s=$2} END {printf "%.1f (%.1f sys)", u+s, s}' "$3")
  rss=$(awk -F': ' '/Maximum resident/ {printf "%.0f", $2/1024}' "$3")
  printf '| %-30s | %7.1f | %9.0f | %16s | %7s | %11s | %22s |\n' "$1" "$2" \
    "$(echo "$rows / $2" | bc -l)" "$cpu" "$rss" "$(cat "$3.walsender")" "$(slot_stats "$4")"
}

table="$work/table"
: > "$table"
for v in 2 1; do
  stream=$([ "$v" = 2 ] && echo true || echo false)
  config "cdc_v$v" "$work/data-v$v" "$stream" > "$work/v$v.yaml"
  seconds=$(run_cdc "$work/v$v.yaml" "cdc_v$v" "$work/v$v.time")
  events=$(wc -l < "$work/data-v$v/out.jsonl")
  [ "$events" -eq "$rows" ] || { echo "protocol $v: wrote $events events, expected $rows" >&2; cat "$work/v$v.time.log" >&2; exit 1; }
  rm -rf "$work/data-v$v"
  sleep 2  # the walsender's statistics reach pg_stat_replication_slots
  row "cdc-pipeline, protocol $v" "$seconds" "$work/v$v.time" "cdc_v$v" >> "$table"
done

start=$(now)
/usr/bin/time -v -o "$work/w2j.time" pg_recvlogical -h 127.0.0.1 -p "$PG_PORT" -U postgres -d bench \
  --slot bench_wal2json --start --endpos "$endpos" --no-loop -o format-version=2 \
  -f "$work/wal2json.out" &
watch_walsender bench_wal2json $! "$work/w2j.time.walsender"
wait
w2j_seconds=$(echo "$(now) - $start" | bc -l)
rm -f "$work/wal2json.out"
sleep 2
row "pg_recvlogical wal2json file" "$w2j_seconds" "$work/w2j.time" bench_wal2json >> "$table"

# The live case: a fresh slot per protocol, made by `run` itself (snapshot: never).
pg_psql -d bench -Atc "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots" >/dev/null
live="$work/live"
: > "$live"
for v in 2 1; do
  stream=$([ "$v" = 2 ] && echo true || echo false)
  config "cdc_live_v$v" "$work/live-v$v" "$stream" > "$work/live-v$v.yaml"
  /usr/bin/time -v -o "$work/live-v$v.time" "$bin" run --config "$work/live-v$v.yaml" 2>"$work/live-v$v.log" &
  pid=$!
  until [ "$(pg_psql -d bench -Atc "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'cdc_live_v$v' AND active")" = 1 ]; do
    nap 0.1
  done
  base=$((rows * (v + 1)))
  start=$(now)
  pg_psql -d bench -v ON_ERROR_STOP=1 -c "
    INSERT INTO bench SELECT g, g % 1000, 'item-' || g, (g % 10000) / 100.0, now(), g % 2 = 0,
                             jsonb_build_object('k', g % 7, 'tag', 'x'), g * 0.5
      FROM generate_series($base + 1, $base + $rows) g" >/dev/null
  committed=$(now)
  lsn=$(pg_psql -d bench -Atc "SELECT pg_current_wal_insert_lsn()")
  pg_psql -d bench -c "DO \$\$ BEGIN
      WHILE NOT coalesce((SELECT confirmed_flush_lsn >= '$lsn' FROM pg_replication_slots
                          WHERE slot_name = 'cdc_live_v$v'), false) LOOP
        PERFORM pg_sleep(0.02);
      END LOOP;
    END \$\$;" >/dev/null
  done_at=$(now)
  kill -TERM "$(pgrep -P "$pid" cdc-pipeline || echo "$pid")"  # run, not /usr/bin/time
  wait "$pid" || true
  events=$(wc -l < "$work/live-v$v/out.jsonl")
  [ "$events" -eq "$rows" ] || { echo "live, protocol $v: wrote $events events, expected $rows" >&2; exit 1; }
  rm -rf "$work/live-v$v"
  printf '| protocol %s | %8.1f | %19.1f | %7s |\n' "$v" "$(echo "$committed - $start" | bc -l)" \
    "$(echo "$done_at - $committed" | bc -l)" \
    "$(awk -F': ' '/Maximum resident/ {printf "%.0f", $2/1024}' "$work/live-v$v.time")" >> "$live"
done

echo
echo "one transaction of $rows rows, drained by each path from its own slot"
echo "| path                           |  wall s |    rows/s |            CPU s | RSS MiB | walsender s | spilled / streamed MiB |"
echo "|--------------------------------|---------|-----------|------------------|---------|-------------|------------------------|"
cat "$table"
echo
echo "live: run streams while the transaction of $rows rows is written"
echo "| path       | INSERT s | COMMIT to all acked s | RSS MiB |"
echo "|------------|----------|---------------------|---------|"
cat "$live"
