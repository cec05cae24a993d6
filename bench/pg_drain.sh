#!/usr/bin/env bash
# Drains a backlog of ROWS rows (10-row transactions, 8 mixed columns) from logical replication
# slots, side by side in one run:
#   cdc-pipeline run         pgoutput -> typed events -> durable stream -> bus -> file target
#   cdc-pipeline run, stream.enabled: false (the same without the stream: the cost of durability)
#   pg_recvlogical wal2json  format-version 2 -> file
#   pg_recvlogical pgoutput  -> /dev/null (the protocol alone, no decoding)
# Prints rows/s, the client's CPU seconds (user + system), the CPU seconds of the walsender that
# decoded the slot (PostgreSQL's side of the same path) and peak RSS for each.
# Usage: bench/pg_drain.sh [ROWS]
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${1:-1000000}
bin="$(pwd)/build/bin/cdc-pipeline"
[ -x "$bin" ] || { echo "build first: scripts/build" >&2; exit 1; }
command -v /usr/bin/time >/dev/null || { echo "needs GNU time (scripts/bootstrap installs it)" >&2; exit 1; }

work=$(mktemp -d /tmp/cdc-bench-XXXXXX)
chmod 755 "$work"
. scripts/lib/pg.sh
trap 'pg_stop; rm -rf "$work"' EXIT
PG_EXTRA_OPTS="-c max_wal_size=4GB -c shared_buffers=256MB" pg_start "$work/postgres"
pg_psql -d postgres -c "CREATE DATABASE bench"
pg_psql -d bench -v ON_ERROR_STOP=1 <<'SQL'
CREATE TABLE bench (id bigint PRIMARY KEY, qty integer, name text, price numeric(12,2),
                    at timestamptz, active boolean, attrs jsonb, score double precision);
CREATE PUBLICATION bench_pub FOR TABLE bench;
SELECT 'slot' FROM pg_create_logical_replication_slot('cdc_pipeline', 'pgoutput');
SELECT 'slot' FROM pg_create_logical_replication_slot('cdc_nostream', 'pgoutput');
SELECT 'slot' FROM pg_create_logical_replication_slot('bench_wal2json', 'wal2json');
SELECT 'slot' FROM pg_create_logical_replication_slot('bench_pgoutput', 'pgoutput');
SQL
echo "loading $rows rows in 10-row transactions"
pg_psql -d bench -v ON_ERROR_STOP=1 -c "
DO \$\$ BEGIN
  FOR i IN 0..($rows / 10 - 1) LOOP
    INSERT INTO bench SELECT g, g % 1000, 'item-' || g, (g % 10000) / 100.0, now(), g % 2 = 0,
                             jsonb_build_object('k', g % 7, 'tag', 'x'), g * 0.5
      FROM generate_series(i * 10 + 1, i * 10 + 10) g;
    COMMIT;
  END LOOP;
END \$\$;"
endpos=$(pg_psql -d bench -Atc "SELECT pg_current_wal_insert_lsn()")
dsn="host=127.0.0.1 port=$PG_PORT dbname=bench user=postgres"

cat > "$work/bench.yaml" <<YAML
pipeline: {name: bench, data_dir: "$work/data", log_level: warn, shutdown_timeout_ms: 3600000}
source:
  type: postgres
  dsn: "$dsn"
  slot: cdc_pipeline
  publication: bench_pub
  snapshot: never
tables:
  bench: {event_types: [INSERT, UPDATE, DELETE]}
rules:
  all: {event_pattern: {source: [cdc.coredb]}, targets: [out]}
targets:
  out: {type: file, path: "$work/data/out.jsonl", fsync: batch}
YAML

report() {  # name rows seconds timefile walsender-cpu-file
  local cpu rss
  cpu=$(awk -F': ' '/User time/ {u=$2} /System time/ {s=$2} END {printf "%.2f", u+s}' "$4")
  rss=$(awk -F': ' '/Maximum resident/ {printf "%.0f", $2/1024}' "$4")
  printf '| %-28s | %10.0f | %8.2f | %8s | %11s | %8s |\n' "$1" "$(echo "$2 / $3" | bc -l)" "$3" \
    "$cpu" "$(cat "$5")" "$rss"
}

now() { date +%s.%N; }

# The CPU seconds (user + system) of the walsender serving `slot`, as last seen in /proc while
# it ran: sampled until `pid` (the client) exits, written to `file`.
watch_walsender() {  # slot pid file
  local wpid="" ticks=0 v
  while kill -0 "$2" 2>/dev/null; do
    [ -n "$wpid" ] || wpid=$(pg_psql -d bench -Atc "SELECT active_pid FROM pg_replication_slots WHERE slot_name = '$1'")
    if [ -n "$wpid" ]; then
      v=$(awk '{print $14 + $15}' "/proc/$wpid/stat" 2>/dev/null) && [ -n "$v" ] && ticks=$v
    fi
    sleep 0.05
  done
  printf '%.2f' "$(echo "$ticks / $(getconf CLK_TCK)" | bc -l)" > "$3"
}

# cdc-pipeline: run until the slot has confirmed everything up to endpos, then SIGTERM: it exits
# once everything in the stream is delivered, so the time covers delivery to the file.
run_cdc() {  # config slot timefile outfile -> seconds
  local start pid
  start=$(now)
  /usr/bin/time -v -o "$3" "$bin" run --config "$1" 2>"$3.log" &
  pid=$!
  watch_walsender "$2" "$pid" "$3.walsender" >/dev/null &
  until [ "$(pg_psql -d bench -Atc "SELECT confirmed_flush_lsn >= '$endpos' FROM pg_replication_slots WHERE slot_name = '$2'")" = "t" ]; do
    sleep 0.05
  done
  kill -TERM "$(pgrep -P "$pid" cdc-pipeline || echo "$pid")" 2>/dev/null || true
  wait "$pid" || true
  echo "$(now) - $start" | bc -l
  wait
}
cdc_seconds=$(run_cdc "$work/bench.yaml" cdc_pipeline "$work/cdc.time")
events=$(wc -l < "$work/data/out.jsonl")
sed -e 's/slot: cdc_pipeline/slot: cdc_nostream/' -e "s|$work/data|$work/data-nostream|g" \
  "$work/bench.yaml" > "$work/nostream.yaml"
echo "stream: {enabled: false}" >> "$work/nostream.yaml"
nostream_seconds=$(run_cdc "$work/nostream.yaml" cdc_nostream "$work/nostream.time")
nostream_events=$(wc -l < "$work/data-nostream/out.jsonl")

start=$(now)
/usr/bin/time -v -o "$work/w2j.time" pg_recvlogical -h 127.0.0.1 -p "$PG_PORT" -U postgres -d bench \
  --slot bench_wal2json --start --endpos "$endpos" --no-loop -o format-version=2 -f "$work/wal2json.out" &
watch_walsender bench_wal2json $! "$work/w2j.time.walsender"
wait
w2j_seconds=$(echo "$(now) - $start" | bc -l)

start=$(now)
/usr/bin/time -v -o "$work/pgo.time" pg_recvlogical -h 127.0.0.1 -p "$PG_PORT" -U postgres -d bench \
  --slot bench_pgoutput --start --endpos "$endpos" --no-loop -o proto_version=1 \
  -o publication_names=bench_pub -f /dev/null &
watch_walsender bench_pgoutput $! "$work/pgo.time.walsender"
wait
pgo_seconds=$(echo "$(now) - $start" | bc -l)

echo
echo "drained $rows rows ($events events written by cdc-pipeline, $nostream_events without the stream)"
echo "| path                         |     rows/s |   wall s |    CPU s | walsender s | RSS MiB |"
echo "|------------------------------|------------|----------|----------|-------------|---------|"
report "cdc-pipeline -> file" "$rows" "$cdc_seconds" "$work/cdc.time" "$work/cdc.time.walsender"
report "cdc-pipeline, no stream" "$rows" "$nostream_seconds" "$work/nostream.time" \
  "$work/nostream.time.walsender"
report "pg_recvlogical wal2json file" "$rows" "$w2j_seconds" "$work/w2j.time" \
  "$work/w2j.time.walsender"
report "pg_recvlogical pgoutput null" "$rows" "$pgo_seconds" "$work/pgo.time" \
  "$work/pgo.time.walsender"
printf 'ratios: cdc-pipeline / wal2json = %.2f, cdc-pipeline / pgoutput = %.2f, with / without the stream = %.2f\n' \
  "$(echo "$w2j_seconds / $cdc_seconds" | bc -l)" "$(echo "$pgo_seconds / $cdc_seconds" | bc -l)" \
  "$(echo "$nostream_seconds / $cdc_seconds" | bc -l)"
